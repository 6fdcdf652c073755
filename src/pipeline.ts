import { chunkBySize } from "./chunk.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import { ClientClosedError } from "./errors/client_closed_error.ts";
import { DeliveryError } from "./errors/delivery_error.ts";
import type { IdemtrackError } from "./errors/idemtrack_error.ts";
import { HttpError } from "./errors/http_error.ts";
import { NetworkError } from "./errors/network_error.ts";
import { QueueFullError } from "./errors/queue_full_error.ts";
import { StorageError } from "./errors/storage_error.ts";
import { TimeoutError } from "./errors/timeout_error.ts";
import { checkEncodedSize, type IdemtrackEvent, type JsonValue } from "./event.ts";
import { fetchTransport } from "./fetch_transport.ts";
import { generateIdempotencyKey } from "./idempotency_key.ts";
import { MemoryStorage } from "./memory_storage.ts";
import type {
  BatchOutcome,
  EncodedEvent,
  OutgoingBatch,
  PreparedRequest,
  Profile,
  RecordOutcome,
} from "./profile.ts";
import { INITIAL_RETRY_STATE, planRetry, resolveRetryOptions, type RetryOptions } from "./retry.ts";
import type { RetryState } from "./retry.ts";
import type { QueuedRecord, Storage, StoredBatch } from "./storage.ts";
import { type RateLimit, TokenBucket } from "./token_bucket.ts";
import type { Transport, TransportResponse } from "./transport.ts";
import { registerExitHook } from "./_exit_hook.ts";

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
  /** HTTP status, the server's per-record code, `oversize`, `dropped`, `invalid` or `closed`. */
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
  /** Events failed for good or dropped. */
  failure: number;
  failedRecords: FailedRecord[];
}

/** What one answered request did, for `batchSettled` hooks (Hamustro's last-sync time). */
export interface BatchReport {
  readonly batchId: string;
  readonly stream: string;
  /** Events the server accepted, or already had (duplicates). */
  readonly delivered: number;
  readonly duplicates: number;
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
  delivered: number;
  duplicates: number;
  failed: number;
  dropped: number;
  /** Events still undelivered when the close deadline passed (kept by durable storage, reported). */
  pending: number;
}

/** Extension points, ky style: arrays of functions run in order. */
export interface PipelineHooks {
  /** May return a replacement request (extra headers, signing). */
  beforeRequest?: Array<
    (
      request: PreparedRequest,
      batch: OutgoingBatch,
    ) => PreparedRequest | void | Promise<PreparedRequest | void>
  >;
  /** Every HTTP answer, before the profile reads it. */
  afterResponse?: Array<(response: TransportResponse, batch: OutgoingBatch) => void>;
  /** After each answered request (delivered, duplicate, failed and retrying counts). */
  batchSettled?: Array<(report: BatchReport) => void>;
  /** Failures worth knowing: `DeliveryError` (events failed for good), `StorageError`. */
  error?: Array<(error: IdemtrackError) => void>;
  /** Events dropped by the overflow policy. */
  drop?: Array<(dropped: readonly FailedRecord[]) => void>;
}

/** Options of {@linkcode Pipeline}. */
export interface PipelineOptions {
  /** The wire format: encoding, framing, limits, request building, answer reading. */
  profile: Profile;
  /** Where the queue is journaled. @default {new MemoryStorage()} */
  storage?: Storage;
  /** How requests are sent. @default {fetchTransport()} */
  transport?: Transport;
  /** Time and timers. @default {systemClock} */
  clock?: Clock;
  /** Send as soon as this many events are queued; `Infinity` leaves it to `flush()` and the timer. @default {20} */
  flushAt?: number;
  /** Send whatever is queued this long after the first queued event; `0` disables the timer. @default {5000} */
  flushIntervalMs?: number;
  /** Largest request body; at most the profile's limit. @default {profile.limits.maxBatchBytes} */
  maxBatchBytes?: number;
  /** Most events per request; at most the profile's limit. @default {profile.limits.maxBatchEvents} */
  maxBatchEvents?: number;
  /** Most events of one type (group) per request. @default {profile.limits.maxItemsPerGroup} */
  maxItemsPerType?: number;
  /** Most events held (queued and in flight). @default {100000} */
  maxQueueSize?: number;
  /** Most bytes held (queued and in flight). @default {67108864} */
  maxQueueBytes?: number;
  /** What happens at the queue bound; every drop is counted and reported. @default {"reject"} */
  overflow?: OverflowPolicy;
  /** Retry policy. @default {DEFAULT_RETRY_OPTIONS} */
  retry?: RetryOptions;
  /** Per-request timeout (aborts the request), milliseconds. @default {10000} */
  timeoutMs?: number;
  /** Requests in flight at once (a batch waiting to retry keeps its slot). @default {2} */
  concurrency?: number;
  /** Send-rate limit; `false` for none. @default {profile.rateLimit, else false} */
  rateLimit?: RateLimit | false;
  /** Request body compression (`Content-Encoding: gzip`). @default {false} */
  compression?: "gzip" | false;
  /** Extension points. @default {{}} */
  hooks?: PipelineHooks;
  /**
   * For edge/serverless runtimes: receives a promise of the delivery of the
   * events queued in a tick, to keep the invocation alive (`ctx.waitUntil`).
   * @default {undefined}
   */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Flush when the process is about to exit (Deno `beforeunload`, Node `beforeExit`). @default {true} */
  exitHook?: boolean;
  /** How long the exit hook keeps the process alive to deliver, milliseconds. @default {5000} */
  exitTimeoutMs?: number;
}

/** Pipeline defaults that do not depend on the profile. */
export const DEFAULT_PIPELINE_OPTIONS = Object.freeze({
  flushAt: 20,
  flushIntervalMs: 5000,
  maxQueueSize: 100_000,
  maxQueueBytes: 64 * 1024 * 1024,
  overflow: "reject" as OverflowPolicy,
  timeoutMs: 10_000,
  concurrency: 2,
  compression: false as "gzip" | false,
  exitHook: true,
  exitTimeoutMs: 5000,
});

/** A queued record with its bookkeeping (one object per event: it is also what storage gets). */
interface Entry extends QueuedRecord {
  /** Order of arrival; restored records get seq <= 0 (older than anything new). */
  readonly seq: number;
  readonly event?: IdemtrackEvent;
  bulk?: Waiter;
  inBatch: boolean;
}

interface ActiveBatch {
  id: string;
  stream: string;
  entries: Entry[];
  attempt: number;
  createdAt: number;
  retry: RetryState;
  saved: boolean;
}

interface Waiter {
  /** Flush waiters cover entries with seq <= target; bulk waiters their own entries. */
  readonly target: number;
  remaining: number;
  readonly result: DeliveryResult;
  readonly resolve: (result: DeliveryResult) => void;
}

type Settlement = "delivered" | "duplicate" | "failed" | "dropped";

function emptyResult(): DeliveryResult {
  return { status: "success", total: 0, success: 0, failure: 0, failedRecords: [] };
}

function finish(result: DeliveryResult): DeliveryResult {
  result.status = result.failure === 0 ? "success" : result.success === 0 ? "fail" : "partial";
  return result;
}

function positiveInteger(name: string, value: number, allowInfinity = false): void {
  const ok = value >= 1 && (Number.isInteger(value) || (allowInfinity && value === Infinity));
  if (!ok) {
    throw new RangeError(
      `Cannot create client as '${name}' must be a positive integer: current value is ${value}`,
    );
  }
}

function nonNegative(name: string, value: number): void {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `Cannot create client as '${name}' must be a non-negative number: current value is ${value}`,
    );
  }
}

async function gzip(body: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([body as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * The one delivery engine behind the `Client` and Hamustro's `ClientTracker`:
 * an in-memory queue journaled to a {@linkcode Storage}, byte-size batches
 * formed with the profile's framing and limits, each batch's key and
 * membership saved before its first send, sends through a
 * {@linkcode Transport} with full-jitter retries, and per-record outcomes
 * (delivered, duplicate, retry, failed) read by the profile.
 *
 * Reusing it (e.g. a tracker with its own send rules):
 * - pass your profile; records of different `stream`s never share a request;
 * - set `flushAt: Infinity, flushIntervalMs: 0` to disable the built-in
 *   triggers and call {@linkcode Pipeline.flush} when your rule says so
 *   (`unsent` tells how many events wait);
 * - `hooks.batchSettled` runs after each answered request (e.g. to store the
 *   last sync time with {@linkcode Pipeline.setValue});
 * - {@linkcode Pipeline.open} resolves with the storage's key-value area
 *   (counters, last sync, user) as the previous run left it.
 *
 * @example Usage
 * ```ts
 * import { Pipeline } from "./pipeline.ts";
 * import { jsonProfile } from "./profiles/json.ts";
 * import { createEvent } from "./event.ts";
 * import assert from "node:assert/strict";
 *
 * const seen: string[] = [];
 * const pipeline = new Pipeline({
 *   profile: jsonProfile({ endpoint: "http://collector.test" }),
 *   transport: (request) => {
 *     seen.push(request.headers["x-idempotency-key"]!);
 *     return Promise.resolve({ status: 200, headers: new Headers(), body: "{}" });
 *   },
 *   flushAt: Infinity,
 *   flushIntervalMs: 0,
 *   exitHook: false,
 * });
 * const values = await pipeline.open();
 * pipeline.setValue("nr", Number(values.get("nr") ?? 0) + 1);
 * const event = createEvent({ name: "opened", userId: "u1" });
 * pipeline.enqueue(pipeline.profile.encode(event), event.idempotencyKey);
 * assert.equal(pipeline.unsent, 1);
 * const result = await pipeline.flush();
 * assert.equal(result.success, 1);
 * assert.equal(seen.length, 1);
 * await pipeline.close();
 * ```
 */
export class Pipeline {
  /** The profile requests are built and read with. */
  readonly profile: Profile;
  readonly #storage: Storage;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #retry: ReturnType<typeof resolveRetryOptions>;
  readonly #flushAt: number;
  readonly #flushIntervalMs: number;
  readonly #maxBatchBytes: number;
  readonly #maxBatchEvents: number;
  readonly #maxItemsPerType: number;
  readonly #maxEventBytes: number;
  readonly #maxQueueSize: number;
  readonly #maxQueueBytes: number;
  readonly #overflow: OverflowPolicy;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  readonly #compression: "gzip" | false;
  readonly #bucket: TokenBucket | undefined;
  readonly #hooks: PipelineHooks;
  readonly #waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  readonly #unregisterExit: () => void;

  readonly #idPrefix = crypto.randomUUID().slice(0, 8) + "-";
  #nextId = 0;
  #seq = 0;

  // Queue: a deque of entries not yet in a batch.
  #pending: Entry[] = [];
  #head = 0;
  #ready: ActiveBatch[] = [];
  #active = 0;
  #unjournaled: QueuedRecord[] = [];
  #unsettled = 0;
  #heldBytes = 0;
  #inFlight = 0;

  #opening: Promise<Map<string, JsonValue>> | undefined;
  #opened = false;
  #openError: IdemtrackError | undefined;
  #values = new Map<string, JsonValue>();
  #pendingValues = new Map<string, JsonValue | undefined>();

  #forceUpTo = -Infinity;
  #flushWaiters: Waiter[] = [];
  #idleWaiters: Array<() => void> = [];
  #tickScheduled = false;
  #timer: TimerId | undefined;
  #sleepers = new Set<() => void>();
  #controllers = new Set<AbortController>();
  #closing = false;
  #closed = false;
  #aborted = false;
  #closePromise: Promise<CloseSummary> | undefined;

  readonly #stats: PipelineStats = {
    tracked: 0,
    queued: 0,
    queuedBytes: 0,
    inFlight: 0,
    delivered: 0,
    duplicates: 0,
    retried: 0,
    failed: 0,
    dropped: 0,
    requests: 0,
  };

  constructor(options: PipelineOptions) {
    const { profile } = options;
    if (profile === undefined || typeof profile.encode !== "function") {
      throw new TypeError("Cannot create client as 'profile' must be a Profile");
    }
    const d = DEFAULT_PIPELINE_OPTIONS;
    const {
      storage = new MemoryStorage(),
      transport = fetchTransport(),
      clock = systemClock,
      flushAt = d.flushAt,
      flushIntervalMs = d.flushIntervalMs,
      maxBatchBytes = profile.limits.maxBatchBytes,
      maxBatchEvents = profile.limits.maxBatchEvents,
      maxItemsPerType = profile.limits.maxItemsPerGroup,
      maxQueueSize = d.maxQueueSize,
      maxQueueBytes = d.maxQueueBytes,
      overflow = d.overflow,
      retry = {},
      timeoutMs = d.timeoutMs,
      concurrency = d.concurrency,
      rateLimit = profile.rateLimit ?? false,
      compression = d.compression,
      hooks = {},
      waitUntil,
      exitHook = d.exitHook,
      exitTimeoutMs = d.exitTimeoutMs,
    } = options;
    positiveInteger("flushAt", flushAt, true);
    nonNegative("flushIntervalMs", flushIntervalMs);
    positiveInteger("maxBatchBytes", maxBatchBytes);
    positiveInteger("maxBatchEvents", maxBatchEvents, true);
    positiveInteger("maxItemsPerType", maxItemsPerType, true);
    positiveInteger("maxQueueSize", maxQueueSize, true);
    positiveInteger("maxQueueBytes", maxQueueBytes, true);
    positiveInteger("concurrency", concurrency);
    nonNegative("timeoutMs", timeoutMs);
    nonNegative("exitTimeoutMs", exitTimeoutMs);
    if (!["reject", "dropOldest", "dropNewest"].includes(overflow)) {
      throw new TypeError(
        `Cannot create client as 'overflow' must be "reject", "dropOldest" or "dropNewest": current value is ${
          JSON.stringify(overflow)
        }`,
      );
    }
    if (compression !== false && compression !== "gzip") {
      throw new TypeError(
        `Cannot create client as 'compression' must be "gzip" or false: current value is ${
          JSON.stringify(compression)
        }`,
      );
    }
    this.profile = profile;
    this.#storage = storage;
    this.#transport = transport;
    this.#clock = clock;
    this.#retry = resolveRetryOptions(retry);
    this.#flushAt = flushAt;
    this.#flushIntervalMs = flushIntervalMs;
    this.#maxBatchBytes = Math.min(maxBatchBytes, profile.limits.maxBatchBytes);
    this.#maxBatchEvents = Math.min(maxBatchEvents, profile.limits.maxBatchEvents);
    this.#maxItemsPerType = Math.min(maxItemsPerType, profile.limits.maxItemsPerGroup);
    // An event must fit in a request on its own.
    this.#maxEventBytes = Math.min(
      profile.limits.maxEventBytes,
      this.#maxBatchBytes - profile.framing.emptyBytes -
        profile.framing.itemBytes(0, true, ""),
    );
    this.#maxQueueSize = maxQueueSize;
    this.#maxQueueBytes = maxQueueBytes;
    this.#overflow = overflow;
    this.#timeoutMs = timeoutMs;
    this.#concurrency = concurrency;
    this.#compression = compression;
    this.#bucket = rateLimit === false ? undefined : new TokenBucket({
      ratePerSecond: rateLimit.requestsPerSecond,
      burst: rateLimit.burst,
      now: () => clock.now(),
    });
    this.#hooks = hooks;
    this.#waitUntil = waitUntil;
    this.#unregisterExit = exitHook
      ? registerExitHook(
        () => this.#unsettled > 0 && !this.#closed ? this.flush() : undefined,
        exitTimeoutMs,
        () => this.#reportUndelivered("the process exited"),
      )
      : () => {};
  }

  /**
   * Opens the storage once and restores what it held: saved batches are sent
   * again first with their stored keys, then queued records. Resolves with the
   * key-value area. Called implicitly by `enqueue`; await it to read values.
   *
   * @throws {StorageError} when the store cannot be opened (also reported to `hooks.error`).
   */
  open(): Promise<Map<string, JsonValue>> {
    this.#opening ??= this.#open();
    return this.#opening;
  }

  async #open(): Promise<Map<string, JsonValue>> {
    let snapshot;
    try {
      snapshot = await this.#storage.open();
    } catch (cause) {
      const error = cause instanceof StorageError
        ? cause
        : new StorageError(this.#storage.name, "cannot open", { cause });
      this.#openError = error;
      this.#emitError(error);
      throw error;
    }
    if (snapshot.skipped.entries > 0) {
      this.#emitError(
        new StorageError(
          this.#storage.name,
          `recovery skipped ${snapshot.skipped.entries} damaged entries (${snapshot.skipped.bytes} bytes)`,
        ),
      );
    }
    for (const [key, value] of snapshot.values) this.#values.set(key, value);
    for (const [key, value] of this.#pendingValues) {
      if (value === undefined) this.#values.delete(key);
      else this.#values.set(key, value);
    }
    const byId = new Map<string, QueuedRecord>();
    for (const record of snapshot.records) byId.set(record.id, record);
    let seq = -snapshot.records.length;
    const newEntry = (record: QueuedRecord, inBatch: boolean): Entry => {
      this.#unsettled++;
      this.#heldBytes += record.data.byteLength;
      this.#stats.tracked++;
      const { id, key, group, stream, data, queuedAt } = record;
      return { id, key, group, stream, data, queuedAt, seq: seq++, inBatch };
    };
    const restoredBatches: ActiveBatch[] = [];
    const batched = new Set<string>();
    for (const stored of snapshot.batches) {
      const entries: Entry[] = [];
      for (const id of stored.recordIds) {
        const record = byId.get(id);
        if (record === undefined || batched.has(id)) continue;
        batched.add(id);
        entries.push(newEntry(record, true));
      }
      if (entries.length === 0) {
        this.#storage.settleBatch(stored.id, []);
        continue;
      }
      this.#inFlight += entries.length;
      restoredBatches.push({
        id: stored.id,
        stream: stored.stream,
        entries,
        attempt: stored.attempt,
        createdAt: stored.createdAt,
        retry: { ...INITIAL_RETRY_STATE, retries: stored.attempt },
        saved: true,
      });
    }
    const restored: Entry[] = [];
    for (const record of snapshot.records) {
      if (!batched.has(record.id)) restored.push(newEntry(record, false));
    }
    this.#ready.push(...restoredBatches);
    this.#pending = [...restored, ...this.#pending.slice(this.#head)];
    this.#head = 0;
    this.#forceUpTo = Math.max(this.#forceUpTo, 0);
    this.#opened = true;
    for (const [key, value] of this.#pendingValues) this.#storage.setValue(key, value);
    this.#pendingValues.clear();
    this.#journal();
    this.#pump();
    return this.#values;
  }

  /** Events not yet delivered or failed (queued and in flight). */
  get unsent(): number {
    return this.#unsettled;
  }

  /** A value of the storage's key-value area (after {@linkcode Pipeline.open}). */
  getValue(key: string): JsonValue | undefined {
    return this.#values.get(key);
  }

  /** Sets a value in the key-value area and journals it (`undefined` deletes). */
  setValue(key: string, value: JsonValue | undefined): void {
    if (value === undefined) this.#values.delete(key);
    else this.#values.set(key, value);
    if (this.#opened) this.#storage.setValue(key, value);
    else this.#pendingValues.set(key, value);
  }

  /**
   * Queues one encoded event; synchronous, never waits for the network.
   *
   * @throws {EventValidationError} when the encoded event is too large for one request.
   * @throws {QueueFullError} at the queue bound under the `reject` policy.
   * @throws {ClientClosedError} after `close()`.
   */
  enqueue(encoded: EncodedEvent, key: string, event?: IdemtrackEvent): void {
    if (this.#closed) throw new ClientClosedError("track");
    const size = checkEncodedSize(encoded.data, this.#maxEventBytes);
    if (this.#unsettled + 1 > this.#maxQueueSize || this.#heldBytes + size > this.#maxQueueBytes) {
      if (!this.#makeRoom(size, encoded, key, event)) return;
    }
    const entry = this.#add(encoded, key, event);
    this.#pending.push(entry);
    this.#stats.tracked++;
    if (this.#timer === undefined && this.#flushIntervalMs > 0) {
      this.#timer = this.#clock.setTimeout(() => this.#onTimer(), this.#flushIntervalMs);
    }
    this.#scheduleTick();
  }

  /**
   * Delivers a set of events now, in their own batches (never mixed with the
   * queue), through the same retry and chunking path. Resolves once each is
   * delivered or failed for good. Not subject to the queue bound: the caller
   * holds them and awaits the answer.
   */
  deliver(
    items: ReadonlyArray<{ encoded: EncodedEvent; key: string; event?: IdemtrackEvent }>,
  ): Promise<DeliveryResult> {
    if (this.#closed) return Promise.reject(new ClientClosedError("send"));
    if (items.length === 0) return Promise.resolve(emptyResult());
    return new Promise((resolve) => {
      const waiter: Waiter = {
        target: Infinity,
        remaining: items.length,
        result: emptyResult(),
        resolve,
      };
      const entries: Entry[] = [];
      for (const { encoded, key, event } of items) {
        this.#stats.tracked++;
        try {
          checkEncodedSize(encoded.data, this.#maxEventBytes);
        } catch (error) {
          const failure = { key, data: encoded.data, error: (error as Error).message };
          this.#stats.failed++;
          this.#count(waiter, { ...failure, code: "oversize", ...(event && { event }) });
          continue;
        }
        const entry = this.#add(encoded, key, event);
        entry.bulk = waiter;
        entries.push(entry);
      }
      if (waiter.remaining === 0) {
        resolve(finish(waiter.result));
        return;
      }
      const batches = this.#formBatches(entries);
      this.#ready.unshift(...batches);
      this.#scheduleTick();
    });
  }

  /**
   * Sends everything queued before the call (ignoring `flushAt`) and resolves
   * when each of those events is delivered or failed for good. Events queued
   * while it runs are sent too, right after, not at the next interval.
   */
  flush(): Promise<DeliveryResult> {
    // Once open, the set of events covered is fixed synchronously, at the call.
    return this.#opened ? this.#flush() : this.open().then(() => this.#flush());
  }

  async #flush(): Promise<DeliveryResult> {
    if (this.#unsettled === 0) return emptyResult();
    const promise = new Promise<DeliveryResult>((resolve) => {
      this.#flushWaiters.push({
        target: this.#seq,
        remaining: this.#unsettled,
        result: emptyResult(),
        resolve,
      });
    });
    this.#forceUpTo = Math.max(this.#forceUpTo, this.#seq);
    this.#pump();
    const result = await promise;
    try {
      await this.#storage.sync();
    } catch (cause) {
      this.#emitError(
        cause instanceof StorageError
          ? cause
          : new StorageError(this.#storage.name, "sync failed", { cause }),
      );
    }
    return result;
  }

  /**
   * Drains everything (events queued while it runs included), then refuses
   * further events with `ClientClosedError`, closes the storage and resolves
   * with a summary. With `timeoutMs`, in-flight requests are aborted at the
   * deadline and what is left is reported (`pending`, `hooks.error`).
   */
  close(options: { timeoutMs?: number } = {}): Promise<CloseSummary> {
    this.#closePromise ??= this.#close(options.timeoutMs ?? Infinity);
    return this.#closePromise;
  }

  async #close(timeoutMs: number): Promise<CloseSummary> {
    this.#closing = true;
    let deadlinePassed = false;
    let deadline: TimerId | undefined;
    const expired = new Promise<void>((resolve) => {
      if (Number.isFinite(timeoutMs)) {
        deadline = this.#clock.setTimeout(() => {
          deadlinePassed = true;
          resolve();
        }, timeoutMs);
      }
    });
    try {
      await Promise.race([this.open(), expired]);
    } catch {
      // Reported by open(); nothing can be sent.
    }
    if (this.#opened) {
      this.#pump();
      while (this.#unsettled > 0 && !deadlinePassed) {
        await Promise.race([new Promise<void>((r) => this.#idleWaiters.push(r)), expired]);
      }
    }
    if (deadline !== undefined) this.#clock.clearTimeout(deadline);
    this.#closed = true;
    if (this.#unsettled > 0) {
      this.#aborted = true;
      for (const controller of this.#controllers) controller.abort();
      for (const wake of this.#sleepers) wake();
      this.#reportUndelivered("close() timed out");
    }
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unregisterExit();
    if (this.#opened) {
      this.#journal();
      try {
        await this.#storage.close();
      } catch (cause) {
        this.#emitError(
          cause instanceof StorageError
            ? cause
            : new StorageError(this.#storage.name, "close failed", { cause }),
        );
      }
    }
    const s = this.#stats;
    return {
      delivered: s.delivered,
      duplicates: s.duplicates,
      failed: s.failed,
      dropped: s.dropped,
      pending: this.#unsettled,
    };
  }

  /** A copy of the counters. */
  stats(): PipelineStats {
    return {
      ...this.#stats,
      queued: this.#pending.length - this.#head,
      queuedBytes: this.#heldBytes,
      inFlight: this.#inFlight,
    };
  }

  // ---- queue ---------------------------------------------------------------

  #add(encoded: EncodedEvent, key: string, event: IdemtrackEvent | undefined): Entry {
    const entry: Entry = {
      id: this.#idPrefix + (this.#nextId++).toString(36),
      key,
      group: encoded.group,
      stream: encoded.stream,
      data: encoded.data,
      queuedAt: this.#clock.now(),
      seq: ++this.#seq,
      inBatch: false,
      event,
      bulk: undefined,
    };
    this.#unjournaled.push(entry);
    this.#unsettled++;
    this.#heldBytes += entry.data.byteLength;
    return entry;
  }

  /** Applies the overflow policy; false when the new event is dropped instead. */
  #makeRoom(
    size: number,
    encoded: EncodedEvent,
    key: string,
    event: IdemtrackEvent | undefined,
  ): boolean {
    const full = () =>
      this.#unsettled + 1 > this.#maxQueueSize || this.#heldBytes + size > this.#maxQueueBytes;
    const bound = this.#unsettled + 1 > this.#maxQueueSize ? "events" : "bytes";
    const limit = bound === "events" ? this.#maxQueueSize : this.#maxQueueBytes;
    if (this.#overflow === "reject") throw new QueueFullError(bound, limit);
    const reason = new QueueFullError(bound, limit).message;
    const dropped: FailedRecord[] = [];
    if (this.#overflow === "dropOldest") {
      const removed: string[] = [];
      while (full() && this.#head < this.#pending.length) {
        const oldest = this.#pending[this.#head]!;
        this.#pending[this.#head++] = undefined as unknown as Entry;
        removed.push(oldest.id);
        dropped.push(this.#settle(oldest, "dropped", reason, "dropped")!);
      }
      this.#compact();
      this.#forget(removed);
    }
    if (full()) {
      // dropNewest, or everything held is in flight: the new event is the one dropped.
      this.#stats.tracked++;
      this.#stats.dropped++;
      const failed: FailedRecord = { key, data: encoded.data, error: reason, code: "dropped" };
      dropped.push(event === undefined ? failed : { ...failed, event });
      this.#emit(this.#hooks.drop, dropped);
      return false;
    }
    this.#emit(this.#hooks.drop, dropped);
    return true;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Hands new records to storage in one call per tick. */
  #journal(): void {
    if (!this.#opened || this.#unjournaled.length === 0) return;
    const records = this.#unjournaled;
    this.#unjournaled = [];
    this.#storage.append(records);
  }

  /** Removes records in no batch from the journal (before open: from the unwritten buffer). */
  #forget(ids: string[]): void {
    if (ids.length === 0) return;
    if (!this.#opened) {
      const gone = new Set(ids);
      this.#unjournaled = this.#unjournaled.filter((record) => !gone.has(record.id));
      return;
    }
    this.#journal();
    this.#storage.remove(ids);
  }

  #scheduleTick(): void {
    if (this.#tickScheduled) return;
    this.#tickScheduled = true;
    queueMicrotask(() => {
      this.#tickScheduled = false;
      if (this.#waitUntil !== undefined) this.#waitUntil(this.flush().catch(() => {}));
      if (!this.#opened) {
        this.open().catch(() => {});
        return;
      }
      this.#journal();
      this.#pump();
    });
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#forceUpTo = Math.max(this.#forceUpTo, this.#seq);
    this.#pump();
  }

  #mayForm(head: Entry): boolean {
    return this.#pending.length - this.#head >= this.#flushAt || head.seq <= this.#forceUpTo ||
      this.#flushWaiters.length > 0 || this.#closing;
  }

  /** Takes the next batch off the head of the queue, if the triggers allow one. */
  #nextBatch(): ActiveBatch | undefined {
    while (this.#head < this.#pending.length) {
      const head = this.#pending[this.#head]!;
      if (!this.#mayForm(head)) return undefined;
      // A window of the queue's head, same stream, roughly one request's worth;
      // chunkBySize then applies the exact caps.
      const slice: Entry[] = [];
      let bytes = 0;
      for (let i = this.#head; i < this.#pending.length; i++) {
        const entry = this.#pending[i]!;
        if (entry.stream !== head.stream || slice.length >= this.#maxBatchEvents) {
          break;
        }
        bytes += entry.data.byteLength + 1;
        if (slice.length > 0 && bytes > this.#maxBatchBytes) break;
        slice.push(entry);
      }
      const plan = this.#chunk(slice);
      const next = plan.chunks[1]?.[0];
      const consumed = next === undefined ? slice.length : slice.indexOf(next);
      for (let i = 0; i < consumed; i++) {
        this.#pending[this.#head++] = undefined as unknown as Entry;
      }
      this.#compact();
      this.#failOversize(plan.oversize.filter((entry) => slice.indexOf(entry) < consumed));
      const first = plan.chunks[0];
      if (first !== undefined) return this.#newBatch(first, INITIAL_RETRY_STATE, 0);
    }
    return undefined;
  }

  #chunk(entries: Entry[]) {
    return chunkBySize(entries, {
      sizeOf: (entry) => entry.data.byteLength,
      groupOf: (entry) => entry.group,
      framing: this.profile.framing,
      maxBytes: this.#maxBatchBytes,
      maxItems: this.#maxBatchEvents,
      maxItemsPerGroup: this.#maxItemsPerType,
    });
  }

  /** Batches for `deliver()`: per stream, in order. */
  #formBatches(entries: Entry[]): ActiveBatch[] {
    const byStream = new Map<string, Entry[]>();
    for (const entry of entries) {
      const list = byStream.get(entry.stream);
      if (list === undefined) byStream.set(entry.stream, [entry]);
      else list.push(entry);
    }
    const batches: ActiveBatch[] = [];
    for (const list of byStream.values()) {
      const plan = this.#chunk(list);
      this.#failOversize(plan.oversize);
      for (const chunk of plan.chunks) {
        batches.push(this.#newBatch(chunk, INITIAL_RETRY_STATE, 0));
      }
    }
    return batches;
  }

  #failOversize(entries: Entry[]): void {
    if (entries.length === 0) return;
    const reason = `event is larger than a request may be (${this.#maxBatchBytes} bytes)`;
    this.#forget(entries.map((entry) => entry.id));
    const failed = entries.map((entry) => this.#settle(entry, "failed", reason, "oversize")!);
    this.#emitError(new DeliveryError("", failed.map((f) => f.key), "oversize", reason));
  }

  #newBatch(entries: Entry[], retry: RetryState, attempt: number): ActiveBatch {
    for (const entry of entries) {
      if (!entry.inBatch) {
        entry.inBatch = true;
        this.#inFlight++;
      }
    }
    return {
      id: generateIdempotencyKey(),
      stream: entries[0]!.stream,
      entries,
      attempt,
      createdAt: this.#clock.now(),
      retry,
      saved: false,
    };
  }

  // ---- sending -------------------------------------------------------------

  #pump(): void {
    if (!this.#opened || this.#aborted) return;
    while (this.#active < this.#concurrency) {
      const batch = this.#ready.shift() ?? this.#nextBatch();
      if (batch === undefined) break;
      this.#active++;
      this.#run(batch).catch((cause) => {
        // A storage failure while saving a batch: its events stay queued in storage.
        this.#emitError(
          cause instanceof StorageError
            ? cause
            : new StorageError(this.#storage.name, "batch could not be saved", { cause }),
        );
      }).finally(() => {
        this.#active--;
        this.#pump();
      });
    }
  }

  #sleep(delayMs: number): Promise<void> {
    if (delayMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.#sleepers.delete(wake);
        this.#clock.clearTimeout(id);
        resolve();
      };
      const id = this.#clock.setTimeout(wake, delayMs);
      this.#sleepers.add(wake);
    });
  }

  #stored(batch: ActiveBatch): StoredBatch {
    return {
      id: batch.id,
      stream: batch.stream,
      recordIds: batch.entries.map((entry) => entry.id),
      attempt: batch.attempt,
      createdAt: batch.createdAt,
    };
  }

  async #run(first: ActiveBatch): Promise<void> {
    let batch = first;
    while (!this.#aborted) {
      if (!batch.saved) {
        this.#journal();
        await this.#storage.saveBatch(this.#stored(batch));
        batch.saved = true;
      }
      if (this.#bucket !== undefined) {
        for (let wait = this.#bucket.take(); wait > 0; wait = this.#bucket.take()) {
          await this.#sleep(wait);
          if (this.#aborted) return;
        }
      }
      const { outcome, cause } = await this.#send(batch);
      if (this.#aborted) return;
      if (outcome.kind === "split") {
        const halves = this.#split(batch, outcome.reason);
        if (halves === undefined) return;
        this.#ready.unshift(...halves);
        return;
      }
      const next = await this.#apply(batch, outcome, cause);
      if (next === undefined) return;
      batch = next;
    }
  }

  /** One send: the profile's outcome, or a retry outcome for network errors and timeouts. */
  async #send(batch: ActiveBatch): Promise<{ outcome: BatchOutcome; cause?: IdemtrackError }> {
    const outgoing: OutgoingBatch = {
      id: batch.id,
      stream: batch.stream,
      records: batch.entries.map((entry) => entry),
      attempt: batch.attempt,
    };
    const controller = new AbortController();
    let timedOut = false;
    const timer = this.#clock.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#timeoutMs);
    this.#controllers.add(controller);
    try {
      let request = await this.profile.buildRequest(outgoing, this.#clock.now());
      if (this.#compression === "gzip") {
        request = {
          ...request,
          headers: { ...request.headers, "content-encoding": "gzip" },
          body: await gzip(request.body),
        };
      }
      for (const hook of this.#hooks.beforeRequest ?? []) {
        request = (await hook(request, outgoing)) ?? request;
      }
      const response = await this.#transport({ ...request, signal: controller.signal });
      this.#stats.requests++;
      for (const hook of this.#hooks.afterResponse ?? []) hook(response, outgoing);
      const outcome = this.profile.readResponse(response, outgoing);
      const cause = response.status >= 300
        ? new HttpError(response.status, batch.id, readReason(outcome))
        : undefined;
      return cause === undefined ? { outcome } : { outcome, cause };
    } catch (error) {
      const cause = timedOut
        ? new TimeoutError(batch.id, this.#timeoutMs)
        : new NetworkError(batch.id, error);
      return {
        outcome: {
          kind: "all",
          outcome: {
            status: "retry",
            code: timedOut ? "timeout" : "network",
            reason: cause.message,
          },
        },
        cause,
      };
    } finally {
      this.#clock.clearTimeout(timer);
      this.#controllers.delete(controller);
    }
  }

  /** 413: halves get new keys (their membership changed); a single event cannot be split. */
  #split(batch: ActiveBatch, reason: string): ActiveBatch[] | undefined {
    if (batch.entries.length === 1) {
      this.#finishBatch(batch, [], [], [[batch.entries[0]!, 413, reason]], undefined);
      return undefined;
    }
    this.#storage.settleBatch(batch.id, []);
    const middle = Math.ceil(batch.entries.length / 2);
    return [
      this.#newBatch(batch.entries.slice(0, middle), batch.retry, batch.attempt),
      this.#newBatch(batch.entries.slice(middle), batch.retry, batch.attempt),
    ];
  }

  /** Applies outcomes; returns the batch to send again after its backoff, if any. */
  async #apply(
    batch: ActiveBatch,
    batchOutcome: Exclude<BatchOutcome, { kind: "split" }>,
    cause: IdemtrackError | undefined,
  ): Promise<ActiveBatch | undefined> {
    const delivered: Entry[] = [];
    const duplicates: Entry[] = [];
    const failed: Array<[Entry, number | string, string]> = [];
    const retry: Entry[] = [];
    let retryAfterMs: number | undefined;
    let lastRetry: { code: number | string; reason: string } | undefined;
    batch.entries.forEach((entry, index) => {
      const outcome: RecordOutcome | undefined = batchOutcome.kind === "all"
        ? batchOutcome.outcome
        : batchOutcome.outcomes[index];
      if (outcome === undefined) {
        retry.push(entry);
        lastRetry = { code: "missing", reason: "the answer has no result for this event" };
        return;
      }
      switch (outcome.status) {
        case "delivered":
          delivered.push(entry);
          break;
        case "duplicate":
          duplicates.push(entry);
          break;
        case "failed":
          failed.push([entry, outcome.code, outcome.reason]);
          break;
        case "retry":
          retry.push(entry);
          lastRetry = { code: outcome.code, reason: outcome.reason };
          if (outcome.retryAfterMs !== undefined) {
            retryAfterMs = Math.max(retryAfterMs ?? 0, outcome.retryAfterMs);
          }
      }
    });
    if (retry.length === 0) {
      this.#finishBatch(batch, delivered, duplicates, failed, cause);
      return undefined;
    }
    const plan = planRetry(batch.retry, retryAfterMs, this.#retry);
    if (!plan.retry) {
      const { code, reason } = lastRetry!;
      for (const entry of retry) {
        failed.push([entry, code, `${plan.reason}: ${reason}`]);
      }
      this.#finishBatch(batch, delivered, duplicates, failed, cause);
      return undefined;
    }
    this.#stats.retried += retry.length;
    let next: ActiveBatch;
    if (retry.length === batch.entries.length) {
      // Same membership: same key, so the server can recognise the resend.
      batch.attempt++;
      batch.retry = plan.state;
      this.#report(batch, 0, 0, 0, retry.length);
      this.#journal();
      await this.#storage.saveBatch(this.#stored(batch));
      next = batch;
    } else {
      this.#finishBatch(batch, delivered, duplicates, failed, cause, retry.length);
      next = this.#newBatch(retry, plan.state, batch.attempt + 1);
    }
    await this.#sleep(plan.delayMs);
    return next;
  }

  /** Settles a batch's delivered, duplicate and failed events; `retrying` stay in storage. */
  #finishBatch(
    batch: ActiveBatch,
    delivered: Entry[],
    duplicates: Entry[],
    failed: Array<[Entry, number | string, string]>,
    cause: IdemtrackError | undefined,
    retrying = 0,
  ): void {
    const removed: string[] = [];
    for (const entry of delivered) {
      removed.push(entry.id);
      this.#settle(entry, "delivered");
    }
    for (const entry of duplicates) {
      removed.push(entry.id);
      this.#settle(entry, "duplicate");
    }
    const failures: FailedRecord[] = [];
    for (const [entry, code, reason] of failed) {
      removed.push(entry.id);
      failures.push(this.#settle(entry, "failed", reason, code)!);
    }
    this.#storage.settleBatch(batch.id, removed);
    this.#report(batch, delivered.length, duplicates.length, failed.length, retrying);
    // One error per distinct reason, so a batch of 1000 rejections is one report.
    const byReason = new Map<string, FailedRecord[]>();
    for (const failure of failures) {
      const group = `${failure.code}\u0000${failure.error}`;
      const list = byReason.get(group);
      if (list === undefined) byReason.set(group, [failure]);
      else list.push(failure);
    }
    for (const list of byReason.values()) {
      const { code, error } = list[0]!;
      this.#emitError(
        new DeliveryError(
          batch.id,
          list.map((f) => f.key),
          code,
          error,
          cause === undefined ? undefined : { cause },
        ),
      );
    }
  }

  #report(
    batch: ActiveBatch,
    delivered: number,
    duplicates: number,
    failed: number,
    retrying: number,
  ): void {
    const hooks = this.#hooks.batchSettled;
    if (hooks === undefined || hooks.length === 0) return;
    const report: BatchReport = {
      batchId: batch.id,
      stream: batch.stream,
      delivered: delivered + duplicates,
      duplicates,
      failed,
      retrying,
      at: this.#clock.now(),
    };
    this.#emit(hooks, report);
  }

  /** Ends one event's life and tells whoever waits for it. */
  #settle(
    entry: Entry,
    how: Settlement,
    error?: string,
    code?: number | string,
  ): FailedRecord | undefined {
    this.#unsettled--;
    this.#heldBytes -= entry.data.byteLength;
    if (entry.inBatch) {
      entry.inBatch = false;
      this.#inFlight--;
    }
    let failure: FailedRecord | undefined;
    switch (how) {
      case "delivered":
        this.#stats.delivered++;
        break;
      case "duplicate":
        this.#stats.duplicates++;
        break;
      case "failed":
        this.#stats.failed++;
        break;
      case "dropped":
        this.#stats.dropped++;
    }
    if (how === "failed" || how === "dropped") {
      const base = { key: entry.key, data: entry.data, error: error!, code: code! };
      failure = entry.event === undefined ? base : { ...base, event: entry.event };
    }
    if (this.#flushWaiters.length > 0) {
      for (const waiter of this.#flushWaiters) {
        if (entry.seq <= waiter.target) this.#count(waiter, failure);
      }
      const done = this.#flushWaiters.filter((waiter) => waiter.remaining === 0);
      if (done.length > 0) {
        this.#flushWaiters = this.#flushWaiters.filter((waiter) => waiter.remaining > 0);
        for (const waiter of done) waiter.resolve(finish(waiter.result));
        // Events queued while the flush ran go out now, not at the next interval.
        if (this.#head < this.#pending.length) {
          this.#forceUpTo = Math.max(this.#forceUpTo, this.#seq);
          queueMicrotask(() => this.#pump());
        }
      }
    }
    if (entry.bulk !== undefined) {
      const waiter = entry.bulk;
      this.#count(waiter, failure);
      if (waiter.remaining === 0) waiter.resolve(finish(waiter.result));
    }
    if (this.#unsettled === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
    return failure;
  }

  #count(waiter: Waiter, failure: FailedRecord | undefined): void {
    waiter.remaining--;
    waiter.result.total++;
    if (failure === undefined) waiter.result.success++;
    else {
      waiter.result.failure++;
      waiter.result.failedRecords.push(failure);
    }
  }

  #reportUndelivered(why: string): void {
    if (this.#unsettled === 0) return;
    const keys: string[] = [];
    for (let i = this.#head; i < this.#pending.length; i++) keys.push(this.#pending[i]!.key);
    const reason = `${why} with ${this.#unsettled} events undelivered (${
      this.#storage.name === "memory" ? "memory storage: lost" : `kept by '${this.#storage.name}'`
    })`;
    this.#emitError(new DeliveryError("", keys, "closed", reason));
  }

  #emitError(error: IdemtrackError): void {
    this.#emit(this.#hooks.error, error);
  }

  #emit<T>(hooks: Array<(value: T) => void> | undefined, value: T): void {
    if (hooks === undefined) return;
    for (const hook of hooks) {
      try {
        hook(value);
      } catch {
        // A failing observer must not break delivery.
      }
    }
  }
}

function readReason(outcome: BatchOutcome): string {
  if (outcome.kind === "split") return outcome.reason;
  const first = outcome.kind === "all" ? outcome.outcome : outcome.outcomes[0];
  return first !== undefined && "reason" in first ? first.reason : "";
}
