import type { JsonValue } from "../../event.ts";
import type { QueuedRecord, StoredBatch } from "../../ports/storage.ts";

/** One change the client reported, as the write-behind journals keep it until written. */
export type StorageOp =
  | { readonly type: "append"; readonly records: readonly QueuedRecord[] }
  | { readonly type: "saveBatch"; readonly batch: StoredBatch }
  | {
    readonly type: "settleBatch";
    readonly batchId: string;
    readonly removedRecordIds: readonly string[];
  }
  | { readonly type: "remove"; readonly recordIds: readonly string[] }
  | { readonly type: "setValue"; readonly key: string; readonly value: JsonValue | undefined };

/**
 * Copies what the caller could still mutate after the call returned (arrays of
 * ids, the batch object); records and their bytes are immutable by contract.
 */
export function freezeOp(op: StorageOp): StorageOp {
  switch (op.type) {
    case "append":
      return { type: "append", records: op.records.slice() };
    case "saveBatch":
      return { type: "saveBatch", batch: { ...op.batch, recordIds: op.batch.recordIds.slice() } };
    case "settleBatch":
      return { ...op, removedRecordIds: op.removedRecordIds.slice() };
    case "remove":
      return { type: "remove", recordIds: op.recordIds.slice() };
    case "setValue":
      return op.value === undefined ? op : { ...op, value: structuredClone(op.value) };
  }
}

/**
 * The bytes of a record as a `Uint8Array` that owns its whole buffer.
 * Encoders hand out views into shared slabs; structured clone (IndexedDB) and
 * V8 serialization (Deno KV values) copy a view's ENTIRE buffer, which would
 * store a whole slab per record (or exceed Deno KV's 64 KiB value limit).
 */
export function ownBytes(data: Uint8Array): Uint8Array {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
}

/**
 * A record's own fields but its bytes: callers may pass richer objects (the
 * pipeline's queue entries carry bookkeeping), and structured clone or JSON
 * would copy — or refuse — the rest. Drivers add `data` in their own form.
 */
export function recordFields(record: QueuedRecord): Omit<QueuedRecord, "data"> {
  const { id, key, group, stream, queuedAt } = record;
  return { id, key, group, stream, queuedAt };
}
