import type { JsonValue } from "../event.ts";
import { StorageError } from "../errors/storage_error.ts";
import { INITIAL_RETRY_STATE } from "../kit/retry.ts";
import type { QueuedRecord, Storage, StorageSnapshot } from "../ports/storage.ts";
import type { ActiveBatch } from "./_batch.ts";
import { Entry } from "./_entry.ts";
import { membersOf } from "./queue/queue.ts";

/** What a previous run left, as engine state (not counted anywhere yet). */
export interface Restored {
  /** Saved batches with their stored keys, to send first (their entries are in a batch). */
  readonly batches: ActiveBatch[];
  /** Queued records in no batch, oldest first (seq <= 0). */
  readonly entries: Entry[];
  /** Stored batches none of whose records are left, to end. */
  readonly emptyBatchIds: string[];
  /** The key-value area as stored. */
  readonly values: Map<string, JsonValue>;
}

/**
 * Opens the storage.
 *
 * @throws {StorageError} (rejects with one) when the store cannot be opened.
 */
export function openStorage(storage: Storage): Promise<StorageSnapshot> {
  const failed = (cause: unknown) =>
    cause instanceof StorageError
      ? cause
      : new StorageError(storage.name, "cannot open", { cause });
  try {
    return Promise.resolve(storage.open()).catch((cause) => {
      throw failed(cause);
    });
  } catch (cause) {
    return Promise.reject(failed(cause));
  }
}

/**
 * Turns an opened store's snapshot into batches and queued entries. A batch
 * whose records are gone is listed to end; a record in two batches stays in
 * the first.
 */
export function restore(snapshot: StorageSnapshot): Restored {
  const byId = new Map<string, QueuedRecord>();
  for (const record of snapshot.records) byId.set(record.id, record);
  let seq = -snapshot.records.length;
  const newEntry = (record: QueuedRecord, inBatch: boolean): Entry => {
    const entry = Entry.of(record, seq++);
    entry.inBatch = inBatch;
    return entry;
  };
  const batches: ActiveBatch[] = [];
  const emptyBatchIds: string[] = [];
  const batched = new Set<string>();
  for (const stored of snapshot.batches) {
    const entries: Entry[] = [];
    for (const id of stored.recordIds) {
      const record = byId.get(id);
      if (record === undefined || batched.has(id)) continue;
      batched.add(id);
      entries.push(newEntry(record, true));
    }
    if (entries.length === 0) {
      emptyBatchIds.push(stored.id);
      continue;
    }
    batches.push({
      id: stored.id,
      stream: stored.stream,
      members: membersOf(entries),
      attempt: stored.attempt,
      createdAt: stored.createdAt,
      retry: { ...INITIAL_RETRY_STATE, retries: stored.attempt },
      saved: true,
    });
  }
  const entries: Entry[] = [];
  for (const record of snapshot.records) {
    if (!batched.has(record.id)) entries.push(newEntry(record, false));
  }
  return { batches, entries, emptyBatchIds, values: snapshot.values };
}
