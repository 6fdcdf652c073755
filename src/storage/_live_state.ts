import type { JsonValue } from "../event.ts";
import type { QueuedRecord, StorageSnapshot, StoredBatch } from "../storage.ts";
import type { StorageOp } from "./_ops.ts";

/**
 * The state a journal of {@linkcode StorageOp}s describes. Every op is a
 * last-writer-wins change of one key (record id, batch id, value key), so
 * applying an op twice in the same order leaves the same state: drivers may
 * replay ops after a failed write without corrupting anything.
 */
export class LiveState {
  readonly records: Map<string, QueuedRecord> = new Map();
  readonly batches: Map<string, StoredBatch> = new Map();
  readonly values: Map<string, JsonValue> = new Map();

  apply(op: StorageOp): void {
    switch (op.type) {
      case "append":
        for (const record of op.records) this.records.set(record.id, record);
        break;
      case "saveBatch":
        this.batches.set(op.batch.id, op.batch);
        break;
      case "settleBatch":
        this.batches.delete(op.batchId);
        for (const id of op.removedRecordIds) this.records.delete(id);
        break;
      case "remove":
        for (const id of op.recordIds) this.records.delete(id);
        break;
      case "setValue":
        if (op.value === undefined) this.values.delete(op.key);
        else this.values.set(op.key, op.value);
        break;
    }
  }

  snapshot(skipped: StorageSnapshot["skipped"] = { entries: 0, bytes: 0 }): StorageSnapshot {
    return {
      records: [...this.records.values()],
      batches: [...this.batches.values()],
      values: new Map(this.values),
      skipped,
    };
  }
}
