/**
 * The write-behind {@linkcode Storage} the durable drivers share, over a small
 * {@linkcode StorageBackend}: a driver is its backend (read the store, write a
 * chunk of changes, release it) plus its options.
 *
 * @module
 */
import { type Clock, systemClock } from "../../ports/clock.ts";
import type { JsonValue } from "../../event.ts";
import { StorageError } from "../../errors/storage_error.ts";
import { errorMessage } from "../../_util/error_message.ts";
import type { QueuedRecord, Storage, StorageSnapshot, StoredBatch } from "../../ports/storage.ts";
import { freezeOp, type StorageOp } from "./_ops.ts";
import { checkNumber } from "./_options.ts";
import { WriteBehind } from "./_write_behind.ts";

export type { StorageOp } from "./_ops.ts";

/**
 * Where a {@linkcode WriteBehindStorage} keeps its data. The storage buffers
 * the changes, writes them one chunk at a time (never two writes at once),
 * retries a failed write with backoff and answers `sync()`; the backend only
 * reads, writes and releases.
 */
export interface StorageBackend {
  /** Reads what the store holds (taking any lock). Called once, by `open()`. */
  open(): Promise<StorageSnapshot>;
  /**
   * Writes one chunk of changes, in order; a chunk that failed is given again,
   * as the same op objects, until it succeeds. `durable`: the chunk ends a
   * write (someone waits for it), so it must be made durable together with
   * every chunk written before it. `backlog`: appended records still waiting
   * behind this chunk.
   */
  write(ops: StorageOp[], durable: boolean, backlog: number): Promise<void>;
  /** Releases the store (its lock, handles). Called once, after `close()`'s last write or a failed `open()`. */
  close(): void | Promise<void>;
}

/** When a {@linkcode WriteBehindStorage} writes without being asked. */
export interface WriteBehindOptions {
  /**
   * `true`: a write starts as soon as the previous one ends (changes made
   * meanwhile share it); `false`: `delayMs` after the first pending change.
   *
   * @default {false}
   */
  eager?: boolean;
  /**
   * Delay between a change and its write when not `eager`.
   *
   * @default {50}
   */
  delayMs?: number;
  /**
   * Timers for the delay and for the retries of failed writes.
   *
   * @default {systemClock}
   */
  clock?: Clock;
}

/** Defaults of {@linkcode WriteBehindOptions}. */
export const DEFAULT_WRITE_BEHIND_OPTIONS: Readonly<Required<WriteBehindOptions>> = Object.freeze({
  eager: false,
  delayMs: 50,
  clock: systemClock,
});

/**
 * Pending changes that start a write before the delay is over (bounds memory),
 * and records one write takes at most, so that an urgent write (a batch about
 * to be sent) waits for one such chunk of a large backlog, not all of it.
 */
const MAX_PENDING_OPS = 4096;
const MAX_CHUNK_RECORDS = 4096;

/**
 * A {@linkcode Storage} that keeps no state of its own but the changes not
 * written yet: each writing method checks the store is open, copies what the
 * caller could still mutate and queues the change; a {@linkcode StorageBackend}
 * writes them in chunks. `sync()`, `saveBatch()` and `close()` write at once.
 * The durable drivers (`FileStorage`, `DenoKvStorage`, `BrowserStorage`)
 * are this class with their backend.
 *
 * @example A backend keeping the changes in an array
 * ```ts
 * import { type StorageOp, WriteBehindStorage } from "./write_behind_storage.ts";
 * import assert from "node:assert/strict";
 *
 * const written: StorageOp[] = [];
 * const storage = new WriteBehindStorage("array", {
 *   open: () => Promise.resolve({ records: [], batches: [], values: new Map(), skipped: { entries: 0, bytes: 0 } }),
 *   write: (ops) => Promise.resolve(void written.push(...ops)),
 *   close: () => {},
 * });
 * await storage.open();
 * storage.setValue("user", "u-1");
 * await storage.sync();
 * assert.deepEqual(written, [{ type: "setValue", key: "user", value: "u-1" }]);
 * await storage.close();
 * ```
 */
export class WriteBehindStorage implements Storage {
  readonly name: string;
  readonly #backend: StorageBackend;
  readonly #buffer: WriteBehind;
  #state: "new" | "open" | "closed" = "new";

  /** Creates a store named `name` (in errors and stats) over `backend`. */
  constructor(name: string, backend: StorageBackend, options: WriteBehindOptions = {}) {
    const { eager, delayMs, clock } = { ...DEFAULT_WRITE_BEHIND_OPTIONS, ...options };
    checkNumber("create WriteBehindStorage", "delayMs", delayMs, 0, 2 ** 31 - 1);
    this.name = name;
    this.#backend = backend;
    this.#buffer = new WriteBehind(
      (ops, durable, backlog) => backend.write(ops, durable, backlog),
      {
        mode: eager ? "eager" : "timer",
        delayMs,
        maxPendingOps: MAX_PENDING_OPS,
        maxChunkRecords: MAX_CHUNK_RECORDS,
        clock,
      },
    );
  }

  /** Opens the backend once; if that fails, the store is closed and the backend released. */
  async open(): Promise<StorageSnapshot> {
    if (this.#state !== "new") throw new StorageError(this.name, "open() may be called once");
    this.#state = "open";
    try {
      return await this.#backend.open();
    } catch (error) {
      this.#state = "closed";
      await this.#backend.close();
      throw error instanceof StorageError
        ? error
        : new StorageError(this.name, `cannot open: ${errorMessage(error)}`, { cause: error });
    }
  }

  append(records: readonly QueuedRecord[]): void {
    this.#push({ type: "append", records });
  }

  /** Resolves once the batch and the records it references are durable, ahead of the rest of the backlog. */
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
      return Promise.reject(new StorageError(this.name, "sync() before open()"));
    }
    return this.#buffer.sync();
  }

  /** Syncs, stops the timer and releases the backend (even if the sync failed); once. */
  async close(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closed";
    try {
      await this.#buffer.sync();
    } finally {
      this.#buffer.stop();
      await this.#backend.close();
    }
  }

  #push(op: StorageOp): void {
    this.#buffer.push(this.#frozen(op));
  }

  /** A copy of `op` to queue; throws unless the store is open. */
  #frozen(op: StorageOp): StorageOp {
    if (this.#state !== "open") {
      throw new StorageError(
        this.name,
        `cannot ${op.type}: the store is ${this.#state === "new" ? "not open" : "closed"}`,
      );
    }
    return freezeOp(op);
  }
}
