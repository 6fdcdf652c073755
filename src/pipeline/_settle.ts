import type { Clock } from "../ports/clock.ts";
import { DeliveryError } from "../errors/delivery_error.ts";
import type { IdemtrackError } from "../errors/idemtrack_error.ts";
import type {
  BatchReport,
  DeliveryResult,
  FailedRecord,
  PipelineHooks,
  PipelineStats,
} from "./pipeline.ts";
import type { BatchOutcome, RecordOutcome } from "../ports/profile.ts";
import { planRetry, type RetryOptions, type RetryState } from "../kit/retry.ts";
import { type ActiveBatch, entriesOf } from "./_batcher.ts";
import type { Journal } from "./_journal.ts";
import { Entry } from "./_queue.ts";
import type { PackedRun } from "./_packed_queue.ts";

/** Someone waiting for a set of events: a `flush()` or a `deliver()`. */
export interface Waiter {
  /** Flush waiters cover entries with seq <= target; bulk waiters their own entries. */
  readonly target: number;
  remaining: number;
  readonly result: DeliveryResult;
  readonly resolve: (result: DeliveryResult) => void;
}

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

export function emptyResult(): DeliveryResult {
  return { status: "success", total: 0, success: 0, failure: 0, failedRecords: [] };
}

export function finish(result: DeliveryResult): DeliveryResult {
  result.status = result.failure === 0 ? "success" : result.success === 0 ? "fail" : "partial";
  return result;
}

/** Runs observers in order; a failing observer must not break delivery. */
export function emit<T>(hooks: Array<(value: T) => void> | undefined, value: T): void {
  if (hooks === undefined) return;
  for (const hook of hooks) {
    try {
      hook(value);
    } catch {
      // A failing observer must not break delivery.
    }
  }
}

/** Counts a settled event into a waiter's result. */
export function count(waiter: Waiter, failure: FailedRecord | undefined): void {
  waiter.remaining--;
  waiter.result.total++;
  if (failure === undefined) waiter.result.success++;
  else {
    waiter.result.failure++;
    waiter.result.failedRecords.push(failure);
  }
}

/**
 * The ledger of every event held: counters, the waiters of `flush()`,
 * `deliver()` and `close()`, and how answered batches are applied to them.
 */
export class Settler {
  readonly stats: PipelineStats = {
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
  /** Events held (queued and in batches). */
  unsettled = 0;
  heldBytes = 0;
  inFlight = 0;
  #flushWaiters: Waiter[] = [];
  #idleWaiters: Array<() => void> = [];
  readonly #journal: Journal;
  readonly #clock: Clock;
  readonly #hooks: PipelineHooks;
  readonly #retry: RetryOptions;
  readonly #onFlushDone: () => void;

  constructor(
    journal: Journal,
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

  /** Counts a new held event of `bytes`. */
  hold(bytes: number): void {
    this.unsettled++;
    this.heldBytes += bytes;
  }

  get flushing(): boolean {
    return this.#flushWaiters.length > 0;
  }

  /** Resolves once every event held now with seq <= `target` is settled. */
  waitFlush(target: number): Promise<DeliveryResult> {
    return new Promise((resolve) => {
      this.#flushWaiters.push({
        target,
        remaining: this.unsettled,
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

  /** Ends one event's life and tells whoever waits for it. */
  settle(entry: Entry, how: Settlement, error?: string, code?: number | string) {
    this.unsettled--;
    this.heldBytes -= entry.bytes;
    if (entry.inBatch) {
      entry.inBatch = false;
      this.inFlight--;
    }
    let failure: FailedRecord | undefined;
    switch (how) {
      case "delivered":
        this.stats.delivered++;
        break;
      case "duplicate":
        this.stats.duplicates++;
        break;
      case "failed":
        this.stats.failed++;
        break;
      case "dropped":
        this.stats.dropped++;
    }
    if (how === "failed" || how === "dropped") {
      const base = { key: entry.key, data: entry.data, error: error!, code: code! };
      failure = entry.event === undefined ? base : { ...base, event: entry.event };
    }
    this.#countForFlushes(entry.seq, failure);
    if (entry.bulk !== undefined) {
      const waiter = entry.bulk;
      count(waiter, failure);
      if (waiter.remaining === 0) waiter.resolve(finish(waiter.result));
    }
    this.#wakeIfIdle();
    return failure;
  }

  /**
   * Ends the life of a whole packed run at once, every event delivered or a
   * duplicate, as `settle` would one by one (without an entry per event).
   */
  settleRun(run: PackedRun, how: "delivered" | "duplicate"): void {
    const n = run.length;
    this.unsettled -= n;
    this.inFlight -= n;
    if (how === "delivered") this.stats.delivered += n;
    else this.stats.duplicates += n;
    for (let i = 0; i < n; i++) {
      this.heldBytes -= run.size(i);
      this.#countForFlushes(run.seq(i), undefined);
    }
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

  #wakeIfIdle(): void {
    if (this.unsettled === 0 && this.#idleWaiters.length > 0) {
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
    if (batchOutcome.kind === "all" && !Array.isArray(members)) {
      const { status } = batchOutcome.outcome;
      if (status === "delivered" || status === "duplicate") {
        this.settleRun(members, status);
        this.#journal.settleBatch(batch, () => entriesOf(batch));
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
    const entries = entriesOf(batch);
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
      this.finishBatch(batch, delivered, duplicates, failed, cause);
      return undefined;
    }
    const plan = planRetry(batch.retry, retryAfterMs, this.#retry);
    if (!plan.retry) {
      const { code, reason } = lastRetry!;
      for (const entry of retry) failed.push([entry, code, `${plan.reason}: ${reason}`]);
      this.finishBatch(batch, delivered, duplicates, failed, cause);
      return undefined;
    }
    this.stats.retried += retry.length;
    if (retry.length === entries.length) {
      // Same membership: same key, so the server can recognise the resend.
      this.report(batch, 0, 0, 0, retry.length);
      return { same: true, state: plan.state, delayMs: plan.delayMs };
    }
    const retrying = Entry.detached(retry);
    this.finishBatch(batch, delivered, duplicates, failed, cause, retrying);
    return { same: false, entries: retrying, state: plan.state, delayMs: plan.delayMs };
  }

  /** Settles a batch's delivered, duplicate and failed events; `retrying` stay held, for a new batch. */
  finishBatch(
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
    this.#journal.settleBatch(batch, () => removed, retrying);
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
