import { guardFor, IdemtrackError } from "./idemtrack_error.ts";

/** The collector answered a batch with a status that is not a success. */
export class HttpError extends IdemtrackError {
  /** HTTP status code. */
  readonly status: number;
  /** The batch's id, which is also its request idempotency key. */
  readonly batchId: string;
  /** The server's reason (from its error body), truncated to 500 characters. */
  readonly reason: string;

  /** Creates the error for batch `batchId` answered with `status`; `reason` is kept up to 500 characters. */
  constructor(status: number, batchId: string, reason: string) {
    const short = reason.length > 500 ? `${reason.slice(0, 500)}…` : reason;
    super(`Request for batch ${batchId} failed with HTTP ${status}${short ? `: ${short}` : ""}`);
    this.name = "HttpError";
    this.status = status;
    this.batchId = batchId;
    this.reason = short;
  }
}

/** Name-based guard for {@linkcode HttpError}. */
export const isHttpError: (error: unknown) => error is HttpError = guardFor(
  "HttpError",
  HttpError,
);
