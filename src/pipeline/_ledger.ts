import type { Clock } from "../ports/clock.ts";
import { DeliveryError } from "../errors/delivery_error.ts";
import type { IdemtrackError } from "../errors/idemtrack_error.ts";
import type { BatchOutcome, RecordOutcome } from "../ports/profile.ts";
import { planRetry, type RetryOptions, type RetryState } from "../kit/retry.ts";
import type { ActiveBatch, Members } from "./_batch.ts";
import { Entry } from "./_entry.ts";
import type { QueueJournal } from "./_journal.ts";
import { count, countAndResolve, emptyResult, finish, type Waiter } from "./_waiter.ts";
import type {
  BatchReport,
  DeliveryResult,
  DropState,
  FailedRecord,
  PipelineHooks,
  PipelineStats,
} from "./types.ts";

/** How one event's life ended. */
export type Settlement = "delivered" | "duplicate" | "failed" | "dropped";

/** A failed event with its code and reason. */
export type Failure = [entry: Entry, code: number | string, reason: string];

/** What to do with a batch that has events to send again. */
export type RetryDecision =
  /** Every event retries: the same batch (same key) goes again, `attempt` bumped. */
  | { readonly same: true; readonly state: RetryState; readonly delayMs: number }
  /** Some events retry: they form a new batch (new membership, new key). */
  | {
    readonly same: false;
    readonly entries: Entry[];
    readonly state: RetryState;
    readonly delayMs: number;
  };

/** Runs observers in order; a failing observer must not break delivery. */
function emit<T>(hooks: Array<(value: T) => void> | undefined, value: T): void {
  if (hooks === undefined) return;
  for (const hook of hooks) {
    try {
      hook(value);
    } catch {
      // A failing observer must not break delivery.
    }
  }
}

/** The counters {@linkcode Ledger} owns (the others are read where they live). */
type Counts = Omit<PipelineStats, "queued" | "requests">;

/**
 * The ledger of every event held, from acceptance to the end of its life
 * ("settled": delivered, duplicate, failed or dropped): the counters (it
 * alone writes them), the waiters of `flush()`, `deliver()` and `close()`,
 * how answered batches are applied, and the hooks that report it all.
 */
export class Ledger {
  readonly #stats = {
    tracked: 0,
    delivered: 0,
    duplicates: 0,
    retried: 0,
    failed: 0,
    dropped: 0,
  };
  #held = 0;
  #heldBytes = 0;
  #inFlight = 0;
  #flushWaiters: Waiter[] = [];
  #idleWaiters: Array<() => void> = [];
  readonly #journal: QueueJournal;
  readonly #clock: Clock;
  readonly #hooks: PipelineHooks;
  readonly #retry: RetryOptions;
  readonly #onFlushDone: () => void;

  /** `onFlushDone`: runs when a `flush()` completes (events queued meanwhile go out next). */
  constructor(
    journal: QueueJournal,
    clock: Clock,
    hooks: PipelineHooks,
    retry: RetryOptions,
    onFlushDone: () => void,
  ) {
    this.#journal = journal;
    this.#clock = clock;
    this.#hooks = hooks;
    this.#retry = retry;
    this.#onFlushDone = onFlushDone;
  }

  /** Events held (queued and in batches). */
  get held(): number {
    return this.#held;
  }

  /** Bytes held (queued and in batches); events queued unsized count once measured. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Events in formed batches. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** A copy of the counters. */
  counts(): Counts {
    return { ...this.#stats, queuedBytes: this.#heldBytes, inFlight: this.#inFlight };
  }

  /** Counts an accepted event of `bytes` (0 while unmeasured), now held. */
  accept(bytes: number): void {
    this.#stats.tracked++;
    this.#held++;
    this.#heldBytes += bytes;
  }

  /** Counts the bytes of events accepted unmeasured, now written. */
  measured(bytes: number): void {
    this.#heldBytes += bytes;
  }

  /** Counts events that joined a batch. */
  enterBatch(count: number): void {
    this.#inFlight += count;
  }

  /** Counts an event refused as it came (never held): dropped by the overflow policy, or failed. */
  refuse(how: "dropped" | "failed"): void {
    this.#stats.tracked++;
    this.#stats[how]++;
  }

  get flushing(): boolean {
    return this.#flushWaiters.length > 0;
  }

  /** Resolves once every event held now with seq <= `target` is settled. */
  waitFlush(target: number): Promise<DeliveryResult> {
    return new Promise((resolve) => {
      this.#flushWaiters.push({
        target,
        remaining: this.#held,
        result: emptyResult(),
        resolve,
      });
    });
  }

  /** Resolves at the next moment nothing is held. */
  waitIdle(): Promise<void> {
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  emitError(error: IdemtrackError): void {
    emit(this.#hooks.error, error);
  }

  emitDrop(state: DropState): void {
    emit(this.#hooks.drop, state);
  }

  /** Ends one event's life and tells whoever waits for it. */
  settle(
    entry: Entry,
    how: Settlement,
    error?: string,
    code?: number | string,
  ): FailedRecord | undefined {
    this.#held--;
    this.#heldBytes -= entry.bytes;
    if (entry.inBatch) {
      entry.inBatch = false;
      this.#inFlight--;
    }
    const stats = this.#stats;
    let failure: FailedRecord | undefined;
    switch (how) {
      case "delivered":
        stats.delivered++;
        break;
      case "duplicate":
        stats.duplicates++;
        break;
      case "failed":
        stats.failed++;
        break;
      case "dropped":
        stats.dropped++;
    }
    if (how === "failed" || how === "dropped") {
      const base = { key: entry.key, data: entry.data, error: error!, code: code! };
      failure = entry.event === undefined ? base : { ...base, event: entry.event };
    }
    this.#countForFlushes(entry.seq, failure);
    if (entry.bulk !== undefined) countAndResolve(entry.bulk, failure);
    this.#wakeIfIdle();
    return failure;
  }

  /**
   * Ends the life of a whole batch's members at once, every event delivered
   * or a duplicate, as `settle` would one by one (without an entry per event
   * where the queue keeps none).
   */
  settleAll(members: Members, how: "delivered" | "duplicate"): void {
    const n = members.length;
    this.#held -= n;
    this.#inFlight -= n;
    if (how === "delivered") this.#stats.delivered += n;
    else this.#stats.duplicates += n;
    members.forEach((seq, bytes, bulk) => {
      this.#heldBytes -= bytes;
      this.#countForFlushes(seq, undefined);
      if (bulk !== undefined) countAndResolve(bulk, undefined);
    });
    this.#wakeIfIdle();
  }

  /** Counts a settled event (by its seq) into the flushes that cover it; resolves those done. */
  #countForFlushes(seq: number, failure: FailedRecord | undefined): void {
    if (this.#flushWaiters.length === 0) return;
    let anyDone = false;
    for (const waiter of this.#flushWaiters) {
      if (seq <= waiter.target) count(waiter, failure);
      if (waiter.remaining === 0) anyDone = true;
    }
    // Filtered only when one finished: this runs once per settled event.
    if (anyDone) {
      const done = this.#flushWaiters.filter((waiter) => waiter.remaining === 0);
      this.#flushWaiters = this.#flushWaiters.filter((waiter) => waiter.remaining > 0);
      for (const waiter of done) waiter.resolve(finish(waiter.result));
      this.#onFlushDone();
    }
  }

  /**
   * Answers every flush now (a store that fails holds its events back):
   * the held events each flush still waits for count as not delivered, with
   * `code` and `reason`, and stay held.
   */
  releaseFlushes(held: readonly Entry[], code: string, reason: string): void {
    if (this.#flushWaiters.length === 0) return;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const entry of held) {
      const base = { key: entry.key, data: entry.data, error: reason, code };
      const failure = entry.event === undefined ? base : { ...base, event: entry.event };
      for (const waiter of waiters) if (entry.seq <= waiter.target) count(waiter, failure);
    }
    for (const waiter of waiters) waiter.resolve(finish(waiter.result));
  }

  #wakeIfIdle(): void {
    if (this.#held === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /**
   * Applies an answer's outcomes: settles what is done, and returns what to
   * send again (after its backoff), if anything.
   */
  apply(
    batch: ActiveBatch,
    batchOutcome: Exclude<BatchOutcome, { kind: "split" }>,
    cause: IdemtrackError | undefined,
  ): RetryDecision | undefined {
    const { members } = batch;
    if (batchOutcome.kind === "all") {
      const { status } = batchOutcome.outcome;
      if (status === "delivered" || status === "duplicate") {
        this.settleAll(members, status);
        this.#journal.endBatch(batch, () => members.ids());
        const duplicates = status === "duplicate" ? members.length : 0;
        this.report(batch, members.length - duplicates, duplicates, 0, 0);
        return undefined;
      }
    }
    const delivered: Entry[] = [];
    const duplicates: Entry[] = [];
    const failed: Failure[] = [];
    const retry: Entry[] = [];
    let retryAfterMs: number | undefined;
    let lastRetry: { code: number | string; reason: string } | undefined;
    const entries = members.entries();
    entries.forEach((entry, index) => {
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
      this.endBatch(batch, delivered, duplicates, failed, cause);
      return undefined;
    }
    const plan = planRetry(batch.retry, retryAfterMs, this.#retry);
    if (!plan.retry) {
      const { code, reason } = lastRetry!;
      for (const entry of retry) failed.push([entry, code, `${plan.reason}: ${reason}`]);
      this.endBatch(batch, delivered, duplicates, failed, cause);
      return undefined;
    }
    this.#stats.retried += retry.length;
    if (retry.length === entries.length) {
      // Same membership: same key, so the server can recognise the resend.
      this.report(batch, 0, 0, 0, retry.length);
      return { same: true, state: plan.state, delayMs: plan.delayMs };
    }
    const retrying = Entry.detached(retry);
    this.endBatch(batch, delivered, duplicates, failed, cause, retrying);
    return { same: false, entries: retrying, state: plan.state, delayMs: plan.delayMs };
  }

  /** Ends a batch: settles its delivered, duplicate and failed events; `retrying` stay held, for a new batch. */
  endBatch(
    batch: ActiveBatch,
    delivered: Entry[],
    duplicates: Entry[],
    failed: Failure[],
    cause: IdemtrackError | undefined,
    retrying: readonly Entry[] = [],
  ): void {
    const removed: Entry[] = [];
    for (const entry of delivered) {
      removed.push(entry);
      this.settle(entry, "delivered");
    }
    for (const entry of duplicates) {
      removed.push(entry);
      this.settle(entry, "duplicate");
    }
    const failures: FailedRecord[] = [];
    for (const [entry, code, reason] of failed) {
      removed.push(entry);
      failures.push(this.settle(entry, "failed", reason, code)!);
    }
    this.#journal.endBatch(batch, () => removed.map((entry) => entry.id), retrying);
    this.report(batch, delivered.length, duplicates.length, failed.length, retrying.length);
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
      this.emitError(
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

  /** Fails events that cannot fit in any request. */
  failOversize(entries: Entry[], maxBatchBytes: number): void {
    if (entries.length === 0) return;
    const reason = `event is larger than a request may be (${maxBatchBytes} bytes)`;
    this.#journal.forget(entries);
    const failed = entries.map((entry) => this.settle(entry, "failed", reason, "oversize")!);
    this.emitError(new DeliveryError("", failed.map((f) => f.key), "oversize", reason));
  }

  report(
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
    emit(hooks, report);
  }
}
