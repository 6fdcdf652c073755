import type { JsonValue } from "../event.ts";

/**
 * One queued event as storage keeps it: encoded once, at `track()` time, by
 * the profile's codec, and sent later as-is.
 */
export interface QueuedRecord {
  /** Unique id of the record within its store. */
  readonly id: string;
  /** The event's own idempotency key (receivers de-duplicate on it). */
  readonly key: string;
  /** Group for per-type caps (`track`, `identify`, `identities`, …). */
  readonly group: string;
  /**
   * Records of different streams never share a request (a Hamustro session,
   * a SaaSquatch user/account). `""` when the profile has a single stream.
   */
  readonly stream: string;
  /**
   * Encoded event: a view that may share its buffer with other records (keep
   * a copy, `ownBytes`-style, to hold it apart). The client's records make
   * `id` and `key` when first read (getters): copy records field by field, not
   * by spreading them.
   */
  readonly data: Uint8Array;
  /** When it was queued, epoch milliseconds. */
  readonly queuedAt: number;
}

/**
 * A batch: a fixed membership with its request idempotency key, persisted
 * before its first send so that a resend (even after a restart) reuses both.
 */
export interface StoredBatch {
  /** The batch id, which is also its request idempotency key. */
  readonly id: string;
  /** The stream all its records belong to. */
  readonly stream: string;
  /** Member record ids, in body order. */
  readonly recordIds: readonly string[];
  /** Sends attempted so far. */
  readonly attempt: number;
  /** When it was formed, epoch milliseconds. */
  readonly createdAt: number;
}

/** What a store held when it was opened. */
export interface StorageSnapshot {
  /** Records appended and not yet removed, in append order (batch members included). */
  records: QueuedRecord[];
  /** Batches saved and not yet settled. */
  batches: StoredBatch[];
  /** The key-value area (counters such as Hamustro's `nr`, last sync time, user). */
  values: Map<string, JsonValue>;
  /** What recovery had to skip (torn or corrupt entries); zero when the store was clean. */
  skipped: { entries: number; bytes: number };
}

/**
 * The client's queue as it is, for a store that lives in the same memory
 * (see {@linkcode Storage.adopt}).
 */
export interface LiveQueue {
  /** Events held (queued and in batches). */
  readonly held: number;
  /** Records and saved batches as a journal of them would hold them now. */
  snapshot(): { records: QueuedRecord[]; batches: StoredBatch[] };
}

/**
 * A storage driver: a write-behind journal of the queue. The client keeps the
 * live queue in memory and tells storage every change; storage makes the
 * changes durable (each driver documents when) and gives them back on `open()`.
 *
 * Writing methods return at once; a driver buffers and batches its writes.
 * Failures surface from the next `sync()`, which the client reports.
 */
export interface Storage {
  /** Driver name for errors and stats, e.g. `"memory"`, `"file"`. */
  readonly name: string;
  /**
   * Opens the store (taking any lock) and returns what it holds. Called once.
   * A store already in memory may return the snapshot itself instead of a
   * promise: the client is then open at once, and a synchronous burst of
   * `track()` calls can start sending before it yields.
   */
  open(): Promise<StorageSnapshot> | StorageSnapshot;
  /**
   * Adds records at the end of the queue. Record ids are unique: an id the
   * store holds is never appended again (drivers need not detect it).
   */
  append(records: readonly QueuedRecord[]): void;
  /**
   * Saves (or updates, same id) a batch. Resolves once the batch is durable,
   * since it is sent right after; a store that is durable as soon as the call
   * returns (memory) returns nothing, so the batch goes out in the same tick.
   */
  saveBatch(batch: StoredBatch): Promise<void> | void;
  /**
   * Ends a batch: the listed records leave the store (delivered, duplicate or
   * failed for good); the batch's other records stay queued for a new batch.
   */
  settleBatch(batchId: string, removedRecordIds: readonly string[]): void;
  /** Removes records that are in no batch (dropped by overflow policy, failed validation). */
  remove(recordIds: readonly string[]): void;
  /** Sets a value in the key-value area (`undefined` deletes). */
  setValue(key: string, value: JsonValue | undefined): void;
  /** Resolves when every earlier write is durable; rejects with a `StorageError`. */
  sync(): Promise<void>;
  /** Syncs and releases the store (its lock, file handles). */
  close(): Promise<void>;
  /**
   * Optional, for a store in the client's own memory, where a journal would be
   * a second copy of the queue: once open, the client hands over its live
   * queue instead, and then neither appends records nor saves or settles
   * batches (values still go through `setValue`). The store answers a later
   * `open()` (a restarted client over the same store) from `live.snapshot()`.
   */
  adopt?(live: LiveQueue): void;
}
