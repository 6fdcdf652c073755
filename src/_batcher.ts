import { chunkBySize } from "./chunk.ts";
import type { Clock } from "./clock.ts";
import { generateIdempotencyKey } from "./idempotency_key.ts";
import type { Framing } from "./chunk.ts";
import { INITIAL_RETRY_STATE, type RetryState } from "./retry.ts";
import type { StoredBatch } from "./storage.ts";
import type { Journal } from "./_journal.ts";
import type { Entry, EntryQueue } from "./_queue.ts";
import type { Settler } from "./_settle.ts";

/** A formed batch: fixed membership and key, sending or waiting to retry. */
export interface ActiveBatch {
  id: string;
  stream: string;
  entries: Entry[];
  attempt: number;
  createdAt: number;
  retry: RetryState;
  saved: boolean;
}

/** Request caps, already bounded by the profile's. */
export interface BatchLimits {
  readonly maxBatchBytes: number;
  readonly maxBatchEvents: number;
  readonly maxItemsPerType: number;
}

/**
 * Forms batches with the byte-size chunker (the profile's framing and the
 * caps), and persists each one's key and membership before its first send.
 */
export class Batcher {
  readonly #framing: Framing;
  readonly #limits: BatchLimits;
  readonly #clock: Clock;
  readonly #journal: Journal;
  readonly #settler: Settler;

  constructor(
    framing: Framing,
    limits: BatchLimits,
    clock: Clock,
    journal: Journal,
    settler: Settler,
  ) {
    this.#framing = framing;
    this.#limits = limits;
    this.#clock = clock;
    this.#journal = journal;
    this.#settler = settler;
  }

  /** Takes the next batch off the head of the queue while `mayForm(head)` allows one. */
  next(queue: EntryQueue, mayForm: (head: Entry) => boolean): ActiveBatch | undefined {
    const { maxBatchBytes, maxBatchEvents } = this.#limits;
    for (let head = queue.at(0); head !== undefined; head = queue.at(0)) {
      if (!mayForm(head)) return undefined;
      // A window of the queue's head, same stream, roughly one request's worth;
      // chunkBySize then applies the exact caps.
      const slice: Entry[] = [];
      let bytes = 0;
      for (let i = 0; i < queue.length; i++) {
        const entry = queue.at(i)!;
        if (entry.stream !== head.stream || slice.length >= maxBatchEvents) break;
        bytes += entry.bytes + 1;
        if (slice.length > 0 && bytes > maxBatchBytes) break;
        slice.push(entry);
      }
      const plan = this.#chunk(slice);
      const next = plan.chunks[1]?.[0];
      const consumed = next === undefined ? slice.length : slice.indexOf(next);
      queue.skip(consumed);
      this.#settler.failOversize(
        plan.oversize.filter((entry) => slice.indexOf(entry) < consumed),
        maxBatchBytes,
      );
      const first = plan.chunks[0];
      if (first !== undefined) return this.create(first, INITIAL_RETRY_STATE, 0);
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
      const plan = this.#chunk(list);
      this.#settler.failOversize(plan.oversize, this.#limits.maxBatchBytes);
      for (const chunk of plan.chunks) batches.push(this.create(chunk, INITIAL_RETRY_STATE, 0));
    }
    return batches;
  }

  /** A new batch (new key) over `entries`. */
  create(entries: Entry[], retry: RetryState, attempt: number): ActiveBatch {
    for (const entry of entries) {
      if (!entry.inBatch) {
        entry.inBatch = true;
        this.#settler.inFlight++;
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

  /** 413: halves get new keys (their membership changed). Needs two entries or more. */
  split(batch: ActiveBatch): [ActiveBatch, ActiveBatch] {
    this.#journal.settleBatch(batch.id, []);
    const middle = Math.ceil(batch.entries.length / 2);
    return [
      this.create(batch.entries.slice(0, middle), batch.retry, batch.attempt),
      this.create(batch.entries.slice(middle), batch.retry, batch.attempt),
    ];
  }

  /**
   * Persists the batch's key and membership (its records journaled first);
   * returns nothing when the storage was durable at once.
   */
  save(batch: ActiveBatch): Promise<void> | void {
    const saving = this.#journal.saveBatch(stored(batch));
    if (saving === undefined) {
      batch.saved = true;
      return;
    }
    return saving.then(() => {
      batch.saved = true;
    });
  }

  #chunk(entries: Entry[]) {
    const { maxBatchBytes, maxBatchEvents, maxItemsPerType } = this.#limits;
    return chunkBySize(entries, {
      sizeOf: (entry) => entry.bytes,
      groupOf: (entry) => entry.group,
      framing: this.#framing,
      maxBytes: maxBatchBytes,
      maxItems: maxBatchEvents,
      maxItemsPerGroup: maxItemsPerType,
    });
  }
}

function stored(batch: ActiveBatch): StoredBatch {
  return {
    id: batch.id,
    stream: batch.stream,
    recordIds: batch.entries.map((entry) => entry.id),
    attempt: batch.attempt,
    createdAt: batch.createdAt,
  };
}
