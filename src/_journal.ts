import type { JsonValue } from "./event.ts";
import type { QueuedRecord, Storage, StoredBatch } from "./storage.ts";

/**
 * The pipeline's side of the storage journal: new records are handed over
 * in one `append` per tick, and nothing reaches storage before it is open
 * (records and values set earlier wait here).
 */
export class Journal {
  readonly storage: Storage;
  #opened = false;
  #unjournaled: QueuedRecord[] = [];
  readonly #pendingValues = new Map<string, JsonValue | undefined>();

  constructor(storage: Storage) {
    this.storage = storage;
  }

  get opened(): boolean {
    return this.#opened;
  }

  /** Storage is open: values set before go out now, records at the next `flush()`. */
  markOpen(): void {
    this.#opened = true;
    for (const [key, value] of this.#pendingValues) this.storage.setValue(key, value);
    this.#pendingValues.clear();
  }

  /** Values set before open, in order (applied over the snapshot's). */
  pendingValues(): Iterable<[string, JsonValue | undefined]> {
    return this.#pendingValues;
  }

  add(record: QueuedRecord): void {
    this.#unjournaled.push(record);
  }

  /** Hands new records to storage in one call. */
  flush(): void {
    if (!this.#opened || this.#unjournaled.length === 0) return;
    const records = this.#unjournaled;
    this.#unjournaled = [];
    this.storage.append(records);
  }

  /** Removes records in no batch (before open: from the unwritten buffer). */
  forget(ids: string[]): void {
    if (ids.length === 0) return;
    if (!this.#opened) {
      const gone = new Set(ids);
      this.#unjournaled = this.#unjournaled.filter((record) => !gone.has(record.id));
      return;
    }
    this.flush();
    this.storage.remove(ids);
  }

  /** Saves a batch once its records are journaled. */
  saveBatch(batch: StoredBatch): Promise<void> | void {
    this.flush();
    return this.storage.saveBatch(batch);
  }

  settleBatch(batchId: string, removedRecordIds: readonly string[]): void {
    this.storage.settleBatch(batchId, removedRecordIds);
  }

  setValue(key: string, value: JsonValue | undefined): void {
    if (this.#opened) this.storage.setValue(key, value);
    else this.#pendingValues.set(key, value);
  }
}
