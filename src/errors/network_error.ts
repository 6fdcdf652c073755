import { guardFor, IdemtrackError } from "./idemtrack_error.ts";
import { errorMessage } from "../_util/error_message.ts";

/** The request never got an HTTP answer (refused, reset, DNS, TLS…); see `cause`. */
export class NetworkError extends IdemtrackError {
  /** The batch's id (its request idempotency key). */
  readonly batchId: string;

  /** Creates the error for batch `batchId` whose request failed with `cause`. */
  constructor(batchId: string, cause: unknown) {
    const detail = errorMessage(cause);
    super(`Request for batch ${batchId} failed before an answer: ${detail}`, { cause });
    this.name = "NetworkError";
    this.batchId = batchId;
  }
}

/** Name-based guard for {@linkcode NetworkError}. */
export const isNetworkError: (error: unknown) => error is NetworkError = guardFor(
  "NetworkError",
  NetworkError,
);
