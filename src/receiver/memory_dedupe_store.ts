import { optionChecks } from "../_util/checks.ts";
import type {
  DedupeCommit,
  DedupeRelease,
  DedupeStore,
  DedupeTiming,
  EventClaim,
  RequestClaim,
} from "./dedupe_store.ts";
import type { RecordResult } from "./route.ts";

/** Options of {@linkcode MemoryDedupeStore}. */
export interface MemoryDedupeStoreOptions {
  /**
   * Most keys (request and event keys of all tenants) kept; past it the
   * oldest are forgotten first and counted in {@linkcode MemoryDedupeStore.evicted}.
   * @default {1000000}
   */
  maxKeys?: number;
}

/** Defaults of {@linkcode MemoryDedupeStoreOptions}. */
export const DEFAULT_MEMORY_DEDUPE_STORE_OPTIONS: Required<MemoryDedupeStoreOptions> = Object
  .freeze({ maxKeys: 1_000_000 });

// Immutable, and shared by every key one claim or commit writes: a request's 500 event keys cost
// 500 map slots and one entry, not 500 entries (fewer objects for the garbage collector to mark).
interface Entry {
  readonly owner: string;
  readonly done: boolean;
  readonly expiresAt: number;
  readonly fingerprint?: string;
  readonly results?: readonly RecordResult[];
}

// Length-prefixed tenant, so "a:b" + "c" never equals "a" + "b:c".
function requestId(tenant: string, key: string): string {
  return `r${tenant.length}:${tenant}${key}`;
}

function eventId(tenant: string, key: string): string {
  return `e${tenant.length}:${tenant}${key}`;
}

/**
 * In-process dedupe store: bounded, with keys expiring after the TTL (claims
 * after the lease). Claims are synchronous, hence atomic within the process.
 * Keys are lost on restart: use `KvDedupeStore` (`./receiver/deno-kv`) to keep them.
 *
 * @example Usage
 * ```ts
 * import { MemoryDedupeStore } from "./memory_dedupe_store.ts";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryDedupeStore({ maxKeys: 1000 });
 * const timing = { now: 0, ttlMs: 60_000, leaseMs: 5_000 };
 * assert.deepEqual(store.claimEvents("t1", ["k1", "k1"], "o1", timing), ["claimed", "duplicate"]);
 * store.commit("t1", { owner: "o1", eventKeys: ["k1"] }, timing);
 * assert.deepEqual(store.claimEvents("t1", ["k1"], "o2", timing), ["duplicate"]);
 * assert.deepEqual(store.claimEvents("t2", ["k1"], "o3", timing), ["claimed"]);
 * ```
 */
export class MemoryDedupeStore implements DedupeStore {
  readonly #maxKeys: number;
  // Insertion order approximates expiry order: a commit completes a fresh claim where it is
  // (near the end already) and re-inserts any other key.
  readonly #entries = new Map<string, Entry>();
  #evicted = 0;

  /** Creates an empty store in this process's memory. */
  constructor(options: MemoryDedupeStoreOptions = {}) {
    const { maxKeys = DEFAULT_MEMORY_DEDUPE_STORE_OPTIONS.maxKeys } = options;
    optionChecks("create memory dedupe store").positiveInteger("maxKeys", maxKeys);
    this.#maxKeys = maxKeys;
  }

  /** Keys currently held (expired ones may linger until swept). */
  get size(): number {
    return this.#entries.size;
  }

  /** Unexpired keys forgotten because the store was full. */
  get evicted(): number {
    return this.#evicted;
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#entries.delete(id);
      return undefined;
    }
    return entry;
  }

  #put(id: string, entry: Entry, now: number): void {
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    this.#sweep(now);
  }

  #sweep(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxKeys && entry.expiresAt > now) break;
      this.#entries.delete(id);
      if (entry.expiresAt > now) this.#evicted++;
    }
  }

  claimRequest(
    tenant: string,
    key: string,
    fingerprint: string,
    owner: string,
    timing: DedupeTiming,
  ): RequestClaim {
    const id = requestId(tenant, key);
    const entry = this.#live(id, timing.now);
    if (entry !== undefined) {
      if (entry.fingerprint !== fingerprint) return { state: "mismatch" };
      if (entry.done) return { state: "completed", results: entry.results ?? [] };
      return { state: "in_progress", retryAfterMs: entry.expiresAt - timing.now };
    }
    this.#put(
      id,
      { owner, done: false, fingerprint, expiresAt: timing.now + timing.leaseMs },
      timing.now,
    );
    return { state: "claimed", owner };
  }

  claimEvents(
    tenant: string,
    keys: readonly string[],
    owner: string,
    timing: DedupeTiming,
  ): EventClaim[] {
    const claims: EventClaim[] = new Array(keys.length);
    const claimed: Entry = { owner, done: false, expiresAt: timing.now + timing.leaseMs };
    for (let i = 0; i < keys.length; i++) {
      const id = eventId(tenant, keys[i]!);
      const entry = this.#live(id, timing.now);
      if (entry === undefined) {
        this.#entries.set(id, claimed);
        claims[i] = "claimed";
      } else if (entry.done || entry.owner === owner) {
        claims[i] = "duplicate";
      } else {
        claims[i] = "in_progress";
      }
    }
    this.#sweep(timing.now);
    return claims;
  }

  commit(tenant: string, commit: DedupeCommit, timing: DedupeTiming): void {
    const expiresAt = timing.now + timing.ttlMs;
    const { owner, request, eventKeys } = commit;
    const done: Entry = { owner, done: true, expiresAt };
    for (const key of eventKeys) {
      const id = eventId(tenant, key);
      const entry = this.#entries.get(id);
      if (entry !== undefined && entry.owner === owner && !entry.done) {
        // Claimed moments ago, so already near the end of the insertion order: completed where
        // it is (set() keeps a key's place), which spares re-inserting every key of a request.
        this.#entries.set(id, done);
      } else {
        this.#entries.delete(id);
        this.#entries.set(id, done);
      }
    }
    if (request !== undefined) {
      this.#entries.delete(requestId(tenant, request.key));
      this.#entries.set(requestId(tenant, request.key), {
        owner,
        done: true,
        expiresAt,
        fingerprint: request.fingerprint,
        results: request.results,
      });
    }
    this.#sweep(timing.now);
  }

  release(tenant: string, release: DedupeRelease): void {
    const { owner, requestKey, eventKeys } = release;
    const ids = eventKeys.map((key) => eventId(tenant, key));
    if (requestKey !== undefined) ids.push(requestId(tenant, requestKey));
    for (const id of ids) {
      const entry = this.#entries.get(id);
      if (entry !== undefined && !entry.done && entry.owner === owner) this.#entries.delete(id);
    }
  }
}
