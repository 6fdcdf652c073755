import { guardFor, IdemtrackError } from "./idemtrack_error.ts";

/** A request did not complete within `timeoutMs`. */
export class TimeoutError extends IdemtrackError {
  /** The batch's id (its request idempotency key). */
  readonly batchId: string;
  /** The timeout that elapsed, in milliseconds. */
  readonly timeoutMs: number;

  /** Creates the error for batch `batchId` whose request took longer than `timeoutMs`. */
  constructor(batchId: string, timeoutMs: number) {
    super(`Request for batch ${batchId} timed out after ${timeoutMs} ms`);
    this.name = "TimeoutError";
    this.batchId = batchId;
    this.timeoutMs = timeoutMs;
  }
}

/** Name-based guard for {@linkcode TimeoutError}. */
export const isTimeoutError: (error: unknown) => error is TimeoutError = guardFor(
  "TimeoutError",
  TimeoutError,
);
