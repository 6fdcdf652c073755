/**
 * A {@linkcode Storage} driver over Deno KV (`Deno.openKv`), for Deno only
 * (needs `--unstable-kv` or `"unstable": ["kv"]` in `deno.json`).
 *
 * @module
 */
import { type Clock, systemClock } from "../../ports/clock.ts";
import type { JsonValue } from "../../event.ts";
import { StorageError } from "../../errors/storage_error.ts";
import { errorMessage as message } from "../../_util/error_message.ts";
import type { QueuedRecord, StorageSnapshot, StoredBatch } from "../../ports/storage.ts";
import { LiveState } from "./_live_state.ts";
import { ownBytes, type StorageOp } from "./_ops.ts";
import { checkNonEmptyString, checkNumber } from "./_options.ts";
import { type StorageBackend, WriteBehindStorage } from "./write_behind_storage.ts";

/** Options of {@linkcode DenoKvStorage}. */
export interface DenoKvStorageOptions {
  /**
   * Database path for `Deno.openKv(path)`; `undefined` opens Deno's default
   * database for the script. Ignored when `kv` is given.
   *
   * @default {undefined}
   */
  path?: string;
  /**
   * An already open database to use instead of opening `path`; it is left
   * open by `close()`.
   *
   * @default {undefined}
   */
  kv?: Deno.Kv;
  /**
   * First part of every key, so that several queues (or other data) share a
   * database.
   *
   * @default {"idemtrack"}
   */
  prefix?: string;
  /**
   * How long changes wait before they are committed together (`0`: commit at
   * once, changes made during a commit share the next one). `sync()`,
   * `saveBatch()` and `close()` always commit at once.
   *
   * @default {50}
   */
  syncIntervalMs?: number;
  /**
   * Timers for the commit interval.
   *
   * @default {systemClock}
   */
  clock?: Clock;
}

/** Defaults of {@linkcode DenoKvStorageOptions}. */
export const DEFAULT_DENO_KV_STORAGE_OPTIONS: Readonly<{
  prefix: string;
  syncIntervalMs: number;
  clock: Clock;
}> = Object.freeze({ prefix: "idemtrack", syncIntervalMs: 50, clock: systemClock });

// Deno KV limits: 64 KiB per value, 1000 mutations and 800 KiB per atomic
// commit. We stay well below them.
const PART_BYTES = 60 * 1024;
const MAX_MUTATIONS = 900;
const MAX_COMMIT_BYTES = 700 * 1024;

interface RecordMeta {
  id: string;
  key: string;
  group: string;
  stream: string;
  queuedAt: number;
  /** The data when it fits in one value; otherwise `parts` values follow under `[..., seq, i]`. */
  data?: Uint8Array;
  parts?: number;
}

type Mutation =
  | { readonly set: Deno.KvKey; readonly value: unknown; readonly bytes: number }
  | { readonly delete: Deno.KvKey; readonly bytes: number };

/**
 * Keeps the queue in Deno KV: a record per key (`[prefix, "r", seq]`, data
 * over 60 KiB split into parts), a key per batch and per value. Changes are
 * buffered and committed in atomic operations; each change (an append, a
 * settle removing the batch and its delivered records, a requeue) commits
 * atomically as long as it fits Deno KV's limits (about 900 records), and is
 * otherwise split in order, the batch first, so a crash can at worst leave a
 * delivered record queued (resent and de-duplicated by the receiver).
 *
 * @example Usage
 * ```ts
 * import { DenoKvStorage } from "./deno_kv_storage.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const storage = new DenoKvStorage({ path: `${dir}/queue.kv` });
 * await storage.open();
 * storage.setValue("nr:session-1", 7);
 * await storage.close(); // commits what is pending
 *
 * const reopened = new DenoKvStorage({ path: `${dir}/queue.kv` });
 * assert.equal((await reopened.open()).values.get("nr:session-1"), 7);
 * await reopened.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DenoKvStorage extends WriteBehindStorage {
  /** Creates a store in a Deno KV database (opened when the client opens it). */
  constructor(options: DenoKvStorageOptions = {}) {
    const { path, kv, prefix, syncIntervalMs, clock } = {
      ...DEFAULT_DENO_KV_STORAGE_OPTIONS,
      ...options,
    };
    const what = "open DenoKvStorage";
    checkNonEmptyString(what, "prefix", prefix);
    checkNumber(what, "syncIntervalMs", syncIntervalMs, 0, 2 ** 31 - 1);
    super("deno-kv", new KvLog(path, kv, prefix), {
      eager: syncIntervalMs === 0,
      delayMs: syncIntervalMs,
      clock,
    });
  }
}

/** The keys behind {@linkcode DenoKvStorage}. */
class KvLog implements StorageBackend {
  readonly name = "deno-kv";
  readonly #path: string | undefined;
  /** The database the caller passed in (left open by `close()`). */
  readonly #given: Deno.Kv | undefined;
  readonly #prefix: string;
  /** Where each live record lives: its sequence number and part count. */
  readonly #locations = new Map<string, { seq: number; parts: number }>();
  /** Records deleted by a write that has not succeeded yet, so its retry deletes them again. */
  readonly #tombstones = new Map<string, { seq: number; parts: number }>();
  #kv: Deno.Kv | undefined;
  #nextSeq = 0;

  constructor(path: string | undefined, kv: Deno.Kv | undefined, prefix: string) {
    this.#path = path;
    this.#given = kv;
    this.#prefix = prefix;
  }

  async open(): Promise<StorageSnapshot> {
    if (this.#given === undefined && typeof Deno.openKv !== "function") {
      throw new StorageError(
        this.name,
        `cannot open: Deno KV is unavailable; run Deno with --unstable-kv (or "unstable": ["kv"] in deno.json)`,
      );
    }
    this.#kv = this.#given ?? await Deno.openKv(this.#path);
    return await this.#load(this.#kv);
  }

  /** Closes the database unless the caller passed it in. */
  close(): void {
    if (this.#given === undefined) this.#kv?.close();
    this.#kv = undefined;
  }

  #key(...parts: Deno.KvKeyPart[]): Deno.KvKey {
    return [this.#prefix, ...parts];
  }

  async #load(kv: Deno.Kv): Promise<StorageSnapshot> {
    const live = new LiveState();
    const skipped = { entries: 0, bytes: 0 };
    const cleanup: Deno.KvKey[] = [];
    let current:
      | { seq: number; meta: RecordMeta; parts: Uint8Array[]; keys: Deno.KvKey[] }
      | undefined;
    const finish = () => {
      if (current === undefined) return;
      const { seq, meta, parts, keys } = current;
      current = undefined;
      const expected = meta.parts ?? 0;
      const data = meta.data ?? (parts.length === expected ? concat(parts) : undefined);
      if (data === undefined) {
        // A large record whose commit was split by a crash: parts are missing.
        skipped.entries++;
        skipped.bytes += parts.reduce((sum, part) => sum + part.length, 0);
        cleanup.push(this.#key("r", seq));
        cleanup.push(...keys);
        return;
      }
      const record: QueuedRecord = {
        id: meta.id,
        key: meta.key,
        group: meta.group,
        stream: meta.stream,
        data,
        queuedAt: meta.queuedAt,
      };
      live.records.append([record]);
      this.#locations.set(record.id, { seq, parts: expected });
    };
    for await (const entry of kv.list<unknown>({ prefix: this.#key("r") })) {
      const seq = entry.key[2];
      if (typeof seq !== "number") continue;
      this.#nextSeq = Math.max(this.#nextSeq, seq + 1);
      if (entry.key.length === 3 && isRecordMeta(entry.value)) {
        finish();
        current = { seq, meta: entry.value, parts: [], keys: [] };
      } else if (
        entry.key.length === 4 && current?.seq === seq && entry.value instanceof Uint8Array
      ) {
        current.parts.push(entry.value);
        current.keys.push(entry.key);
      } else {
        // A part without its record (the crash hit before the record's own key).
        skipped.entries++;
        cleanup.push(entry.key);
      }
    }
    finish();
    for await (const entry of kv.list<StoredBatch>({ prefix: this.#key("b") })) {
      live.batches.set(entry.value.id, entry.value);
    }
    for await (const entry of kv.list<{ value: JsonValue }>({ prefix: this.#key("v") })) {
      live.values.set(String(entry.key[2]), entry.value.value);
    }
    if (cleanup.length > 0) {
      await this.#commitMutations(cleanup.map((key) => ({ delete: key, bytes: 64 })));
    }
    return live.snapshot(skipped);
  }

  /** Turns ops into mutations, grouped so that each op commits atomically when it fits. */
  async write(ops: StorageOp[]): Promise<void> {
    const groups: Mutation[][] = [];
    for (const op of ops) groups.push(this.#mutations(op));
    let commit: Mutation[] = [];
    let bytes = 0;
    const commits: Mutation[][] = [];
    for (const group of groups) {
      const groupBytes = group.reduce((sum, m) => sum + m.bytes, 0);
      if (
        commit.length > 0 &&
        (commit.length + group.length > MAX_MUTATIONS || bytes + groupBytes > MAX_COMMIT_BYTES)
      ) {
        commits.push(commit);
        commit = [];
        bytes = 0;
      }
      for (const mutation of group) {
        if (
          commit.length > 0 &&
          (commit.length >= MAX_MUTATIONS || bytes + mutation.bytes > MAX_COMMIT_BYTES)
        ) {
          commits.push(commit);
          commit = [];
          bytes = 0;
        }
        commit.push(mutation);
        bytes += mutation.bytes;
      }
    }
    if (commit.length > 0) commits.push(commit);
    for (const mutations of commits) await this.#commitMutations(mutations);
    this.#tombstones.clear();
  }

  async #commitMutations(mutations: Mutation[]): Promise<void> {
    const kv = this.#kv;
    if (kv === undefined) throw new StorageError(this.name, "the store is closed");
    const atomic = kv.atomic();
    for (const mutation of mutations) {
      if ("set" in mutation) atomic.set(mutation.set, mutation.value);
      else atomic.delete(mutation.delete);
    }
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      result = await atomic.commit();
    } catch (error) {
      throw new StorageError(this.name, `commit failed: ${message(error)}`, { cause: error });
    }
    if (!result.ok) throw new StorageError(this.name, "commit failed");
  }

  #deleteRecord(id: string, out: Mutation[]): void {
    const location = this.#locations.get(id) ?? this.#tombstones.get(id);
    if (location === undefined) return;
    this.#locations.delete(id);
    this.#tombstones.set(id, location);
    out.push({ delete: this.#key("r", location.seq), bytes: 64 });
    for (let i = 0; i < location.parts; i++) {
      out.push({ delete: this.#key("r", location.seq, i), bytes: 64 });
    }
  }

  #mutations(op: StorageOp): Mutation[] {
    const out: Mutation[] = [];
    switch (op.type) {
      case "append":
        for (const record of op.records) {
          const old = this.#locations.get(record.id);
          const seq = old?.seq ?? this.#nextSeq++;
          const parts = record.data.length > PART_BYTES
            ? Math.ceil(record.data.length / PART_BYTES)
            : 0;
          // Parts first: the record's own key, written last, makes it visible.
          for (let i = 0; i < parts; i++) {
            const value = record.data.slice(i * PART_BYTES, (i + 1) * PART_BYTES);
            out.push({ set: this.#key("r", seq, i), value, bytes: value.length + 64 });
          }
          for (let i = parts; i < (old?.parts ?? 0); i++) {
            out.push({ delete: this.#key("r", seq, i), bytes: 64 });
          }
          const meta: RecordMeta = {
            id: record.id,
            key: record.key,
            group: record.group,
            stream: record.stream,
            queuedAt: record.queuedAt,
            ...(parts === 0 ? { data: ownBytes(record.data) } : { parts }),
          };
          const bytes = 128 + record.id.length + record.key.length + record.group.length +
            record.stream.length + (parts === 0 ? record.data.length : 0);
          out.push({ set: this.#key("r", seq), value: meta, bytes });
          this.#locations.set(record.id, { seq, parts });
        }
        break;
      case "saveBatch": {
        const batch = op.batch;
        const bytes = 128 + batch.recordIds.reduce((sum, id) => sum + id.length + 8, 0);
        out.push({ set: this.#key("b", batch.id), value: batch, bytes });
        break;
      }
      case "settleBatch":
        out.push({ delete: this.#key("b", op.batchId), bytes: 64 });
        for (const id of op.removedRecordIds) this.#deleteRecord(id, out);
        break;
      case "remove":
        for (const id of op.recordIds) this.#deleteRecord(id, out);
        break;
      case "setValue":
        if (op.value === undefined) out.push({ delete: this.#key("v", op.key), bytes: 64 });
        else {
          const value = { value: op.value };
          out.push({
            set: this.#key("v", op.key),
            value,
            bytes: 64 + JSON.stringify(value).length,
          });
        }
        break;
    }
    return out;
  }
}

function isRecordMeta(value: unknown): value is RecordMeta {
  return typeof value === "object" && value !== null &&
    typeof (value as RecordMeta).id === "string";
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// Types that the exports above name in their signatures.
export type * from "./_storage_types.ts";
