/**
 * A crash-safe {@linkcode Storage} driver over one append-only file, for Deno
 * and Node (it uses `node:fs` only).
 *
 * @module
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { type Clock, systemClock } from "../../../ports/clock.ts";
import { StorageError } from "../../../errors/storage_error.ts";
import { errorMessage as message } from "../../../_util/error_message.ts";
import type { QueuedRecord, StorageSnapshot } from "../../../ports/storage.ts";
import { acquireLock, releaseLock } from "./_lock_file.ts";
import { FrameWriter, MAGIC, readLog } from "./_log_codec.ts";
import { LiveState } from "../_live_state.ts";
import type { StorageOp } from "../_ops.ts";
import { checkDurability, checkNonEmptyString, checkNumber, type Durability } from "../_options.ts";
import { type StorageBackend, WriteBehindStorage } from "../write_behind_storage.ts";

export type { Durability } from "../_options.ts";

/** Options of {@linkcode FileStorage}. */
export interface FileStorageOptions {
  /**
   * When writes reach the disk (`fsync`):
   * - `"everyWrite"`: every change is written and fsynced at once (changes made
   *   while an fsync runs share the next one); `sync()` resolves after the fsync.
   * - `"interval"`: changes are written and fsynced together every
   *   `syncIntervalMs`; a crash loses at most the changes of that window
   *   (those whose `sync()` had not resolved).
   * - `"none"`: as `"interval"` but never fsynced: survives a killed process
   *   once written, not a power loss or OS crash.
   *
   * In every mode `sync()`, `saveBatch()` and `close()` write at once and
   * resolve only when the data is durable (written and, except `"none"`, fsynced).
   *
   * @default {"interval"}
   */
  durability?: Durability;
  /**
   * Delay between a change and its write in `"interval"` and `"none"` modes.
   *
   * @default {100}
   */
  syncIntervalMs?: number;
  /**
   * The log is compacted (live state rewritten to a new file, which atomically
   * replaces the old) only once it is at least this big…
   *
   * @default {1048576}
   */
  compactMinBytes?: number;
  /**
   * …and at least this fraction of it is dead (removed records, settled
   * batches, overwritten values).
   *
   * @default {0.5}
   */
  compactDeadRatio?: number;
  /**
   * Timers for the write interval.
   *
   * @default {systemClock}
   */
  clock?: Clock;
}

/** Defaults of {@linkcode FileStorageOptions}. */
export const DEFAULT_FILE_STORAGE_OPTIONS: Readonly<Required<FileStorageOptions>> = Object.freeze({
  durability: "interval",
  syncIntervalMs: 100,
  compactMinBytes: 1_048_576,
  compactDeadRatio: 0.5,
  clock: systemClock,
});

/** Compaction writes the new file in chunks of about this size. */
const COMPACT_CHUNK_BYTES = 1024 * 1024;

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** Bytes a record takes in the log (ids are ASCII in practice; an estimate is enough). */
function recordBytes(record: QueuedRecord): number {
  return 28 + record.id.length + record.key.length + record.group.length + record.stream.length +
    record.data.length;
}

/**
 * Stores the queue in an append-only log file: every change is one framed
 * entry (length + CRC-32) appended to `path`; the whole queue is never
 * rewritten per change. When dead entries dominate, the live state is
 * compacted into `path.compact`, fsynced and renamed over `path`.
 *
 * Crash safety: a torn or corrupt entry (a crash mid-write, garbage bytes) is
 * detected by its checksum; `open()` keeps every valid entry, skips the bad
 * bytes up to the next valid frame, reports them in `snapshot.skipped` and
 * rewrites a clean file. A file with no valid entry and no idemtrack header
 * is refused (`StorageError`) rather than overwritten.
 *
 * One process at a time: `open()` takes `path.lock` (created exclusively,
 * naming its owner by pid, process start time, host, boot and a random
 * token). A second opener gets a `StorageError` naming the owner; a lock left
 * by a dead process is taken over, even when its pid was reused since (a
 * container restarting as pid 1). A lock from another host cannot be checked
 * and is refused with a message saying so. In Deno it needs `--allow-read
 * --allow-write` (plus `--allow-sys=hostname`, and, where there is no
 * `/proc`, `--allow-run` to check a lock's pid).
 *
 * A write that fails (a full disk, a permission lost) rejects the waiting
 * `sync()`/`saveBatch()` calls with a `StorageError`; the changes stay
 * buffered and are retried with backoff (50 ms doubling to 5 s), so the
 * store catches up by itself once the cause is gone.
 *
 * @example Usage
 * ```ts
 * import { FileStorage } from "./file_storage.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const storage = new FileStorage(`${dir}/queue.log`, { durability: "everyWrite" });
 * await storage.open();
 * storage.append([{
 *   id: "r1",
 *   key: "evt-0001",
 *   group: "track",
 *   stream: "",
 *   data: new TextEncoder().encode('{"event":"signup"}'),
 *   queuedAt: 1_700_000_000_000,
 * }]);
 * await storage.sync(); // r1 is on disk now
 * await storage.close();
 *
 * const reopened = new FileStorage(`${dir}/queue.log`);
 * const snapshot = await reopened.open();
 * assert.deepEqual(snapshot.records.map((record) => record.key), ["evt-0001"]);
 * await reopened.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileStorage extends WriteBehindStorage {
  /** The log file. */
  readonly path: string;
  readonly #log: FileLog;

  /** Creates a store in the file at `path` (opened, locked and read when the client opens it). */
  constructor(path: string, options: FileStorageOptions = {}) {
    const what = "open FileStorage";
    const {
      durability,
      syncIntervalMs,
      compactMinBytes,
      compactDeadRatio,
      clock,
    } = { ...DEFAULT_FILE_STORAGE_OPTIONS, ...options };
    checkNonEmptyString(what, "path", path);
    checkDurability(what, durability);
    checkNumber(what, "syncIntervalMs", syncIntervalMs, 0, 2 ** 31 - 1);
    checkNumber(what, "compactMinBytes", compactMinBytes, 0);
    checkNumber(what, "compactDeadRatio", compactDeadRatio, 0, 1);
    const log = new FileLog(path, { durability, compactMinBytes, compactDeadRatio });
    super("file", log, { eager: durability === "everyWrite", delayMs: syncIntervalMs, clock });
    this.path = path;
    this.#log = log;
  }

  /** Size of the log file, bytes (after the last write). */
  get fileBytes(): number {
    return this.#log.fileBytes;
  }

  /** Compactions done since `open()` (the one `open()` may do included). */
  get compactions(): number {
    return this.#log.compactions;
  }
}

type FileLogOptions = Readonly<
  Required<Pick<FileStorageOptions, "durability" | "compactMinBytes" | "compactDeadRatio">>
>;

/** The append-only log behind {@linkcode FileStorage}. */
class FileLog implements StorageBackend {
  readonly name = "file";
  readonly path: string;
  readonly #lockPath: string;
  readonly #options: FileLogOptions;
  readonly #live = new LiveState(recordBytes);
  /** Ops applied to `#live` (a failed write is retried with the same op objects). */
  #applied = new WeakSet<StorageOp>();
  readonly #writer = new FrameWriter();
  #handle: fsp.FileHandle | undefined;
  #fileBytes = 0;
  /** Size of the log right after the last compaction. */
  #compactedBytes = 0;
  /** Average size of a live record, as last seen (a typical event until then). */
  #averageRecordBytes = 512;
  #needsRewrite = false;
  #compactions = 0;

  constructor(path: string, options: FileLogOptions) {
    this.path = path;
    this.#lockPath = `${path}.lock`;
    this.#options = options;
  }

  get fileBytes(): number {
    return this.#fileBytes;
  }

  get compactions(): number {
    return this.#compactions;
  }

  async open(): Promise<StorageSnapshot> {
    try {
      await fsp.mkdir(path.dirname(this.path), { recursive: true });
    } catch (error) {
      throw new StorageError(
        this.name,
        `cannot create the folder of '${this.path}': ${message(error)}`,
        { cause: error },
      );
    }
    acquireLock(this.#lockPath, this.name);
    return await this.#recover();
  }

  async close(): Promise<void> {
    await this.#handle?.close().catch(() => {});
    this.#handle = undefined;
    releaseLock(this.#lockPath);
  }

  async #recover(): Promise<StorageSnapshot> {
    let bytes: Uint8Array;
    try {
      bytes = await fsp.readFile(this.path);
    } catch (error) {
      if (errorCode(error) !== "ENOENT") {
        throw new StorageError(this.name, `cannot read '${this.path}': ${message(error)}`, {
          cause: error,
        });
      }
      bytes = new Uint8Array(0);
    }
    const contents = readLog(bytes, (op) => this.#live.apply(op));
    this.#live.records.dedupe();
    if (!contents.header && contents.frames === 0 && bytes.length > 0) {
      throw new StorageError(
        this.name,
        `'${this.path}' is not an idemtrack store (no header and no valid entry); refusing to overwrite it`,
      );
    }
    this.#fileBytes = bytes.length;
    const skipped = { entries: contents.skippedEntries, bytes: contents.skippedBytes };
    // A damaged or missing file is rewritten clean, so that new entries never
    // follow a torn one and the damage is reported once.
    try {
      if (bytes.length === 0 || skipped.entries > 0 || !contents.header || this.#compactionDue()) {
        await this.#compact();
      } else {
        this.#handle = await this.#openAppend();
      }
    } catch (error) {
      await this.#handle?.close().catch(() => {});
      throw new StorageError(this.name, `cannot write '${this.path}': ${message(error)}`, {
        cause: error,
      });
    }
    return this.#live.snapshot(skipped);
  }

  #apply(op: StorageOp): void {
    if (this.#applied.has(op)) return;
    this.#applied.add(op);
    this.#live.apply(op);
  }

  /**
   * Compacting re-encodes what is live, so it is due (with enough dead bytes)
   * only when that is cheap (at most `compactMinBytes` live), or when the log
   * doubled since the last compaction and the write ends (`settled`) with no
   * backlog pending (its records would be live at once); so a draining burst
   * compacts once, not at every halving. Whatever the backlog, the log never
   * grows past 4× what is live or pending. `adding`: bytes of the write about
   * to be appended (its ops are applied already); `backlog`: records pending
   * behind it.
   */
  #compactionDue(settled = true, adding = 0, backlog = 0): boolean {
    const { compactMinBytes, compactDeadRatio } = this.#options;
    const file = this.#fileBytes + adding;
    if (file < compactMinBytes || file - this.#live.records.bytes < file * compactDeadRatio) {
      return false;
    }
    // Pending records are sized like the live ones on average (sizing each would cost a pass).
    const { bytes, held } = this.#live.records;
    if (held > 0) this.#averageRecordBytes = bytes / held;
    const kept = bytes + backlog * this.#averageRecordBytes;
    return kept <= compactMinBytes ||
      (settled && backlog === 0 && file >= 2 * this.#compactedBytes) ||
      file >= 4 * Math.max(kept, compactMinBytes);
  }

  async write(ops: StorageOp[], durable: boolean, backlog: number): Promise<void> {
    const writer = this.#writer;
    writer.reset();
    for (const op of ops) {
      this.#apply(op);
      writer.op(op);
    }
    try {
      if (this.#needsRewrite || this.#compactionDue(durable, writer.length, backlog)) {
        await this.#compact();
        return;
      }
      const handle = this.#handle!;
      const bytes = writer.bytes();
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
        this.#fileBytes += bytesWritten;
      }
      if (durable && this.#options.durability !== "none") await handle.datasync();
    } catch (error) {
      // The file may end in a partial entry: the next write rewrites the live
      // state (which these ops are already applied to) instead of appending.
      this.#needsRewrite = true;
      throw error instanceof StorageError
        ? error
        : new StorageError(this.name, `cannot write '${this.path}': ${message(error)}`, {
          cause: error,
        });
    }
  }

  /** Writes the live state to a new file and atomically puts it in place of the log. */
  async #compact(): Promise<void> {
    const durable = this.#options.durability !== "none";
    const tmpPath = `${this.path}.compact`;
    const out = await fsp.open(tmpPath, "w");
    let size = 0;
    const chunk = new FrameWriter();
    const drain = async () => {
      const bytes = chunk.bytes();
      let written = 0;
      while (written < bytes.length) {
        written += (await out.write(bytes, written, bytes.length - written)).bytesWritten;
      }
      size += written;
      chunk.reset();
    };
    let complete = false;
    try {
      chunk.raw(MAGIC);
      let group: QueuedRecord[] = [];
      for (const record of this.#live.records.live()) {
        group.push(record);
        if (group.length === 512) {
          chunk.op({ type: "append", records: group });
          group = [];
          if (chunk.length >= COMPACT_CHUNK_BYTES) await drain();
        }
      }
      if (group.length > 0) chunk.op({ type: "append", records: group });
      for (const batch of this.#live.batches.values()) chunk.op({ type: "saveBatch", batch });
      for (const [key, value] of this.#live.values) chunk.op({ type: "setValue", key, value });
      await drain();
      if (durable) await out.datasync();
      complete = true;
    } finally {
      await out.close();
      // A partial copy (a full disk) would hold on to the space the retry needs.
      if (!complete) await fsp.rm(tmpPath, { force: true }).catch(() => {});
    }
    await this.#handle?.close().catch(() => {});
    this.#handle = undefined;
    await fsp.rename(tmpPath, this.path);
    if (durable) syncDirectory(path.dirname(this.path));
    this.#handle = await this.#openAppend();
    this.#fileBytes = size;
    this.#compactedBytes = size;
    this.#needsRewrite = false;
    this.#compactions++;
  }

  #openAppend(): Promise<fsp.FileHandle> {
    return fsp.open(this.path, "a");
  }
}

/** Makes a rename durable (POSIX); a no-op where directories cannot be opened. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Windows cannot fsync a directory; its renames are durable on their own.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

// Types that the exports above name in their signatures.
export type * from "../_storage_types.ts";
