import type { JsonValue } from "./event.ts";
import type { QueuedRecord, Storage, StorageSnapshot, StoredBatch } from "./storage.ts";

/** Options of {@linkcode MemoryStorage}. */
export interface MemoryStorageOptions {
  /**
   * Another instance whose data this one shares: a new driver over the same
   * queue, as a restarted client over a durable store would get one.
   *
   * @default {undefined} (a new, empty queue)
   */
  sharedWith?: MemoryStorage;
}

/**
 * The records in append order, without a per-record hash table: records are
 * settled mostly in the order they were queued, so a removal usually matches
 * the oldest record (`head`); the others wait in `gone` (in removal order,
 * matched at the head as it reaches them) and are resolved in bulk when they
 * pile up. Removed records are released as the head passes them.
 */
class RecordLog {
  #records: QueuedRecord[] = [];
  #head = 0;
  #gone: string[] = [];
  #goneHead = 0;

  append(records: readonly QueuedRecord[]): void {
    for (let i = 0; i < records.length; i++) this.#records.push(records[i]!);
  }

  remove(ids: readonly string[]): void {
    const records = this.#records;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (this.#head < records.length && records[this.#head]!.id === id) {
        records[this.#head++] = undefined as unknown as QueuedRecord;
      } else {
        this.#gone.push(id);
      }
    }
    // Earlier out-of-order removals the head has now reached.
    while (
      this.#goneHead < this.#gone.length && this.#head < records.length &&
      records[this.#head]!.id === this.#gone[this.#goneHead]
    ) {
      records[this.#head++] = undefined as unknown as QueuedRecord;
      this.#goneHead++;
    }
    const pending = this.#gone.length - this.#goneHead;
    if (pending === 0) {
      this.#gone = [];
      this.#goneHead = 0;
    } else if (pending > 1024 && pending * 2 > records.length - this.#head) {
      this.#resolve();
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > records.length) {
      this.#records = records.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The records not removed, in append order. */
  live(): QueuedRecord[] {
    this.#resolve();
    return this.#records.slice(this.#head);
  }

  get size(): number {
    this.#resolve();
    return this.#records.length - this.#head;
  }

  /** Applies the pending out-of-order removals in one pass. */
  #resolve(): void {
    if (this.#goneHead === this.#gone.length) return;
    const gone = new Set(this.#gone.slice(this.#goneHead));
    const kept: QueuedRecord[] = [];
    for (let i = this.#head; i < this.#records.length; i++) {
      const record = this.#records[i]!;
      if (!gone.has(record.id)) kept.push(record);
    }
    this.#records = kept;
    this.#head = 0;
    this.#gone = [];
    this.#goneHead = 0;
  }
}

interface MemoryData {
  readonly records: RecordLog;
  readonly batches: Map<string, StoredBatch>;
  readonly values: Map<string, JsonValue>;
}

/**
 * The default storage: the queue journal kept in this process's memory.
 *
 * It does **not** survive a restart: events still queued when the process
 * ends are lost (use a durable driver such as `./storage/file` for that).
 * It does survive a client: a new client opened on the same instance (or on
 * a `new MemoryStorage({ sharedWith })`) resumes whatever the previous one
 * left (queued records, formed batches with their keys, values), which is how
 * tests simulate a crash without a file.
 *
 * @example Usage
 * ```ts
 * import { MemoryStorage } from "./memory_storage.ts";
 * import assert from "node:assert/strict";
 *
 * const storage = new MemoryStorage();
 * await storage.open();
 * const data = new Uint8Array([123, 125]);
 * storage.append([{ id: "r1", key: "event-0001", group: "track", stream: "", data, queuedAt: 0 }]);
 * await storage.saveBatch({ id: "batch-0001", stream: "", recordIds: ["r1"], attempt: 0, createdAt: 0 });
 * const again = await storage.open(); // what a new client would resume
 * assert.equal(again.records.length, 1);
 * assert.equal(again.batches[0]?.id, "batch-0001");
 * const other = new MemoryStorage({ sharedWith: storage }); // a new driver over the same data
 * assert.equal((await other.open()).records[0]?.key, "event-0001");
 * ```
 */
export class MemoryStorage implements Storage {
  readonly name = "memory";
  readonly #data: MemoryData;
  readonly #records: RecordLog;
  readonly #batches: Map<string, StoredBatch>;
  readonly #values: Map<string, JsonValue>;

  constructor(options: MemoryStorageOptions = {}) {
    const { sharedWith } = options;
    this.#data = sharedWith === undefined
      ? { records: new RecordLog(), batches: new Map(), values: new Map() }
      : sharedWith.#data;
    ({ records: this.#records, batches: this.#batches, values: this.#values } = this.#data);
  }

  /** Returns what the store holds; may be called again by a later client. */
  open(): Promise<StorageSnapshot> {
    return Promise.resolve({
      records: this.#records.live(),
      batches: [...this.#batches.values()],
      values: new Map(this.#values),
      skipped: { entries: 0, bytes: 0 },
    });
  }

  append(records: readonly QueuedRecord[]): void {
    this.#records.append(records);
  }

  saveBatch(batch: StoredBatch): Promise<void> {
    // A copy: the caller may reuse its arrays (the records themselves are kept as given).
    this.#batches.set(batch.id, { ...batch, recordIds: [...batch.recordIds] });
    return Promise.resolve();
  }

  settleBatch(batchId: string, removedRecordIds: readonly string[]): void {
    this.#batches.delete(batchId);
    this.#records.remove(removedRecordIds);
  }

  remove(recordIds: readonly string[]): void {
    this.#records.remove(recordIds);
  }

  setValue(key: string, value: JsonValue | undefined): void {
    if (value === undefined) this.#values.delete(key);
    else this.#values.set(key, structuredClone(value));
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Records held (queued or in a batch); for tests and diagnostics. */
  get size(): number {
    return this.#records.size;
  }
}
