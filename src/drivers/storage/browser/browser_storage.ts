/**
 * A {@linkcode Storage} driver for browsers: IndexedDB, with a localStorage
 * fallback for small queues where IndexedDB is missing.
 *
 * @module
 */
import { type Clock, systemClock } from "../../../ports/clock.ts";
import type { JsonValue } from "../../../event.ts";
import { StorageError } from "../../../errors/storage_error.ts";
import type {
  QueuedRecord,
  Storage,
  StorageSnapshot,
  StoredBatch,
} from "../../../ports/storage.ts";
import type { BrowserBackend, BrowserMutation } from "./_browser_backend.ts";
import { globalIndexedDb, openIndexedDbBackend } from "./_indexeddb_backend.ts";
import { globalLocalStorage, localStorageBackend } from "./_local_storage_backend.ts";
import { errorMessage as message, Journal } from "../_journal.ts";
import { LiveState } from "../_live_state.ts";
import type { StorageOp } from "../_ops.ts";
import { checkNumber } from "../_options.ts";

/** Where {@linkcode BrowserStorage} keeps the queue. */
export type BrowserBackendKind = "auto" | "indexedDB" | "localStorage";

/** Options of {@linkcode BrowserStorage}. */
export interface BrowserStorageOptions {
  /**
   * IndexedDB database name, and key prefix in localStorage. Use one per queue.
   *
   * @default {"idemtrack"}
   */
  name?: string;
  /**
   * `"auto"` uses IndexedDB where it exists and localStorage otherwise.
   * localStorage holds about 5 MB per origin (base64 data), so it suits small
   * queues only; a write that exceeds it fails `sync()` with a `StorageError`.
   *
   * @default {"auto"}
   */
  backend?: BrowserBackendKind;
  /**
   * How long changes wait before they are written together (`0`: at once,
   * changes made during a write share the next one). `sync()`, `saveBatch()`
   * and `close()` write at once.
   *
   * @default {50}
   */
  syncIntervalMs?: number;
  /**
   * Timers for the write interval.
   *
   * @default {systemClock}
   */
  clock?: Clock;
}

/** Defaults of {@linkcode BrowserStorageOptions}. */
export const DEFAULT_BROWSER_STORAGE_OPTIONS: Readonly<Required<BrowserStorageOptions>> = Object
  .freeze({
    name: "idemtrack",
    backend: "auto",
    syncIntervalMs: 50,
    clock: systemClock,
  });

const BACKENDS: readonly BrowserBackendKind[] = ["auto", "indexedDB", "localStorage"];

/**
 * Keeps the queue in the browser. With IndexedDB every write is one
 * transaction over all changes made since the last one, opened with
 * `durability: "strict"`, so `sync()` resolves once the browser has flushed
 * it to disk, and a write applies entirely or not at all.
 *
 * @example Usage
 * ```ts ignore
 * import { BrowserStorage } from "./browser_storage.ts";
 *
 * const storage = new BrowserStorage({ name: "my-app-events" });
 * const snapshot = await storage.open();
 * console.log(`${snapshot.records.length} events waiting from the last visit`);
 * ```
 */
export class BrowserStorage implements Storage {
  readonly name = "browser";
  readonly #options: Readonly<Required<BrowserStorageOptions>>;
  readonly #journal: Journal;
  readonly #seqs = new Map<string, number>();
  /** Records deleted by a write that has not succeeded yet, so its retry deletes them again. */
  readonly #tombstones = new Map<string, number>();
  #backend: BrowserBackend | undefined;
  #nextSeq = 0;

  /** Creates a store in the browser (`options.backend` says which: IndexedDB or localStorage). */
  constructor(options: BrowserStorageOptions = {}) {
    const { name, backend, syncIntervalMs, clock } = {
      ...DEFAULT_BROWSER_STORAGE_OPTIONS,
      ...options,
    };
    const what = "open BrowserStorage";
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        `Cannot ${what} as 'name' must be a non-empty string: current value is ${
          JSON.stringify(name)
        }`,
      );
    }
    if (!BACKENDS.includes(backend)) {
      throw new TypeError(
        `Cannot ${what} as 'backend' must be one of "auto", "indexedDB", "localStorage": current value is ${
          JSON.stringify(backend)
        }`,
      );
    }
    checkNumber(what, "syncIntervalMs", syncIntervalMs, 0, 2 ** 31 - 1);
    this.#options = { name, backend, syncIntervalMs, clock };
    this.#journal = new Journal(this.name, (ops) => this.#write(ops), {
      mode: syncIntervalMs === 0 ? "eager" : "timer",
      delayMs: syncIntervalMs,
      maxPendingOps: 4096,
      maxChunkRecords: 4096,
      clock,
    });
  }

  /** The backend in use after `open()`. */
  get backend(): "indexedDB" | "localStorage" | undefined {
    return this.#backend?.kind;
  }

  open(): Promise<StorageSnapshot> {
    return this.#journal.open(async () => {
      this.#backend = await this.#chooseBackend();
      const contents = await this.#backend.load();
      const live = new LiveState();
      for (const { seq, record } of contents.records) {
        live.records.append([record]);
        this.#seqs.set(record.id, seq);
        this.#nextSeq = Math.max(this.#nextSeq, seq + 1);
      }
      for (const batch of contents.batches) live.batches.set(batch.id, batch);
      for (const [key, value] of contents.values) live.values.set(key, value);
      return live.snapshot(contents.skipped);
    }, () => this.#backend?.close());
  }

  append(records: readonly QueuedRecord[]): void {
    this.#journal.append(records);
  }

  /** Resolves once the batch and its records are committed, ahead of the rest of the backlog. */
  saveBatch(batch: StoredBatch): Promise<void> {
    return this.#journal.saveBatch(batch);
  }

  settleBatch(batchId: string, removedRecordIds: readonly string[]): void {
    this.#journal.settleBatch(batchId, removedRecordIds);
  }

  remove(recordIds: readonly string[]): void {
    this.#journal.remove(recordIds);
  }

  setValue(key: string, value: JsonValue | undefined): void {
    this.#journal.setValue(key, value);
  }

  sync(): Promise<void> {
    return this.#journal.sync();
  }

  close(): Promise<void> {
    return this.#journal.close(() => this.#backend?.close());
  }

  async #chooseBackend(): Promise<BrowserBackend> {
    const { backend, name } = this.#options;
    const idb = backend === "localStorage" ? undefined : globalIndexedDb();
    if (idb !== undefined) return await openIndexedDbBackend(idb, name);
    if (backend === "indexedDB") {
      throw new StorageError(this.name, "IndexedDB is not available in this environment");
    }
    const local = globalLocalStorage();
    if (local === undefined) {
      throw new StorageError(this.name, "neither IndexedDB nor localStorage is available");
    }
    return localStorageBackend(local, name);
  }

  async #write(ops: StorageOp[]): Promise<void> {
    const mutations: BrowserMutation[] = [];
    const deleteRecord = (id: string) => {
      const seq = this.#seqs.get(id) ?? this.#tombstones.get(id);
      if (seq === undefined) return;
      this.#seqs.delete(id);
      this.#tombstones.set(id, seq);
      mutations.push({ kind: "deleteRecord", seq });
    };
    for (const op of ops) {
      switch (op.type) {
        case "append":
          for (const record of op.records) {
            let seq = this.#seqs.get(record.id);
            if (seq === undefined) {
              seq = this.#nextSeq++;
              this.#seqs.set(record.id, seq);
            }
            mutations.push({ kind: "putRecord", seq, record });
          }
          break;
        case "saveBatch":
          mutations.push({ kind: "putBatch", batch: op.batch });
          break;
        case "settleBatch":
          mutations.push({ kind: "deleteBatch", id: op.batchId });
          op.removedRecordIds.forEach(deleteRecord);
          break;
        case "remove":
          op.recordIds.forEach(deleteRecord);
          break;
        case "setValue":
          mutations.push(
            op.value === undefined
              ? { kind: "deleteValue", key: op.key }
              : { kind: "putValue", key: op.key, value: op.value },
          );
          break;
      }
    }
    try {
      await this.#backend!.write(mutations);
      this.#tombstones.clear();
    } catch (error) {
      throw new StorageError(this.name, `write failed: ${message(error)}`, { cause: error });
    }
  }
}
