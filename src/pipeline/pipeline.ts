import type { Clock, TimerId } from "../ports/clock.ts";
import { ClientClosedError } from "../errors/client_closed_error.ts";
import { DeliveryError } from "../errors/delivery_error.ts";
import type { IdemtrackError } from "../errors/idemtrack_error.ts";
import { StorageError } from "../errors/storage_error.ts";
import { checkEventBytes, type IdemtrackEvent, type JsonValue } from "../event.ts";
import {
  type EncodedEvent,
  encodedForm,
  type OutgoingBatch,
  type PreparedRequest,
  type Profile,
} from "../ports/profile.ts";
import type { RetryOptions } from "../kit/retry.ts";
import type { LiveQueue, QueuedRecord, Storage, StorageSnapshot } from "../ports/storage.ts";
import type { RateLimit } from "../kit/token_bucket.ts";
import type { Transport, TransportResponse } from "../ports/transport.ts";
import { registerExitHook } from "../_util/exit_hook.ts";
import { type ActiveBatch, Batcher, entriesOf } from "./_batcher.ts";
import { Journal, stored } from "./_journal.ts";
import { type ResolvedPipelineOptions, resolvePipelineOptions } from "./options.ts";
import { Entry, isFull, makeRoom, Queue } from "./_queue.ts";
import { PackedQueue } from "./_packed_queue.ts";
import { SlabWriter } from "./_slab_writer.ts";
import { openStorage, restore } from "./_restore.ts";
import { isPromiseLike } from "../_util/promise.ts";
import { Sender } from "./_sender.ts";
import { count, emit, emptyResult, finish, Settler, type Waiter } from "./_settle.ts";

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

/** What a `beforeRequest` hook gets. */
export interface BeforeRequestState {
  /** The request as built (and compressed) so far; earlier hooks may have replaced it. */
  readonly request: PreparedRequest;
  readonly batch: OutgoingBatch;
}

/** What an `afterResponse` hook gets. */
export interface AfterResponseState {
  readonly response: TransportResponse;
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
  /**
   * May return a replacement request (extra headers, signing). The body's buffer may carry a later
   * request once this one settled: a hook that keeps the body copies it.
   */
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
  /**
   * Send as soon as this many events are queued (and a full request's worth at once, inside the
   * `enqueue` that completes it); `Infinity` leaves it to `flush()` and the timer. @default {20}
   */
  flushAt?: number;
  /** Send whatever is queued this long after the first queued event; `0` disables the timer. @default {5000} */
  flushIntervalMs?: number;
  /** Largest request body; at most the profile's limit. @default {profile.limits.maxBatchBytes} */
  maxBatchBytes?: number;
  /** Most events per request; at most the profile's limit. @default {profile.limits.maxBatchEvents} */
  maxBatchEvents?: number;
  /** Most events of one type (group) per request. @default {profile.limits.maxItemsPerGroup} */
  maxItemsPerType?: number;
  /**
   * Largest encoded event, bytes; at most the profile's limit (and what fits in one request).
   * A larger one is refused with an `EventValidationError`. @default {profile.limits.maxEventBytes}
   */
  maxEventBytes?: number;
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
  /**
   * Requests in flight at once (a batch waiting to retry keeps its slot); a transport that queues
   * requests itself (`workerTransport()`) is handed up to its `maxPending` instead. @default {2}
   */
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
 * import { jsonProfile } from "../profiles/json/profile.ts";
 * import { createEvent } from "../event.ts";
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
  readonly #options: ResolvedPipelineOptions;
  readonly #clock: Clock;
  readonly #hooks: PipelineHooks;
  readonly #journal: Journal;
  readonly #settler: Settler;
  readonly #batcher: Batcher;
  readonly #sender: Sender;
  readonly #unregisterExit: () => void;

  // Record ids are this prefix and the event's seq. Random per process, so ids never repeat
  // across restarts; short, so that ids stay flat strings (under 13 characters V8 copies a
  // concatenation instead of making a rope, which every storage driver that hashes or encodes
  // the id would have to flatten) for 1.6 M events.
  readonly #idPrefix = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36) + "-";
  readonly #writer = new SlabWriter();
  readonly #queue = new Queue(
    new PackedQueue(this.#idPrefix, this.#writer, (bytes) => this.#settler.heldBytes += bytes),
  );
  #seq = 0;

  /** Formed batches waiting for a send slot (restored, split, `deliver()`). */
  #ready: ActiveBatch[] = [];
  /** The next full batch off the queue, formed and being saved while every slot is busy. */
  #prepared: ActiveBatch | undefined;
  #active = 0;

  #opening: Promise<Map<string, JsonValue>> | undefined;
  #opened = false;
  #values = new Map<string, JsonValue>();

  #forceUpTo = -Infinity;
  #tickScheduled = false;
  #timer: TimerId | undefined;
  #closing = false;
  #closed = false;
  #aborted = false;
  #closePromise: Promise<CloseSummary> | undefined;

  constructor(options: PipelineOptions) {
    const resolved = resolvePipelineOptions(options);
    const { profile, clock, hooks } = resolved;
    this.#options = resolved;
    this.profile = profile;
    this.#clock = clock;
    this.#hooks = hooks;
    this.#journal = new Journal(resolved.storage);
    this.#settler = new Settler(this.#journal, clock, hooks, resolved.retry, () => {
      // Events queued while the flush ran go out now, not at the next interval.
      if (this.#queue.length > 0) {
        this.#forceUpTo = Math.max(this.#forceUpTo, this.#seq);
        queueMicrotask(() => this.#pump());
      }
    });
    this.#batcher = new Batcher(profile.framing, resolved, clock, this.#journal, this.#settler);
    this.#sender = new Sender(resolved);
    this.#unregisterExit = resolved.exitHook
      ? registerExitHook(
        () => this.#settler.unsettled > 0 && !this.#closed ? this.flush() : undefined,
        resolved.exitTimeoutMs,
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

  #open(): Promise<Map<string, JsonValue>> {
    const failed = (error: StorageError) => {
      this.#settler.emitError(error);
      return Promise.reject(error);
    };
    let opened;
    try {
      opened = openStorage(this.#journal.storage);
    } catch (error) {
      return failed(error as StorageError);
    }
    // A store in memory answers at once: the pipeline is open before the caller's next line.
    if (!isPromiseLike(opened)) return Promise.resolve(this.#restore(opened));
    return Promise.resolve(opened).then((snapshot) => this.#restore(snapshot), failed);
  }

  #restore(snapshot: StorageSnapshot): Map<string, JsonValue> {
    const restored = restore(snapshot, this.#journal, this.#settler);
    for (const [key, value] of restored.values) this.#values.set(key, value);
    for (const [key, value] of this.#journal.pendingValues()) {
      if (value === undefined) this.#values.delete(key);
      else this.#values.set(key, value);
    }
    this.#ready.push(...restored.batches);
    this.#queue.entries.prepend(restored.entries);
    this.#forceUpTo = Math.max(this.#forceUpTo, 0);
    this.#opened = true;
    this.#journal.markOpen(this.#live);
    this.#journal.flush();
    this.#pump();
    return this.#values;
  }

  /** Events not yet delivered or failed (queued and in flight). */
  get unsent(): number {
    return this.#settler.unsettled;
  }

  /** A value of the storage's key-value area (after {@linkcode Pipeline.open}). */
  getValue(key: string): JsonValue | undefined {
    return this.#values.get(key);
  }

  /** Sets a value in the key-value area and journals it (`undefined` deletes). */
  setValue(key: string, value: JsonValue | undefined): void {
    if (value === undefined) this.#values.delete(key);
    else this.#values.set(key, value);
    this.#journal.setValue(key, value);
  }

  /**
   * Queues one encoded event; synchronous, never waits for the network.
   *
   * @throws {EventValidationError} when the encoded event is too large for one request.
   * @throws {QueueFullError} at the queue bound under the `reject` policy.
   * @throws {ClientClosedError} after `close()`.
   */
  enqueue(encoded: EncodedEvent, key: string): void {
    if (this.#closed) throw new ClientClosedError("track");
    if (this.#opening === undefined) this.open().catch(() => {});
    const { group, stream, text } = encoded;
    const packed = this.#queue.packed;
    let dropped: FailedRecord[] | undefined;
    if (text !== undefined && this.#journal.live && this.#withinBoundsUnsized(text)) {
      // Nothing per event but numbers until it joins a batch (see PackedQueue), and its bytes,
      // with its key's (no record keeps the string), are written with the next events'.
      packed.pushText(text, key, group, stream, this.#clock.now(), ++this.#seq);
      this.#settler.hold(0);
    } else {
      // Exact held bytes for the bounds, and nothing left to write over the staged event.
      packed.settle();
      const writer = this.#writer;
      // The key's bytes go with the event only where no record keeps its string (a live store).
      const size = checkEventBytes(
        writer.stage(encodedForm(encoded), this.#journal.live ? key : ""),
        this.#options.maxEventBytes,
      );
      if (isFull(this.#options, this.#settler, size)) {
        const overflow = makeRoom(
          this.#options,
          this.#settler,
          this.#queue,
          size,
          { key, data: () => writer.view().slice(), event: undefined },
          (entry, reason) => this.#settler.settle(entry, "dropped", reason, "dropped")!,
        );
        this.#journal.forget(overflow.removed);
        dropped = overflow.dropped;
        if (!overflow.admit) {
          this.#settler.stats.tracked++;
          this.#settler.stats.dropped++;
          emit(this.#hooks.drop, { records: dropped });
          return;
        }
      }
      if (this.#journal.live) {
        packed.push(writer, group, stream, this.#clock.now(), ++this.#seq);
        this.#settler.hold(size);
      } else {
        this.#queue.entries.push(this.#add(key, group, stream, undefined));
      }
    }
    this.#settler.stats.tracked++;
    // After the event is queued: a hook may track another one.
    if (dropped !== undefined) emit(this.#hooks.drop, { records: dropped });
    if (this.#timer === undefined && this.#options.flushIntervalMs > 0) {
      this.#timer = this.#clock.setTimeout(() => this.#onTimer(), this.#options.flushIntervalMs);
    }
    this.#scheduleTick();
    // A full request's worth goes out now (in a synchronous burst the tick comes only at its
    // end), unless the owner sends only when it says so (`flushAt: Infinity`).
    if (this.#opened && this.#options.flushAt !== Infinity && this.#fullBatchQueued()) {
      this.#pump(true);
    }
  }

  /**
   * Whether an event of this text is within the size and queue bounds even
   * at 3 bytes a UTF-16 unit (and so are the events queued unsized before it),
   * which lets it be queued before its exact size is known.
   */
  #withinBoundsUnsized(text: string): boolean {
    const largest = 3 * text.length;
    const packed = this.#queue.packed;
    return packed.unsizedPays && largest <= this.#options.maxEventBytes &&
      !isFull(this.#options, this.#settler, 3 * packed.unsizedTextUnits + largest);
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
      const writer = this.#writer;
      for (const { encoded, key, event } of items) {
        this.#settler.stats.tracked++;
        try {
          checkEventBytes(writer.stage(encodedForm(encoded)), this.#options.maxEventBytes);
        } catch (error) {
          const failure = { key, data: writer.view().slice(), error: (error as Error).message };
          this.#settler.stats.failed++;
          count(waiter, { ...failure, code: "oversize", ...(event && { event }) });
          continue;
        }
        const entry = this.#add(key, encoded.group, encoded.stream, event);
        entry.bulk = waiter;
        entries.push(entry);
      }
      if (waiter.remaining === 0) {
        resolve(finish(waiter.result));
        return;
      }
      this.#ready.unshift(...this.#batcher.formAll(entries));
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
    if (this.#settler.unsettled === 0) return emptyResult();
    const promise = this.#settler.waitFlush(this.#seq);
    this.#forceUpTo = Math.max(this.#forceUpTo, this.#seq);
    this.#pump();
    const result = await promise;
    try {
      await this.#journal.storage.sync();
    } catch (cause) {
      this.#storageError(cause, "sync failed");
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
      while (this.#settler.unsettled > 0 && !deadlinePassed) {
        await Promise.race([this.#settler.waitIdle(), expired]);
      }
    }
    if (deadline !== undefined) this.#clock.clearTimeout(deadline);
    this.#closed = true;
    if (this.#settler.unsettled > 0) {
      this.#aborted = true;
      this.#sender.abort();
      this.#reportUndelivered("close() timed out");
    }
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unregisterExit();
    this.#options.transport.close?.();
    if (this.#opened) {
      this.#journal.flush();
      try {
        await this.#journal.storage.close();
      } catch (cause) {
        this.#storageError(cause, "close failed");
      }
    }
    const s = this.#settler.stats;
    return {
      delivered: s.delivered,
      duplicates: s.duplicates,
      failed: s.failed,
      dropped: s.dropped,
      pending: this.#settler.unsettled,
    };
  }

  /** A copy of the counters. */
  stats(): PipelineStats {
    this.#queue.packed.settle();
    return {
      ...this.#settler.stats,
      queued: this.#queue.length,
      queuedBytes: this.#settler.heldBytes,
      inFlight: this.#settler.inFlight,
      requests: this.#sender.requests,
    };
  }

  /** The event the writer staged, as a held entry over its record (journaled unless storage is live). */
  #add(key: string, group: string, stream: string, event: IdemtrackEvent | undefined): Entry {
    const writer = this.#writer;
    writer.commit();
    const seq = ++this.#seq;
    const record: QueuedRecord = {
      id: this.#idPrefix + seq.toString(36),
      key,
      group,
      stream,
      data: writer.view(),
      queuedAt: this.#clock.now(),
    };
    const entry = Entry.of(record, seq, event);
    this.#journal.add(entry);
    this.#settler.hold(entry.bytes);
    return entry;
  }

  /** The queue as a journal of it would hold it, for a store that adopts it. */
  readonly #live: LiveQueue = ((pipeline: Pipeline) => ({
    get held() {
      return pipeline.#settler.unsettled;
    },
    snapshot() {
      const batches = [...pipeline.#journal.formed];
      const records = batches.flatMap(entriesOf).concat(
        [...pipeline.#journal.between],
        pipeline.#queue.snapshot(),
      );
      records.sort((a, b) => a.seq - b.seq);
      return { records, batches: batches.filter((batch) => batch.saved).map(stored) };
    },
  }))(this);

  #scheduleTick(): void {
    if (this.#tickScheduled) return;
    this.#tickScheduled = true;
    queueMicrotask(() => {
      this.#tickScheduled = false;
      const { waitUntil } = this.#options;
      if (waitUntil !== undefined) waitUntil(this.flush().catch(() => {}));
      if (!this.#opened) {
        this.open().catch(() => {});
        return;
      }
      this.#journal.flush();
      this.#pump();
    });
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#forceUpTo = Math.max(this.#forceUpTo, this.#seq);
    this.#pump();
  }

  #mayForm = (headSeq: number): boolean =>
    this.#queue.length >= this.#options.flushAt || headSeq <= this.#forceUpTo ||
    this.#settler.flushing || this.#closing;

  #fullBatchQueued(): boolean {
    const queue = this.#queue;
    const { maxBatchEvents, maxBatchBytes } = this.#options;
    if (queue.length >= maxBatchEvents) return true;
    // Events queued unsized weigh 1 to 3 bytes a unit: they are written and counted only when
    // that range does not decide.
    const sized = queue.entries.bytes + queue.packed.sizedBytes + queue.length;
    const unsized = queue.packed.unsizedTextUnits;
    if (sized + unsized >= maxBatchBytes) return true;
    if (sized + 3 * unsized < maxBatchBytes) return false;
    return queue.bytes + queue.length >= maxBatchBytes;
  }

  /** Starts sends while slots are free (with `onlyFull`, only of full batches off the queue). */
  #pump(onlyFull = false): void {
    if (!this.#opened || this.#aborted) return;
    const { slots, transport } = this.#options;
    while (this.#active < slots && transport.saturated?.() !== true) {
      let batch = onlyFull ? undefined : this.#ready.shift();
      if (batch === undefined && this.#prepared !== undefined) {
        batch = this.#prepared;
        this.#prepared = undefined;
      }
      if (batch === undefined && (!onlyFull || this.#fullBatchQueued())) {
        batch = this.#batcher.next(this.#queue, this.#mayForm);
      }
      if (batch === undefined) break;
      this.#active++;
      this.#run(batch).catch((cause) => {
        // A storage failure while saving a batch: its events stay queued in storage.
        this.#storageError(cause, "batch could not be saved");
      }).finally(() => {
        this.#active--;
        this.#pump();
      });
    }
    // A store that journals makes a batch durable before its send (~3 ms for a full batch to a
    // file: a write and an fsync), which left a freed slot idle meanwhile. With every slot busy,
    // the next full batch is formed and saved now, and goes out as soon as a slot frees. Its
    // members are what they would be then (a full batch is the head of the queue).
    if (
      this.#prepared === undefined && !this.#journal.live && this.#active >= slots &&
      this.#fullBatchQueued()
    ) {
      this.#prepared = this.#batcher.next(this.#queue, this.#mayForm);
      // Its slot awaits the save (and reports its failure), or saves again if it failed already.
      if (this.#prepared !== undefined) this.#batcher.save(this.#prepared)?.catch(() => {});
    }
  }

  /** One batch's life in a send slot: save, send, apply the answer, retry. */
  async #run(first: ActiveBatch): Promise<void> {
    let batch = first;
    while (!this.#aborted) {
      // Awaited only when they did not complete at once (see isPromiseLike).
      const saving = batch.saved ? undefined : batch.saving ?? this.#batcher.save(batch);
      if (saving !== undefined) await saving;
      const allowed = this.#sender.throttle(() => this.#aborted);
      if (allowed !== true && !await allowed) return;
      const { outcome, cause } = await this.#sender.send(batch);
      if (this.#aborted) return;
      if (outcome.kind === "split") {
        if (batch.members.length === 1) {
          // A single event cannot be split.
          this.#settler.finishBatch(
            batch,
            [],
            [],
            [[entriesOf(batch)[0]!, 413, outcome.reason]],
            undefined,
          );
          return;
        }
        this.#ready.unshift(...this.#batcher.split(batch));
        return;
      }
      const decision = this.#settler.apply(batch, outcome, cause);
      if (decision === undefined) return;
      if (decision.same) {
        batch.attempt++;
        batch.retry = decision.state;
        await this.#batcher.save(batch);
      } else {
        batch = this.#batcher.create(decision.entries, decision.state, batch.attempt + 1);
      }
      await this.#sender.sleep(decision.delayMs);
    }
  }

  #storageError(cause: unknown, what: string): void {
    this.#settler.emitError(
      cause instanceof StorageError
        ? cause
        : new StorageError(this.#journal.storage.name, what, { cause }),
    );
  }

  #reportUndelivered(why: string): void {
    const { unsettled } = this.#settler;
    if (unsettled === 0) return;
    const { name } = this.#journal.storage;
    const reason = `${why} with ${unsettled} events undelivered (${
      name === "memory" ? "memory storage: lost" : `kept by '${name}'`
    })`;
    this.#settler.emitError(new DeliveryError("", this.#queue.keys(), "closed", reason));
  }
}
