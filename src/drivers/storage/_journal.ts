import type { JsonValue } from "../../event.ts";
import { StorageError } from "../../errors/storage_error.ts";
import type { QueuedRecord, StorageSnapshot, StoredBatch } from "../../ports/storage.ts";
import { freezeOp, type StorageOp } from "./_ops.ts";
import { type ChunkWriter, WriteBehind, type WriteSchedule } from "./_write_behind.ts";

/** The message of anything thrown, for error texts. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The part of a {@linkcode Storage} driver every write-behind driver shares:
 * its life cycle (`open` once, `close` after a last sync) and the writing
 * methods, which check the store is open, copy what the caller could still
 * mutate, and queue the op. A driver keeps its own public class and delegates
 * to one of these, giving it how to write a chunk of ops.
 */
export class Journal {
  readonly #name: string;
  readonly #buffer: WriteBehind;
  #state: "new" | "open" | "closed" = "new";

  constructor(name: string, write: ChunkWriter, schedule: WriteSchedule) {
    this.#name = name;
    this.#buffer = new WriteBehind(write, schedule);
  }

  /** Appended records not written yet. */
  get pendingRecords(): number {
    return this.#buffer.pendingRecords;
  }

  /**
   * Runs the driver's `load` once; if it throws, the store is closed, `release`
   * runs and the error is rethrown as a `StorageError`.
   */
  async open(
    load: () => Promise<StorageSnapshot>,
    release: () => void | Promise<void>,
  ): Promise<StorageSnapshot> {
    if (this.#state !== "new") throw new StorageError(this.#name, "open() may be called once");
    this.#state = "open";
    try {
      return await load();
    } catch (error) {
      this.#state = "closed";
      await release();
      throw error instanceof StorageError
        ? error
        : new StorageError(this.#name, `cannot open: ${errorMessage(error)}`, { cause: error });
    }
  }

  append(records: readonly QueuedRecord[]): void {
    this.#push({ type: "append", records });
  }

  /** Resolves once the batch and the records it references are durable (ahead of the backlog). */
  saveBatch(batch: StoredBatch): Promise<void> {
    return this.#buffer.pushUrgent(this.#frozen({ type: "saveBatch", batch }));
  }

  settleBatch(batchId: string, removedRecordIds: readonly string[]): void {
    this.#push({ type: "settleBatch", batchId, removedRecordIds });
  }

  remove(recordIds: readonly string[]): void {
    this.#push({ type: "remove", recordIds });
  }

  setValue(key: string, value: JsonValue | undefined): void {
    this.#push({ type: "setValue", key, value });
  }

  sync(): Promise<void> {
    if (this.#state === "new") {
      return Promise.reject(new StorageError(this.#name, "sync() before open()"));
    }
    return this.#buffer.sync();
  }

  /** Syncs, stops the timer and runs `release` (even if the sync failed); once. */
  async close(release: () => void | Promise<void>): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closed";
    try {
      await this.#buffer.sync();
    } finally {
      this.#buffer.stop();
      await release();
    }
  }

  #push(op: StorageOp): void {
    this.#buffer.push(this.#frozen(op));
  }

  /** A copy of `op` to queue; throws unless the store is open. */
  #frozen(op: StorageOp): StorageOp {
    if (this.#state !== "open") {
      throw new StorageError(
        this.#name,
        `cannot ${op.type}: the store is ${this.#state === "new" ? "not open" : "closed"}`,
      );
    }
    return freezeOp(op);
  }
}
