import type { JsonValue } from "../../event.ts";
import { carry, type LiveQueue } from "../../_util/internal.ts";
import type { QueuedRecord, Storage, StorageSnapshot, StoredBatch } from "../../ports/storage.ts";
import { RecordLog } from "./_record_log.ts";

/** What the client's live queue stands for: the records and saved batches a journal would hold. */
type Held = { records: QueuedRecord[]; batches: StoredBatch[] };

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

interface MemoryData {
  records: RecordLog;
  batches: Map<string, StoredBatch>;
  readonly values: Map<string, JsonValue>;
  /** The queue of the client that adopted the store, which stands for records and batches. */
  live: LiveQueue<Held> | undefined;
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
 * A client keeps no second copy of its queue here: the store reads the
 * queue of the client using it, and a client opens it at once, without
 * waiting for a promise.
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

  /** Creates an empty store, or one over the data of `options.sharedWith`. */
  constructor(options: MemoryStorageOptions = {}) {
    const { sharedWith } = options;
    const data = this.#data = sharedWith === undefined ? newData() : sharedWith.#data;
    carry(this, {
      openNow: () => snapshotOf(data),
      // The client's live queue stands for the records and batches held until now.
      adopt(live: LiveQueue<Held>): void {
        data.live = live;
        data.records = newRecordLog();
        data.batches = new Map();
      },
    });
  }

  /**
   * Resolves with what the store holds (the queue of the client using it, as
   * it is now); may be called again by a later client.
   */
  open(): Promise<StorageSnapshot> {
    return Promise.resolve(snapshotOf(this.#data));
  }

  append(records: readonly QueuedRecord[]): void {
    this.#data.records.append(records);
  }

  saveBatch(batch: StoredBatch): Promise<void> {
    // A copy: the caller may reuse its arrays (the records themselves are kept as given).
    this.#data.batches.set(batch.id, { ...batch, recordIds: [...batch.recordIds] });
    return Promise.resolve();
  }

  settleBatch(batchId: string, removedRecordIds: readonly string[]): void {
    this.#data.batches.delete(batchId);
    this.#data.records.remove(removedRecordIds);
  }

  remove(recordIds: readonly string[]): void {
    this.#data.records.remove(recordIds);
  }

  setValue(key: string, value: JsonValue | undefined): void {
    const { values } = this.#data;
    if (value === undefined) values.delete(key);
    else values.set(key, structuredClone(value));
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Records held (queued or in a batch); for tests and diagnostics. */
  get size(): number {
    const { live, records } = this.#data;
    return live === undefined ? records.size : live.held;
  }
}

// No byte accounting (nothing here is sized).
const newRecordLog = () => new RecordLog(() => 0);

function snapshotOf(data: MemoryData): StorageSnapshot {
  const { live, records, batches, values } = data;
  const held = live === undefined
    ? { records: records.live(), batches: [...batches.values()] }
    : live.snapshot();
  return { ...held, values: new Map(values), skipped: { entries: 0, bytes: 0 } };
}

function newData(): MemoryData {
  return { records: newRecordLog(), batches: new Map(), values: new Map(), live: undefined };
}
