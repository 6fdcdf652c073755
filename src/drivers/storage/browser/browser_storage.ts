/**
 * A {@linkcode Storage} driver for browsers: IndexedDB, with a localStorage
 * fallback for small queues where IndexedDB is missing.
 *
 * @module
 */
import { type Clock, systemClock } from "../../../ports/clock.ts";
import { StorageError } from "../../../errors/storage_error.ts";
import { errorMessage as message } from "../../../_util/error_message.ts";
import type { StorageSnapshot } from "../../../ports/storage.ts";
import type { BrowserBackend, BrowserMutation } from "./_browser_backend.ts";
import { globalIndexedDb, openIndexedDbBackend } from "./_indexeddb_backend.ts";
import { globalLocalStorage, localStorageBackend } from "./_local_storage_backend.ts";
import { LiveState } from "../_live_state.ts";
import type { StorageOp } from "../_ops.ts";
import { checkNonEmptyString, checkNumber } from "../_options.ts";
import { type StorageBackend, WriteBehindStorage } from "../write_behind_storage.ts";

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
export class BrowserStorage extends WriteBehindStorage {
  readonly #store: BrowserStore;

  /** Creates a store in the browser (`options.backend` says which: IndexedDB or localStorage). */
  constructor(options: BrowserStorageOptions = {}) {
    const { name, backend, syncIntervalMs, clock } = {
      ...DEFAULT_BROWSER_STORAGE_OPTIONS,
      ...options,
    };
    const what = "open BrowserStorage";
    checkNonEmptyString(what, "name", name);
    if (!BACKENDS.includes(backend)) {
      throw new TypeError(
        `Cannot ${what} as 'backend' must be one of "auto", "indexedDB", "localStorage": current value is ${
          JSON.stringify(backend)
        }`,
      );
    }
    checkNumber(what, "syncIntervalMs", syncIntervalMs, 0, 2 ** 31 - 1);
    const store = new BrowserStore(name, backend);
    super("browser", store, { eager: syncIntervalMs === 0, delayMs: syncIntervalMs, clock });
    this.#store = store;
  }

  /** The backend in use after `open()`. */
  get backend(): "indexedDB" | "localStorage" | undefined {
    return this.#store.kind;
  }
}

/** IndexedDB or localStorage behind {@linkcode BrowserStorage}: ops become keyed mutations. */
class BrowserStore implements StorageBackend {
  readonly name = "browser";
  readonly #dbName: string;
  readonly #kind: BrowserBackendKind;
  readonly #seqs = new Map<string, number>();
  /** Records deleted by a write that has not succeeded yet, so its retry deletes them again. */
  readonly #tombstones = new Map<string, number>();
  #backend: BrowserBackend | undefined;
  #nextSeq = 0;

  constructor(dbName: string, kind: BrowserBackendKind) {
    this.#dbName = dbName;
    this.#kind = kind;
  }

  get kind(): "indexedDB" | "localStorage" | undefined {
    return this.#backend?.kind;
  }

  async open(): Promise<StorageSnapshot> {
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
  }

  close(): void | Promise<void> {
    return this.#backend?.close();
  }

  async #chooseBackend(): Promise<BrowserBackend> {
    const backend = this.#kind;
    const name = this.#dbName;
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

  async write(ops: StorageOp[]): Promise<void> {
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

// Types that the exports above name in their signatures.
export type * from "../_storage_types.ts";
