import { guardFor, IdemtrackError } from "./idemtrack_error.ts";

/**
 * Events failed for good: the server refused them (a 4xx, a per-record
 * rejection), the retry budget ran out, or they cannot fit in any request.
 * `cause` holds the last underlying error (`HttpError`, `NetworkError`,
 * `TimeoutError`) when there was one.
 */
export class DeliveryError extends IdemtrackError {
  /** The batch (request idempotency key) the events were in; `""` if never batched. */
  readonly batchId: string;
  /** The event idempotency keys that failed. */
  readonly keys: readonly string[];
  /** Machine-readable code: HTTP status, the server's per-record code, or `oversize`. */
  readonly code: number | string;
  /** Why, including the server's reason. */
  readonly reason: string;

  /** Creates the error for the `keys` of batch `batchId` that failed for good with `code` and `reason`; `options.cause` holds the last underlying error. */
  constructor(
    batchId: string,
    keys: readonly string[],
    code: number | string,
    reason: string,
    options?: ErrorOptions,
  ) {
    const where = batchId === "" ? "" : ` of batch ${batchId}`;
    super(
      `Cannot deliver ${keys.length} event${keys.length === 1 ? "" : "s"}${where}: ${reason}`,
      options,
    );
    this.name = "DeliveryError";
    this.batchId = batchId;
    this.keys = keys;
    this.code = code;
    this.reason = reason;
  }
}

/** Name-based guard for {@linkcode DeliveryError}. */
export const isDeliveryError: (error: unknown) => error is DeliveryError = guardFor(
  "DeliveryError",
  DeliveryError,
);
