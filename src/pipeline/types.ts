/**
 * The engine's vocabulary: what results, hooks and stats report.
 *
 * @module
 */
import type { IdemtrackError } from "../errors/idemtrack_error.ts";
import type { IdemtrackEvent } from "../event.ts";
import type { OutgoingBatch, PreparedRequest } from "../ports/profile.ts";
import type { TransportResponse } from "../ports/transport.ts";

/** What `enqueue` does when the queue is at `maxQueueSize` or `maxQueueBytes`. */
export type OverflowPolicy = "reject" | "dropOldest" | "dropNewest";

/** One event that failed for good, as results and hooks report it. */
export interface FailedRecord {
  /** The event's idempotency key. */
  readonly key: string;
  /** The event, when the caller handed it over in this process (`send()`); otherwise undefined. */
  readonly event?: IdemtrackEvent;
  /** The encoded event as it was queued (nothing is lost, even without `event`). */
  readonly data: Uint8Array;
  /** Why it failed, with the server's reason. */
  readonly error: string;
  /**
   * HTTP status, the server's per-record code, `oversize`, `dropped`, `invalid`, `closed`,
   * `request` (a request `fetch` would refuse to send) or `storage` (the store failed: in a
   * `flush()` result the event is still held and is sent once the store recovers).
   */
  readonly code: number | string;
}

/** The outcome of `flush()` or `send()`, shaped like the second seed's bulk response. */
export interface DeliveryResult {
  /** `success`: all delivered; `fail`: none; `partial`: some. An empty set is a `success`. */
  status: "success" | "partial" | "fail";
  /** Events covered. */
  total: number;
  /** Events delivered (duplicates included: the server already had them). */
  success: number;
  /** Events failed for good or dropped (or held back by a failing store: code `storage`). */
  failure: number;
  /** The events that failed for good or were dropped, with their reasons. */
  failedRecords: FailedRecord[];
}

/** What one answered request did, for `batchSettled` hooks (Hamustro's last-sync time). */
export interface BatchReport {
  /** The batch's id, which is also its request idempotency key. */
  readonly batchId: string;
  /** The stream its events belong to. */
  readonly stream: string;
  /** Events the server accepted, or already had (duplicates). */
  readonly delivered: number;
  /** Events the server already had (counted in `delivered` too). */
  readonly duplicates: number;
  /** Events failed for good (reported through `hooks.error`). */
  readonly failed: number;
  /** Events of the batch to be sent again. */
  readonly retrying: number;
  /** When the answer was read, epoch milliseconds. */
  readonly at: number;
}

/** Counters of a pipeline's life so far; backpressure shows in `queued` and `inFlight`. */
export interface PipelineStats {
  /** Events accepted by `enqueue`/`deliver` (and restored from storage). */
  tracked: number;
  /** Events waiting for a batch. */
  queued: number;
  /** Bytes held (queued and in flight). */
  queuedBytes: number;
  /** Events in formed batches (sending, or waiting to retry). */
  inFlight: number;
  /** Events the server accepted. */
  delivered: number;
  /** Events the server already had (409 or per-record duplicate): delivered too. */
  duplicates: number;
  /** Event sends repeated after a retryable answer. */
  retried: number;
  /** Events failed for good (reported). */
  failed: number;
  /** Events dropped by the overflow policy (reported). */
  dropped: number;
  /** HTTP requests that got an answer. */
  requests: number;
}

/** What `close()` resolves with. */
export interface CloseSummary {
  /** Events the server accepted. */
  delivered: number;
  /** Events the server already had. */
  duplicates: number;
  /** Events failed for good (reported). */
  failed: number;
  /** Events dropped by the overflow policy (reported). */
  dropped: number;
  /** Events still undelivered when the close deadline passed (kept by durable storage, reported). */
  pending: number;
}

/** What a `beforeRequest` hook gets. */
export interface BeforeRequestState {
  /** The request as built (and compressed) so far; earlier hooks may have replaced it. */
  readonly request: PreparedRequest;
  /** The batch the request carries. */
  readonly batch: OutgoingBatch;
}

/** What an `afterResponse` hook gets. */
export interface AfterResponseState {
  /** The answer, before the profile reads it. */
  readonly response: TransportResponse;
  /** The batch it answers. */
  readonly batch: OutgoingBatch;
}

/** What a `drop` hook gets. */
export interface DropState {
  /** The events the overflow policy dropped (the oldest ones, or the new one). */
  readonly records: readonly FailedRecord[];
}

/**
 * Extension points, ky style: arrays of functions run in order, each taking
 * one state object (`beforeRequest({ request, batch })`). `error` gets the
 * error itself and `batchSettled` its {@linkcode BatchReport}.
 */
export interface PipelineHooks {
  /** May return a replacement request (extra headers, signing); the request is the hook's to keep. */
  beforeRequest?: Array<
    (state: BeforeRequestState) => PreparedRequest | void | Promise<PreparedRequest | void>
  >;
  /** Every HTTP answer, before the profile reads it. */
  afterResponse?: Array<(state: AfterResponseState) => void>;
  /** After each answered request (delivered, duplicate, failed and retrying counts). */
  batchSettled?: Array<(report: BatchReport) => void>;
  /** Failures worth knowing: `DeliveryError` (events failed for good), `StorageError`. */
  error?: Array<(error: IdemtrackError) => void>;
  /** Events dropped by the overflow policy. */
  drop?: Array<(state: DropState) => void>;
}
