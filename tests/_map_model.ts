// The state storage ops describe, as plain maps: the oracle the file driver is checked against
// (file_storage_write_ahead_test.ts), and the data of a backend written against the public
// contract only (storage_conformance_test.ts).
import type { JsonValue } from "../src/event.ts";
import type { StorageOp } from "../src/drivers/storage/_ops.ts";
import type { QueuedRecord, StoredBatch } from "../src/ports/storage.ts";

/** Records, batches and values as applying every op in order leaves them. */
export class MapModel {
  readonly records = new Map<string, QueuedRecord>();
  readonly batches = new Map<string, StoredBatch>();
  readonly values = new Map<string, JsonValue>();

  /** Applies `op`; a record keeps its own fields and a copy of its bytes, nothing else. */
  apply(op: StorageOp): void {
    switch (op.type) {
      case "append":
        for (const { id, key, group, stream, data, queuedAt } of op.records) {
          this.records.set(id, { id, key, group, stream, data: data.slice(), queuedAt });
        }
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
}
