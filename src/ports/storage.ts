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
   * The encoded event. Its bytes never change; it may be a view into a
   * larger buffer, which it keeps alive while it is held.
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
  /** Opens the store (taking any lock) and resolves with what it holds. Called once. */
  open(): Promise<StorageSnapshot>;
  /**
   * Adds records at the end of the queue. Record ids are unique: an id the
   * store holds is never appended again (drivers need not detect it).
   */
  append(records: readonly QueuedRecord[]): void;
  /** Saves (or updates, same id) a batch. Resolves once the batch is durable: it is sent right after. */
  saveBatch(batch: StoredBatch): Promise<void>;
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
}
