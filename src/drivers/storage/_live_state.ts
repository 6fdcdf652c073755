import type { JsonValue } from "../../event.ts";
import type { QueuedRecord, StorageSnapshot, StoredBatch } from "../../ports/storage.ts";
import { RecordLog } from "./_record_log.ts";
import type { StorageOp } from "./_ops.ts";

/**
 * The state a journal of {@linkcode StorageOp}s describes. Batch and value
 * ops are last-writer-wins changes of one key and removals of absent records
 * are no-ops, so replaying ops is harmless, except that an append replayed at
 * run time would hold its records twice: drivers apply each op object once
 * (a log read back from disk may repeat appends; `snapshot()` keeps the last).
 */
export class LiveState {
  readonly records: RecordLog;
  readonly batches: Map<string, StoredBatch> = new Map();
  readonly values: Map<string, JsonValue> = new Map();

  /** `sizeOf`: what one record counts in `records.bytes`. */
  constructor(sizeOf?: (record: QueuedRecord) => number) {
    this.records = new RecordLog(sizeOf);
  }

  apply(op: StorageOp): void {
    switch (op.type) {
      case "append":
        this.records.append(op.records);
        break;
      case "saveBatch":
        this.batches.set(op.batch.id, op.batch);
        break;
      case "settleBatch":
        this.batches.delete(op.batchId);
        this.records.remove(op.removedRecordIds);
        break;
      case "remove":
        this.records.remove(op.recordIds);
        break;
      case "setValue":
        if (op.value === undefined) this.values.delete(op.key);
        else this.values.set(op.key, op.value);
        break;
    }
  }

  snapshot(skipped: StorageSnapshot["skipped"] = { entries: 0, bytes: 0 }): StorageSnapshot {
    this.records.dedupe();
    return {
      records: this.records.live(),
      batches: [...this.batches.values()],
      values: new Map(this.values),
      skipped,
    };
  }
}
