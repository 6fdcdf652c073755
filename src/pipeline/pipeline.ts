import type { Clock, TimerId } from "../ports/clock.ts";
import { ClientClosedError } from "../errors/client_closed_error.ts";
import { DeliveryError } from "../errors/delivery_error.ts";
import { StorageError } from "../errors/storage_error.ts";
import { checkEventBytes, type IdemtrackEvent, type JsonValue } from "../event.ts";
import { type EncodedEvent, encodedForm, type Profile } from "../ports/profile.ts";
import type { QueuedRecord, StorageSnapshot } from "../ports/storage.ts";
import type { LiveQueue } from "../_util/internal.ts";
import { registerExitHook } from "../_util/exit_hook.ts";
import { type ActiveBatch, stored } from "./_batch.ts";
import { Batcher } from "./_batcher.ts";
import { Entry } from "./_entry.ts";
import { type LiveHeld, QueueJournal } from "./_journal.ts";
import { Ledger } from "./_ledger.ts";
import { isFull, makeRoom } from "./_overflow.ts";
import { openStorage, restore } from "./_restore.ts";
import { Sender } from "./_sender.ts";
import { count, emptyResult, finish, type Waiter } from "./_waiter.ts";
import {
  type PipelineOptions,
  type ResolvedPipelineOptions,
  resolvePipelineOptions,
} from "./options.ts";
import { Queue } from "./queue/queue.ts";
import type { CloseSummary, DeliveryResult, FailedRecord, PipelineStats } from "./types.ts";

/** First wait before a batch save that failed is tried again; it doubles at each failure… */
const STORE_RETRY_MIN_MS = 100;
/** …up to this. */
const STORE_RETRY_MAX_MS = 5000;

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
 * import { MemoryStorage } from "../drivers/storage/memory_storage.ts";
 * import assert from "node:assert/strict";
 *
 * const seen: string[] = [];
 * const pipeline = new Pipeline({
 *   profile: jsonProfile({ endpoint: "http://collector.test" }),
 *   storage: new MemoryStorage(),
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
  readonly #journal: QueueJournal;
  readonly #ledger: Ledger;
  readonly #batcher: Batcher;
  readonly #sender: Sender;
  readonly #unregisterExit: () => void;

  // Record ids are this prefix and the event's seq. Random per process, so ids never repeat
  // across restarts; short, so that ids stay flat strings (under 13 characters V8 copies a
  // concatenation instead of making a rope, which every storage driver that hashes or encodes
  // the id would have to flatten) for 1.6 M events.
  readonly #idPrefix = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36) + "-";
  readonly #queue = new Queue(this.#idPrefix, (bytes) => this.#ledger.measured(bytes));
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
  /** Set while a page being hidden starts its sends (see #sendOnHide). */
  #hiding = false;
  /** The store's failure while it lasts (reported once per outage). */
  #storeFailure: StorageError | undefined;
  /** Why the store could not be opened, if it could not. */
  #openError: StorageError | undefined;

  constructor(options: PipelineOptions) {
    const resolved = resolvePipelineOptions(options);
    const { profile, clock, hooks } = resolved;
    this.#options = resolved;
    this.profile = profile;
    this.#clock = clock;
    this.#journal = new QueueJournal(resolved.storage);
    this.#ledger = new Ledger(this.#journal, clock, hooks, resolved.retry, () => {
      // Events queued while the flush ran go out now, not at the next interval.
      if (this.#queue.length > 0) {
        this.#forceUpTo = Math.max(this.#forceUpTo, this.#seq);
        queueMicrotask(() => this.#pump());
      }
    });
    this.#batcher = new Batcher(profile.framing, resolved, clock, this.#journal, this.#ledger);
    this.#sender = new Sender(resolved);
    // A drain that gets nothing through (a store that cannot open or write answers flushes at
    // once) reports what is left and is not run again: the process may exit.
    const ended = () => {
      const { delivered, duplicates, failed, dropped } = this.#ledger.counts();
      return delivered + duplicates + failed + dropped;
    };
    let endedAtLastDrain = -1;
    this.#unregisterExit = resolved.exitHook
      ? registerExitHook(
        () => {
          if (this.#ledger.held === 0 || this.#closed) return undefined;
          const before = ended();
          if (before === endedAtLastDrain) return undefined;
          endedAtLastDrain = before;
          return this.flush().then(() => {
            if (this.#ledger.held > 0 && ended() === before) {
              this.#reportUndelivered("the process exited");
            }
          });
        },
        resolved.exitTimeoutMs,
        () => this.#reportUndelivered("the process exited"),
        () => this.#sendOnHide(),
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
      this.#openError = error;
      this.#ledger.emitError(error);
      return Promise.reject(error);
    };
    let snapshot: StorageSnapshot | undefined;
    try {
      snapshot = this.#journal.openNow();
    } catch (cause) {
      return failed(new StorageError(this.#journal.storage.name, "cannot open", { cause }));
    }
    // A store in memory answers at once: the pipeline is open before the caller's next line.
    if (snapshot !== undefined) return Promise.resolve(this.#restore(snapshot));
    return openStorage(this.#journal.storage).then((opened) => this.#restore(opened), failed);
  }

  #restore(snapshot: StorageSnapshot): Map<string, JsonValue> {
    const journal = this.#journal;
    const ledger = this.#ledger;
    if (snapshot.skipped.entries > 0) {
      const { entries, bytes } = snapshot.skipped;
      ledger.emitError(
        new StorageError(
          journal.storage.name,
          `recovery skipped ${entries} damaged entries (${bytes} bytes)`,
        ),
      );
    }
    const restored = restore(snapshot);
    for (const id of restored.emptyBatchIds) journal.endEmptyBatch(id);
    for (const batch of restored.batches) {
      for (const entry of batch.members.entries()) ledger.accept(entry.bytes);
      ledger.enterBatch(batch.members.length);
      journal.form(batch);
    }
    for (const entry of restored.entries) ledger.accept(entry.bytes);
    for (const [key, value] of restored.values) this.#values.set(key, value);
    for (const [key, value] of journal.pendingValues()) {
      if (value === undefined) this.#values.delete(key);
      else this.#values.set(key, value);
    }
    this.#ready.push(...restored.batches);
    this.#queue.prepend(restored.entries);
    this.#forceUpTo = Math.max(this.#forceUpTo, 0);
    this.#opened = true;
    journal.markOpen(this.#live);
    journal.flush();
    this.#pump();
    return this.#values;
  }

  /** Events not yet delivered or failed (queued and in flight). */
  get unsent(): number {
    return this.#ledger.held;
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
    const queue = this.#queue;
    const ledger = this.#ledger;
    const live = this.#journal.live;
    let dropped: FailedRecord[] | undefined;
    if (text !== undefined && live && this.#withinBoundsUnsized(text)) {
      // Nothing per event but numbers until it joins a batch (see queue/), and its bytes, with
      // its key's (no record keeps the string), are written with the next events'.
      queue.pushText(text, key, group, stream, this.#clock.now(), ++this.#seq);
      ledger.accept(0);
    } else {
      // The key's bytes go with the event only where no record keeps its string (a live store).
      const size = checkEventBytes(
        queue.stage(encodedForm(encoded), live ? key : ""),
        this.#options.maxEventBytes,
      );
      if (isFull(this.#options, ledger, size)) {
        const overflow = makeRoom(
          this.#options,
          ledger,
          queue,
          size,
          { key, data: () => queue.stagedCopy(), event: undefined },
          (entry, reason) => ledger.settle(entry, "dropped", reason, "dropped")!,
        );
        this.#journal.forget(overflow.removed);
        dropped = overflow.dropped;
        if (!overflow.admit) {
          ledger.refuse("dropped");
          ledger.emitDrop({ records: dropped });
          return;
        }
      }
      if (live) {
        queue.pushStaged(group, stream, this.#clock.now(), ++this.#seq);
        ledger.accept(size);
      } else {
        queue.push(this.#add(key, group, stream, undefined));
      }
    }
    // After the event is queued: a hook may track another one.
    if (dropped !== undefined) ledger.emitDrop({ records: dropped });
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
    const units = this.#queue.unsizedUnits;
    return units >= 0 && largest <= this.#options.maxEventBytes &&
      !isFull(this.#options, this.#ledger, 3 * units + largest);
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
      const queue = this.#queue;
      for (const { encoded, key, event } of items) {
        try {
          checkEventBytes(queue.stage(encodedForm(encoded), ""), this.#options.maxEventBytes);
        } catch (error) {
          const failure = { key, data: queue.stagedCopy(), error: (error as Error).message };
          this.#ledger.refuse("failed");
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
    if (this.#opened) return this.#flush();
    return this.open().then(() => this.#flush(), () => this.#flushUnopened());
  }

  /** A store that could not open holds every event back: the flush is answered with why. */
  #flushUnopened(): Promise<DeliveryResult> {
    if (this.#ledger.held === 0) return Promise.resolve(emptyResult());
    const promise = this.#ledger.waitFlush(this.#seq);
    this.#ledger.releaseFlushes(this.#heldEntries(), "storage", this.#unopenedReason());
    return promise;
  }

  #unopenedReason(): string {
    return `the store could not be opened: ${this.#openError?.message}`;
  }

  async #flush(): Promise<DeliveryResult> {
    if (this.#ledger.held === 0) return emptyResult();
    const promise = this.#ledger.waitFlush(this.#seq);
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
    if (this.#closePromise === undefined) {
      // The engine's timers are unref'd so that an idle client never keeps a process alive; a
      // close that someone awaits must, or Node ends the process mid-close (exit code 13).
      const keepAlive = setInterval(() => {}, 2 ** 30);
      this.#closePromise = this.#close(options.timeoutMs ?? Infinity)
        .finally(() => clearInterval(keepAlive));
    }
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
      // Reported by open(); nothing can be sent: the events end here, failed with the cause.
      const held = this.#heldEntries();
      const reason = this.#unopenedReason();
      for (const entry of held) this.#ledger.settle(entry, "failed", reason, "storage");
      if (held.length > 0) {
        this.#ledger.emitError(
          new DeliveryError("", held.map((entry) => entry.key), "storage", reason, {
            cause: this.#openError,
          }),
        );
      }
    }
    if (this.#opened) {
      this.#pump();
      while (this.#ledger.held > 0 && !deadlinePassed) {
        await Promise.race([this.#ledger.waitIdle(), expired]);
      }
    }
    if (deadline !== undefined) this.#clock.clearTimeout(deadline);
    this.#closed = true;
    if (this.#ledger.held > 0) {
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
    const { delivered, duplicates, failed, dropped } = this.#ledger.counts();
    return { delivered, duplicates, failed, dropped, pending: this.#ledger.held };
  }

  /** A copy of the counters. */
  stats(): PipelineStats {
    this.#queue.measure();
    return {
      ...this.#ledger.counts(),
      queued: this.#queue.length,
      requests: this.#sender.requests,
    };
  }

  /** The event the queue staged, as a held entry over its record (journaled unless storage is live). */
  #add(key: string, group: string, stream: string, event: IdemtrackEvent | undefined): Entry {
    const data = this.#queue.commitStaged();
    const seq = ++this.#seq;
    const record: QueuedRecord = {
      id: this.#queue.idOf(seq),
      key,
      group,
      stream,
      data,
      queuedAt: this.#clock.now(),
    };
    this.#journal.add(record);
    this.#ledger.accept(record.data.length);
    return Entry.of(record, seq, event);
  }

  /** The queue as a journal of it would hold it, for a store in memory. */
  readonly #live: LiveQueue<LiveHeld> = ((pipeline: Pipeline) => ({
    get held() {
      return pipeline.#ledger.held;
    },
    snapshot() {
      const batches = [...pipeline.#journal.formed];
      const entries = batches.flatMap((batch) => batch.members.entries()).concat(
        [...pipeline.#journal.between],
        pipeline.#queue.snapshot(),
      );
      entries.sort((a, b) => a.seq - b.seq);
      return {
        records: entries.map((entry) => entry.record()),
        batches: batches.filter((batch) => batch.saved).map(stored),
      };
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
    this.#ledger.flushing || this.#closing;

  #fullBatchQueued(): boolean {
    return this.#queue.holdsFullBatch(this.#options.maxBatchEvents, this.#options.maxBatchBytes);
  }

  /** Starts sends while slots are free (with `onlyFull`, only of full batches off the queue). */
  #pump(onlyFull = false): void {
    if (!this.#opened || this.#aborted) return;
    const { slots, saturated } = this.#options;
    while (this.#active < slots && !saturated()) {
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

  /**
   * A page is being hidden and may never run again: what the free slots take
   * is sent now, in this task, each batch's save started but not waited for.
   * Its request carries the key being saved, so a resend on the next visit
   * is de-duplicated whether the save made it or not (then by event keys).
   */
  #sendOnHide(): void {
    if (!this.#opened || this.#closed || this.#ledger.held === 0) return;
    this.#forceUpTo = Math.max(this.#forceUpTo, this.#seq);
    // What is still only in memory is written first, in one write (a store writes one at a time,
    // and the page may not live to start a second): the next visit sends what does not go now.
    this.#journal.flush();
    this.#journal.storage.sync().catch(() => {});
    this.#hiding = true;
    try {
      this.#pump();
    } finally {
      this.#hiding = false;
    }
  }

  /** One batch's life in a send slot: save, send, apply the answer, retry. */
  async #run(first: ActiveBatch): Promise<void> {
    let batch = first;
    // Started while the page is being hidden: the first send does not wait for the save.
    let unsaved = this.#hiding;
    while (!this.#aborted) {
      // Awaited only when it did not complete at once (see isPromiseLike).
      const saving = batch.saved ? undefined : batch.saving ?? this.#batcher.save(batch);
      if (saving !== undefined) {
        // A failure is reported by the next save, if the page lives on.
        if (unsaved) saving.catch(() => {});
        else if (!await this.#saved(batch, saving)) return;
      }
      unsaved = false;
      const allowed = this.#sender.throttle(() => this.#aborted);
      if (allowed !== true && !await allowed) return;
      const { outcome, cause } = await this.#sender.send(batch);
      if (this.#aborted) return;
      if (outcome.kind === "split") {
        if (batch.members.length === 1) {
          // A single event cannot be split.
          const [entry] = batch.members.entries();
          this.#ledger.endBatch(batch, [], [], [[entry!, 413, outcome.reason]], undefined);
          return;
        }
        this.#ready.unshift(...this.#batcher.split(batch));
        return;
      }
      const decision = this.#ledger.apply(batch, outcome, cause);
      if (decision === undefined) return;
      if (decision.same) {
        batch.attempt++;
        batch.retry = decision.state;
        const saving = this.#batcher.save(batch);
        if (saving !== undefined && !await this.#saved(batch, saving)) return;
      } else {
        batch = this.#batcher.createOf(decision.entries, decision.state, batch.attempt + 1);
      }
      await this.#sender.sleep(decision.delayMs);
    }
  }

  /**
   * Waits for a batch's save. A store that fails is reported once per
   * outage and the save is tried again with backoff; meanwhile the flushes
   * waiting for its events are answered with the cause, and the events stay
   * held. False once the pipeline was aborted.
   */
  async #saved(batch: ActiveBatch, saving: Promise<void>): Promise<boolean> {
    for (let delayMs = STORE_RETRY_MIN_MS; !this.#aborted; delayMs *= 2) {
      try {
        await saving;
        this.#storeFailure = undefined;
        return true;
      } catch (cause) {
        const error = cause instanceof StorageError
          ? cause
          : new StorageError(this.#journal.storage.name, "batch could not be saved", { cause });
        if (this.#storeFailure === undefined) this.#ledger.emitError(error);
        this.#storeFailure = error;
        this.#ledger.releaseFlushes(
          this.#heldEntries(),
          "storage",
          `${error.message} (still queued: sent once the store recovers)`,
        );
      }
      await this.#sender.sleep(Math.min(delayMs, STORE_RETRY_MAX_MS));
      saving = this.#batcher.save(batch) ?? Promise.resolve();
    }
    return false;
  }

  /** Every event held, as entries (queued, between batches, in batches). */
  #heldEntries(): Entry[] {
    return [...this.#journal.formed].flatMap((batch) => batch.members.entries()).concat(
      [...this.#journal.between],
      this.#queue.snapshot(),
    );
  }

  #storageError(cause: unknown, what: string): void {
    this.#ledger.emitError(
      cause instanceof StorageError
        ? cause
        : new StorageError(this.#journal.storage.name, what, { cause }),
    );
  }

  #reportUndelivered(why: string): void {
    const { held } = this.#ledger;
    if (held === 0) return;
    const { name } = this.#journal.storage;
    const fate = name === "memory"
      ? "memory storage: lost"
      : this.#openError !== undefined
      ? `'${name}' could not be opened: lost`
      : this.#storeFailure !== undefined
      ? `'${name}' is failing: what it could not write is lost`
      : `kept by '${name}'`;
    const reason = `${why} with ${held} events undelivered (${fate})`;
    this.#ledger.emitError(new DeliveryError("", this.#queue.keys(), "closed", reason));
  }
}
