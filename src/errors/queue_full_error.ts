import { guardFor, IdemtrackError } from "./idemtrack_error.ts";

/** `track()` was refused because the queue is at `maxQueueSize` (overflow policy `reject`). */
export class QueueFullError extends IdemtrackError {
  /** The bound that was reached: `"events"` or `"bytes"`. */
  readonly bound: "events" | "bytes";
  /** The configured limit. */
  readonly limit: number;

  /** Creates the error for the queue `bound` (events or bytes) reached at `limit`. */
  constructor(bound: "events" | "bytes", limit: number) {
    const option = bound === "events" ? "maxQueueSize" : "maxQueueBytes";
    super(
      `Cannot queue event as the queue is full: '${option}' is ${limit}; flush, raise the limit or choose another overflow policy`,
    );
    this.name = "QueueFullError";
    this.bound = bound;
    this.limit = limit;
  }
}

/** Name-based guard for {@linkcode QueueFullError}. */
export const isQueueFullError: (error: unknown) => error is QueueFullError = guardFor(
  "QueueFullError",
  QueueFullError,
);
