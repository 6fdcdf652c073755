import { inMemoryStore, type LiveQueue } from "../_util/internal.ts";
import type { JsonValue } from "../event.ts";
import type { QueuedRecord, Storage, StorageSnapshot, StoredBatch } from "../ports/storage.ts";
import { type ActiveBatch, stored } from "./_batch.ts";
import type { Entry } from "./_entry.ts";

/** What the live queue stands for in a store in the engine's memory. */
export type LiveHeld = { records: QueuedRecord[]; batches: StoredBatch[] };

/**
 * The engine's journal of its queue in {@linkcode Storage}: new records are
 * handed over in one `append` per tick, and nothing reaches storage before
 * it is open (records and values set earlier wait here). A store in the
 * engine's own memory takes the live queue instead and is told nothing of
 * records or batches. Either way the journal knows the batches formed and
 * not yet ended.
 */
export class QueueJournal {
  readonly storage: Storage;
  /** Whether the storage takes the live queue instead of a journal of records. */
  readonly live: boolean;
  /** Batches formed and not ended (saved or not). */
  readonly formed = new Set<ActiveBatch>();
  /**
   * Events of an ended batch that go on in a new one, until it is formed (hooks run in between,
   * and may read a live store).
   */
  readonly between = new Set<Entry>();
  #opened = false;
  #unjournaled: QueuedRecord[] = [];
  readonly #pendingValues = new Map<string, JsonValue | undefined>();

  constructor(storage: Storage) {
    this.storage = storage;
    this.live = inMemoryStore(storage) !== undefined;
  }

  /** What a store in memory holds, at once; `undefined` for any other store (open it). */
  openNow(): StorageSnapshot | undefined {
    return inMemoryStore<StorageSnapshot, LiveHeld>(this.storage)?.openNow();
  }

  /**
   * Storage is open: values set before go out now, records at the next
   * `flush()`; a store in memory gets `live`.
   */
  markOpen(live: LiveQueue<LiveHeld>): void {
    this.#opened = true;
    const inMemory = inMemoryStore<StorageSnapshot, LiveHeld>(this.storage);
    if (inMemory !== undefined) {
      this.#unjournaled = [];
      inMemory.adopt(live);
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
      const gone = new Set<QueuedRecord>(entries.map((entry) => entry.record()));
      this.#unjournaled = this.#unjournaled.filter((record) => !gone.has(record));
      return;
    }
    this.flush();
    this.storage.remove(entries.map((entry) => entry.id));
  }

  /** A batch was formed (its key and membership are fixed). */
  form(batch: ActiveBatch): void {
    this.formed.add(batch);
    if (this.between.size > 0) {
      for (const entry of batch.members.entries()) this.between.delete(entry);
    }
  }

  /**
   * Saves a batch once its records are journaled; `undefined` (nothing to
   * wait for) when the store is live.
   */
  saveBatch(batch: ActiveBatch): Promise<void> | undefined {
    if (this.live) return undefined;
    this.flush();
    return this.storage.saveBatch(stored(batch));
  }

  /**
   * Ends a batch; the events `removedIds()` lists leave storage, the others
   * stay queued (a live store needs no list); `staying` go on in a new batch.
   */
  endBatch(
    batch: ActiveBatch,
    removedIds: () => readonly string[],
    staying: readonly Entry[] = [],
  ): void {
    this.formed.delete(batch);
    for (const entry of staying) this.between.add(entry);
    if (!this.live) this.storage.settleBatch(batch.id, removedIds());
  }

  /** Ends a stored batch that has no records left (found on restore). */
  endEmptyBatch(batchId: string): void {
    this.storage.settleBatch(batchId, []);
  }

  setValue(key: string, value: JsonValue | undefined): void {
    if (this.#opened) this.storage.setValue(key, value);
    else this.#pendingValues.set(key, value);
  }
}
