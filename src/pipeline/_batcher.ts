import { chunkBySize, type Framing } from "../kit/chunk.ts";
import type { Clock } from "../ports/clock.ts";
import { generateIdempotencyKey } from "../idempotency_key.ts";
import { INITIAL_RETRY_STATE, type RetryState } from "../kit/retry.ts";
import type { ActiveBatch, Members } from "./_batch.ts";
import type { Entry } from "./_entry.ts";
import type { QueueJournal } from "./_journal.ts";
import type { Ledger } from "./_ledger.ts";
import { membersOf, type Queue } from "./queue/queue.ts";

/** Request caps, already bounded by the profile's. */
export interface BatchLimits {
  readonly maxBatchBytes: number;
  readonly maxBatchEvents: number;
  readonly maxItemsPerGroup: number;
}

/**
 * Forms batches with the byte-size chunker (the profile's framing and the
 * caps), and persists each one's key and membership before its first send.
 */
export class Batcher {
  readonly #framing: Framing;
  readonly #limits: BatchLimits;
  readonly #clock: Clock;
  readonly #journal: QueueJournal;
  readonly #ledger: Ledger;

  constructor(
    framing: Framing,
    limits: BatchLimits,
    clock: Clock,
    journal: QueueJournal,
    ledger: Ledger,
  ) {
    this.#framing = framing;
    this.#limits = limits;
    this.#clock = clock;
    this.#journal = journal;
    this.#ledger = ledger;
  }

  /** Takes the next batch off the head of the queue while `mayForm(seq of the head)` allows one. */
  next(queue: Queue, mayForm: (headSeq: number) => boolean): ActiveBatch | undefined {
    const { maxBatchBytes, maxBatchEvents } = this.#limits;
    while (queue.length > 0) {
      if (!mayForm(queue.seqAt(0))) return undefined;
      // A window of the queue's head, same stream, roughly one request's worth;
      // chunkBySize then applies the exact caps to the events' places in it.
      const stream = queue.streamAt(0);
      const window: number[] = [];
      let bytes = 0;
      for (let i = 0; i < queue.length && i < maxBatchEvents; i++) {
        if (queue.streamAt(i) !== stream) break;
        bytes += queue.sizeAt(i) + 1;
        if (i > 0 && bytes > maxBatchBytes) break;
        window.push(i);
      }
      const plan = this.#chunk(window, (i) => queue.sizeAt(i), (i) => queue.groupAt(i));
      // Places in the window are places in the queue: the first chunk ends where the next begins.
      const consumed = plan.chunks[1]?.[0] ?? window.length;
      const oversize = plan.oversize.filter((i) => i < consumed);
      const first = plan.chunks[0];
      if (first !== undefined && oversize.length === 0 && first.length === consumed) {
        return this.create(queue.take(consumed), INITIAL_RETRY_STATE, 0);
      }
      const taken = queue.takeEntries(consumed);
      // The batch is formed before the oversize events are reported (an error hook may read a
      // live store: the others must be in a batch by then).
      const batch = first === undefined ? undefined : this.create(
        membersOf(first.length === taken.length ? taken : first.map((i) => taken[i]!)),
        INITIAL_RETRY_STATE,
        0,
      );
      this.#ledger.failOversize(oversize.map((i) => taken[i]!), maxBatchBytes);
      if (batch !== undefined) return batch;
    }
    return undefined;
  }

  /** Batches for `deliver()`: per stream, in order. */
  formAll(entries: Entry[]): ActiveBatch[] {
    const byStream = new Map<string, Entry[]>();
    for (const entry of entries) {
      const list = byStream.get(entry.stream);
      if (list === undefined) byStream.set(entry.stream, [entry]);
      else list.push(entry);
    }
    const batches: ActiveBatch[] = [];
    for (const list of byStream.values()) {
      const plan = this.#chunk(list, (entry) => entry.bytes, (entry) => entry.group);
      this.#ledger.failOversize(plan.oversize, this.#limits.maxBatchBytes);
      for (const chunk of plan.chunks) {
        batches.push(this.create(membersOf(chunk), INITIAL_RETRY_STATE, 0));
      }
    }
    return batches;
  }

  /** A new batch (new key) over `members`. */
  create(members: Members, retry: RetryState, attempt: number): ActiveBatch {
    this.#ledger.enterBatch(members.enter());
    const batch: ActiveBatch = {
      id: generateIdempotencyKey(),
      stream: members.stream,
      members,
      attempt,
      createdAt: this.#clock.now(),
      retry,
      saved: false,
    };
    this.#journal.form(batch);
    return batch;
  }

  /** A new batch (new key) over `entries` (at least one). */
  createOf(entries: Entry[], retry: RetryState, attempt: number): ActiveBatch {
    return this.create(membersOf(entries), retry, attempt);
  }

  /** 413: halves get new keys (their membership changed). Needs two entries or more. */
  split(batch: ActiveBatch): [ActiveBatch, ActiveBatch] {
    this.#journal.endBatch(batch, () => []);
    const entries = batch.members.entries();
    const middle = Math.ceil(entries.length / 2);
    return [
      this.createOf(entries.slice(0, middle), batch.retry, batch.attempt),
      this.createOf(entries.slice(middle), batch.retry, batch.attempt),
    ];
  }

  /**
   * Persists the batch's key and membership (its records journaled first);
   * returns nothing when the storage was durable at once.
   */
  save(batch: ActiveBatch): Promise<void> | undefined {
    const saving = this.#journal.saveBatch(batch);
    if (saving === undefined) {
      batch.saved = true;
      return undefined;
    }
    const done = saving.then(() => {
      batch.saved = true;
      batch.saving = undefined;
    }, (error) => {
      batch.saving = undefined;
      throw error;
    });
    batch.saving = done;
    return done;
  }

  #chunk<T>(items: T[], sizeOf: (item: T) => number, groupOf: (item: T) => string) {
    const { maxBatchBytes, maxBatchEvents, maxItemsPerGroup } = this.#limits;
    return chunkBySize(items, {
      sizeOf,
      groupOf,
      framing: this.#framing,
      maxBytes: maxBatchBytes,
      maxItems: maxBatchEvents,
      maxItemsPerGroup,
    });
  }
}
