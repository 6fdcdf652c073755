import type { JsonValue } from "../event.ts";
import type { LiveQueue, QueuedRecord, Storage, StoredBatch } from "../ports/storage.ts";
import { type ActiveBatch, entriesOf } from "./_batcher.ts";
import type { Entry } from "./_queue.ts";

/**
 * The pipeline's side of the storage journal: new records are handed over
 * in one `append` per tick, and nothing reaches storage before it is open
 * (records and values set earlier wait here). A store that adopts the live
 * queue ({@linkcode Storage.adopt}) is told nothing of records or batches.
 * Either way the journal knows the batches formed and not yet settled.
 */
export class Journal {
  readonly storage: Storage;
  /** Whether the storage takes the live queue instead of a journal of records. */
  readonly live: boolean;
  /** Batches formed and not settled (saved or not). */
  readonly formed = new Set<ActiveBatch>();
  /**
   * Events of a settled batch that go on in a new one, until it is formed (hooks run in between,
   * and may read a live store).
   */
  readonly between = new Set<Entry>();
  #opened = false;
  #unjournaled: QueuedRecord[] = [];
  readonly #pendingValues = new Map<string, JsonValue | undefined>();

  constructor(storage: Storage) {
    this.storage = storage;
    this.live = typeof storage.adopt === "function";
  }

  get opened(): boolean {
    return this.#opened;
  }

  /**
   * Storage is open: values set before go out now, records at the next
   * `flush()`; a store that adopts the live queue gets `live`.
   */
  markOpen(live: LiveQueue): void {
    this.#opened = true;
    if (this.live) {
      this.#unjournaled = [];
      this.storage.adopt!(live);
    }
    for (const [key, value] of this.#pendingValues) this.storage.setValue(key, value);
    this.#pendingValues.clear();
  }

  /** Values set before open, in order (applied over the snapshot's). */
  pendingValues(): Iterable<[string, JsonValue | undefined]> {
    return this.#pendingValues;
  }

  add(record: QueuedRecord): void {
    if (!this.live) this.#unjournaled.push(record);
  }

  /** Hands new records to storage in one call. */
  flush(): void {
    if (!this.#opened || this.#unjournaled.length === 0) return;
    const records = this.#unjournaled;
    this.#unjournaled = [];
    this.storage.append(records);
  }

  /** Removes records in no batch (before open: from the unwritten buffer). */
  forget(entries: readonly Entry[]): void {
    if (entries.length === 0 || this.live) return;
    if (!this.#opened) {
      const gone = new Set<QueuedRecord>(entries);
      this.#unjournaled = this.#unjournaled.filter((record) => !gone.has(record));
      return;
    }
    this.flush();
    this.storage.remove(entries.map((entry) => entry.id));
  }

  /** A batch was formed (its key and membership are fixed). */
  form(batch: ActiveBatch): void {
    this.formed.add(batch);
    if (this.between.size > 0 && Array.isArray(batch.members)) {
      for (const entry of batch.members) this.between.delete(entry);
    }
  }

  /** Saves a batch once its records are journaled; nothing to wait for when the store is live. */
  saveBatch(batch: ActiveBatch): Promise<void> | void {
    if (this.live) return;
    this.flush();
    return this.storage.saveBatch(stored(batch));
  }

  /**
   * Ends a batch; the events `removed()` lists leave storage, the others stay
   * queued (a live store needs no list); `staying` go on in a new batch.
   */
  settleBatch(
    batch: ActiveBatch,
    removed: () => readonly Entry[],
    staying: readonly Entry[] = [],
  ): void {
    this.formed.delete(batch);
    for (const entry of staying) this.between.add(entry);
    if (!this.live) this.storage.settleBatch(batch.id, removed().map((entry) => entry.id));
  }

  setValue(key: string, value: JsonValue | undefined): void {
    if (this.#opened) this.storage.setValue(key, value);
    else this.#pendingValues.set(key, value);
  }
}

/** A batch as storage keeps it. */
export function stored(batch: ActiveBatch): StoredBatch {
  return {
    id: batch.id,
    stream: batch.stream,
    recordIds: entriesOf(batch).map((entry) => entry.id),
    attempt: batch.attempt,
    createdAt: batch.createdAt,
  };
}
