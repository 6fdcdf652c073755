import type { JsonValue } from "../event.ts";
import { StorageError } from "../errors/storage_error.ts";
import { INITIAL_RETRY_STATE } from "../kit/retry.ts";
import type { QueuedRecord, Storage, StorageSnapshot } from "../ports/storage.ts";
import type { ActiveBatch } from "./_batcher.ts";
import type { Journal } from "./_journal.ts";
import { Entry } from "./_queue.ts";
import type { Settler } from "./_settle.ts";
import { isPromiseLike } from "../_util/promise.ts";

/** What a previous run left, as live pipeline state. */
export interface Restored {
  /** Saved batches with their stored keys, to send first. */
  readonly batches: ActiveBatch[];
  /** Queued records in no batch, oldest first (seq <= 0). */
  readonly entries: Entry[];
  /** The key-value area as stored. */
  readonly values: Map<string, JsonValue>;
}

/**
 * Opens the storage: its snapshot, or a promise of it (a store in memory
 * answers at once).
 *
 * @throws {StorageError} (or rejects with one) when the store cannot be opened.
 */
export function openStorage(storage: Storage): StorageSnapshot | Promise<StorageSnapshot> {
  const failed = (cause: unknown) =>
    cause instanceof StorageError
      ? cause
      : new StorageError(storage.name, "cannot open", { cause });
  let opened: StorageSnapshot | Promise<StorageSnapshot>;
  try {
    opened = storage.open();
  } catch (cause) {
    throw failed(cause);
  }
  if (!isPromiseLike(opened)) return opened;
  return Promise.resolve(opened).catch((cause) => {
    throw failed(cause);
  });
}

/**
 * Turns an opened store's snapshot into batches and queued entries, counted
 * as held. A batch whose records are gone is settled; a record in two
 * batches stays in the first.
 */
export function restore(snapshot: StorageSnapshot, journal: Journal, settler: Settler): Restored {
  const { storage } = journal;
  if (snapshot.skipped.entries > 0) {
    settler.emitError(
      new StorageError(
        storage.name,
        `recovery skipped ${snapshot.skipped.entries} damaged entries (${snapshot.skipped.bytes} bytes)`,
      ),
    );
  }
  const byId = new Map<string, QueuedRecord>();
  for (const record of snapshot.records) byId.set(record.id, record);
  let seq = -snapshot.records.length;
  const newEntry = (record: QueuedRecord, inBatch: boolean): Entry => {
    const entry = Entry.of(record, seq++);
    entry.inBatch = inBatch;
    settler.hold(entry.bytes);
    settler.stats.tracked++;
    return entry;
  };
  const batches: ActiveBatch[] = [];
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
      storage.settleBatch(stored.id, []);
      continue;
    }
    settler.inFlight += entries.length;
    const batch: ActiveBatch = {
      id: stored.id,
      stream: stored.stream,
      members: entries,
      attempt: stored.attempt,
      createdAt: stored.createdAt,
      retry: { ...INITIAL_RETRY_STATE, retries: stored.attempt },
      saved: true,
    };
    journal.form(batch);
    batches.push(batch);
  }
  const entries: Entry[] = [];
  for (const record of snapshot.records) {
    if (!batched.has(record.id)) entries.push(newEntry(record, false));
  }
  return { batches, entries, values: snapshot.values };
}
