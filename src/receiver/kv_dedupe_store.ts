import { optionChecks } from "../_util/checks.ts";
import { sha256Bytes } from "../../wasm/hash.ts";
import type {
  DedupeCommit,
  DedupeRelease,
  DedupeStore,
  DedupeTiming,
  EventClaim,
  RequestClaim,
} from "./dedupe_store.ts";
import type { RecordResult } from "./route.ts";

/** Options of {@linkcode KvDedupeStore}. */
export interface KvDedupeStoreOptions {
  /** Key prefix of every entry, so the store can share a database. @default {["idemtrack", "dedupe"]} */
  prefix?: Deno.KvKey;
  /** Attempts at a claim that loses a race to a concurrent writer, before giving up. @default {32} */
  maxAttempts?: number;
}

/** Defaults of {@linkcode KvDedupeStoreOptions}. */
export const DEFAULT_KV_DEDUPE_STORE_OPTIONS: Required<KvDedupeStoreOptions> = Object.freeze({
  prefix: Object.freeze(["idemtrack", "dedupe"]) as Deno.KvKey,
  maxAttempts: 32,
});

/** A stored key: owner, done flag, expiry (epoch ms), fingerprint, result chunk count. */
interface KeyValue {
  o: string;
  d: boolean;
  x: number;
  f?: string;
  n?: number;
}

// Deno KV reads at most 10 keys per call and checks at most 100 per atomic operation.
const READ_BATCH = 10;
const CLAIM_BATCH = 100;
const WRITE_BATCH = 500;
// Values are capped at 64 KiB; a two-byte string takes 2 bytes per character.
const RESULT_CHUNK_CHARS = 30_000;

type Compact = 0 | 1 | [string, string, boolean];

function compact(results: readonly RecordResult[]): Compact[] {
  return results.map((result) =>
    result.status === "accepted"
      ? 0
      : result.status === "duplicate"
      ? 1
      : [result.code, result.reason, result.retryable]
  );
}

function expand(values: readonly Compact[]): RecordResult[] {
  return values.map((value): RecordResult =>
    value === 0
      ? { status: "accepted" }
      : value === 1
      ? { status: "duplicate" }
      : { status: "rejected", code: value[0], reason: value[1], retryable: value[2] }
  );
}

function isLocked(error: unknown): boolean {
  return error instanceof Error && /database is locked|busy/i.test(error.message);
}

/** Commits, reporting a write lock held by another handle (SQLite busy) as a lost race. */
async function tryCommit(atomic: Deno.AtomicOperation, attempt: number): Promise<boolean> {
  try {
    return (await atomic.commit()).ok;
  } catch (error) {
    if (!isLocked(error)) throw error;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 ** Math.min(attempt, 6)));
    return false;
  }
}

// Deno KV stores a string key part as UTF-8, which turns every lone surrogate into U+FFFD, so
// keys differing only there would merge; and a whole key is capped at 2 KiB. Well-formed short
// strings (every key of the usual policies) stay strings; others become bytes: their UTF-16 code
// units (an even length), or, past the size below, a 0xff byte + their SHA-256 (33, odd).
// Parts of different types never compare equal, so no form collides with another.
const STRING_PART_MAX_CHARS = 200;

function keyPart(text: string): Deno.KvKeyPart {
  if (text.length <= STRING_PART_MAX_CHARS && text.isWellFormed()) return text;
  const units = new Uint8Array(text.length * 2);
  const view = new DataView(units.buffer);
  for (let i = 0; i < text.length; i++) view.setUint16(i * 2, text.charCodeAt(i));
  if (text.length <= STRING_PART_MAX_CHARS) return units;
  const hashed = new Uint8Array(33);
  hashed[0] = 0xff;
  hashed.set(sha256Bytes(units), 1);
  return hashed;
}

function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * Persistent dedupe store over Deno KV (SQLite on disk, or any KV a
 * `Deno.Kv` handle points at): a restart does not forget keys, and several
 * processes sharing the database claim keys atomically (versionstamp checks).
 * Needs `--unstable-kv` or `"unstable": ["kv"]` in `deno.json`.
 *
 * @example Usage
 * ```ts
 * import { KvDedupeStore } from "./kv_dedupe_store.ts";
 * import assert from "node:assert/strict";
 *
 * const store = await KvDedupeStore.open(":memory:");
 * const timing = { now: Date.now(), ttlMs: 60_000, leaseMs: 5_000 };
 * assert.deepEqual(await store.claimEvents("t1", ["k1"], "o1", timing), ["claimed"]);
 * await store.commit("t1", { owner: "o1", eventKeys: ["k1"] }, timing);
 * assert.deepEqual(await store.claimEvents("t1", ["k1"], "o2", timing), ["duplicate"]);
 * await store.close();
 * ```
 */
export class KvDedupeStore implements DedupeStore {
  readonly #kv: Deno.Kv;
  readonly #ownsKv: boolean;
  readonly #prefix: Deno.KvKey;
  readonly #maxAttempts: number;

  /** Wraps an open handle; {@linkcode KvDedupeStore.close} leaves it open. */
  constructor(kv: Deno.Kv, options: KvDedupeStoreOptions = {}, ownsKv = false) {
    const {
      prefix = DEFAULT_KV_DEDUPE_STORE_OPTIONS.prefix,
      maxAttempts = DEFAULT_KV_DEDUPE_STORE_OPTIONS.maxAttempts,
    } = options;
    optionChecks("create KV dedupe store").positiveInteger("maxAttempts", maxAttempts);
    this.#kv = kv;
    this.#ownsKv = ownsKv;
    this.#prefix = prefix;
    this.#maxAttempts = maxAttempts;
  }

  /** Opens (creating if needed) the database at `path` and owns the handle. */
  static async open(path?: string, options: KvDedupeStoreOptions = {}): Promise<KvDedupeStore> {
    return new KvDedupeStore(await Deno.openKv(path), options, true);
  }

  #requestKey(tenant: string, key: string): Deno.KvKey {
    return [...this.#prefix, "r", keyPart(tenant), keyPart(key)];
  }

  #resultKey(tenant: string, key: string, index: number): Deno.KvKey {
    return [...this.#prefix, "s", keyPart(tenant), keyPart(key), index];
  }

  #eventKey(tenant: string, key: string): Deno.KvKey {
    return [...this.#prefix, "e", keyPart(tenant), keyPart(key)];
  }

  async #readResults(tenant: string, key: string, count: number): Promise<RecordResult[]> {
    let text = "";
    for (let i = 0; i < count; i++) {
      const part = await this.#kv.get<string>(this.#resultKey(tenant, key, i));
      text += part.value ?? "";
    }
    return text === "" ? [] : expand(JSON.parse(text) as Compact[]);
  }

  async claimRequest(
    tenant: string,
    key: string,
    fingerprint: string,
    owner: string,
    timing: DedupeTiming,
  ): Promise<RequestClaim> {
    const kvKey = this.#requestKey(tenant, key);
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const current = await this.#kv.get<KeyValue>(kvKey);
      const value = current.value;
      if (value !== null && value.x > timing.now) {
        if (value.f !== fingerprint) return { state: "mismatch" };
        if (value.d) {
          return {
            state: "completed",
            results: await this.#readResults(tenant, key, value.n ?? 0),
          };
        }
        return { state: "in_progress", retryAfterMs: value.x - timing.now };
      }
      const claim: KeyValue = {
        o: owner,
        d: false,
        x: timing.now + timing.leaseMs,
        f: fingerprint,
      };
      const atomic = this.#kv.atomic().check(current)
        .set(kvKey, claim, { expireIn: timing.leaseMs });
      if (await tryCommit(atomic, attempt)) return { state: "claimed", owner };
    }
    throw new Error(`Cannot claim request key: lost ${this.#maxAttempts} races in a row`);
  }

  async claimEvents(
    tenant: string,
    keys: readonly string[],
    owner: string,
    timing: DedupeTiming,
  ): Promise<EventClaim[]> {
    const claims: EventClaim[] = new Array(keys.length);
    const firstIndex = new Map<string, number>();
    const unique: number[] = [];
    keys.forEach((key, index) => {
      if (firstIndex.has(key)) claims[index] = "duplicate";
      else {
        firstIndex.set(key, index);
        unique.push(index);
      }
    });
    for (const chunk of chunksOf(unique, CLAIM_BATCH)) {
      await this.#claimChunk(tenant, keys, chunk, owner, timing, claims);
    }
    return claims;
  }

  async #claimChunk(
    tenant: string,
    keys: readonly string[],
    indexes: readonly number[],
    owner: string,
    timing: DedupeTiming,
    claims: EventClaim[],
  ): Promise<void> {
    const claim: KeyValue = { o: owner, d: false, x: timing.now + timing.leaseMs };
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const entries = await this.#getMany(
        indexes.map((index) => this.#eventKey(tenant, keys[index]!)),
      );
      const atomic = this.#kv.atomic();
      let writes = 0;
      entries.forEach((entry, i) => {
        const index = indexes[i]!;
        const value = entry.value;
        if (value !== null && value.x > timing.now) {
          claims[index] = value.d || value.o === owner ? "duplicate" : "in_progress";
        } else {
          claims[index] = "claimed";
          atomic.check(entry).set(entry.key, claim, { expireIn: timing.leaseMs });
          writes++;
        }
      });
      if (writes === 0 || (await tryCommit(atomic, attempt))) return;
    }
    throw new Error(`Cannot claim event keys: lost ${this.#maxAttempts} races in a row`);
  }

  /** Reads any number of keys, 10 per call, the calls in parallel. */
  async #getMany(kvKeys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<KeyValue>[]> {
    const parts = await Promise.all(
      chunksOf(kvKeys, READ_BATCH).map((chunk) => this.#kv.getMany<KeyValue[]>(chunk)),
    );
    return parts.flat();
  }

  /** Writes unconditionally, waiting out another handle's write lock. */
  async #write(build: (atomic: Deno.AtomicOperation) => void): Promise<void> {
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const atomic = this.#kv.atomic();
      build(atomic);
      if (await tryCommit(atomic, attempt)) return;
    }
    throw new Error(
      `Cannot write dedupe keys: the database stayed locked for ${this.#maxAttempts} attempts`,
    );
  }

  async commit(tenant: string, commit: DedupeCommit, timing: DedupeTiming): Promise<void> {
    const { owner, request, eventKeys } = commit;
    const done: KeyValue = { o: owner, d: true, x: timing.now + timing.ttlMs };
    const options = { expireIn: timing.ttlMs };
    for (const chunk of chunksOf(eventKeys, WRITE_BATCH)) {
      await this.#write((atomic) => {
        for (const key of chunk) atomic.set(this.#eventKey(tenant, key), done, options);
      });
    }
    if (request === undefined) return;
    const text = JSON.stringify(compact(request.results));
    let count = 0;
    for (let offset = 0; offset < text.length; offset += RESULT_CHUNK_CHARS) {
      const key = this.#resultKey(tenant, request.key, count++);
      const part = text.slice(offset, offset + RESULT_CHUNK_CHARS);
      await this.#write((atomic) => void atomic.set(key, part, options));
    }
    // The request entry goes last: until it says done, nobody reads the chunks.
    const entry: KeyValue = { ...done, f: request.fingerprint, n: count };
    await this.#write((atomic) =>
      void atomic.set(this.#requestKey(tenant, request.key), entry, options)
    );
  }

  async release(tenant: string, release: DedupeRelease): Promise<void> {
    const { owner, requestKey, eventKeys } = release;
    const kvKeys = eventKeys.map((key) => this.#eventKey(tenant, key));
    if (requestKey !== undefined) kvKeys.push(this.#requestKey(tenant, requestKey));
    for (const chunk of chunksOf(kvKeys, CLAIM_BATCH)) {
      for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
        const entries = await this.#getMany(chunk);
        const ours = entries.filter((entry) =>
          entry.value !== null && !entry.value.d && entry.value.o === owner
        );
        if (ours.length === 0) break;
        const atomic = this.#kv.atomic();
        for (const entry of ours) atomic.check(entry).delete(entry.key);
        // A failed check means another owner took a key after our lease: re-read and retry the rest.
        if (await tryCommit(atomic, attempt)) break;
      }
    }
  }

  /** Reads one key: the database answers. */
  async ping(): Promise<void> {
    await this.#kv.get([...this.#prefix, "ping"]);
  }

  /** Closes the database if this store opened it. */
  close(): void {
    if (this.#ownsKv) this.#kv.close();
  }
}

// Types that the exports above name in their signatures.
export type * from "./_dedupe_store_types.ts";
