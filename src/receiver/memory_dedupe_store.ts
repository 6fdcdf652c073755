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
import { type KeyBatch, keyBuffers, type KeyScope, KeyTable } from "./_key_table.ts";

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

// One claim or commit: its keys' code units live in its own buffers (off the JavaScript heap, freed
// together) and the store's key table points at them; a request's 500 event keys cost one object.
// Its place in the store's queue is the keys' age: the sweep forgets keys in queue order, skipping
// those a later claim or commit took over.
interface Batch extends KeyBatch {
  readonly owner: string;
  // Changed only when a commit completes a claim's keys all at once.
  done: boolean;
  expiresAt: number;
  readonly fingerprint: string | undefined;
  readonly results: readonly RecordResult[] | undefined;
  readonly tenant: TenantKeys;
  /** Keys before it are forgotten. */
  swept: number;
}

// A tenant's two scopes in the key table: its event keys and its request keys.
interface TenantKeys {
  readonly name: string;
  readonly events: KeyScope;
  readonly requests: KeyScope;
}

const EVENTS = 0;
const REQUESTS = 1;

/**
 * In-process dedupe store: bounded, with keys expiring after the TTL (claims
 * after the lease). Claims are synchronous, hence atomic within the process.
 * Keys are lost on restart: use `KvDedupeStore` (`./receiver/deno-kv`) to keep them.
 *
 * Keys live outside the JavaScript heap, so the garbage collector never
 * visits them: each claim or commit copies its keys' UTF-16 code units into
 * one buffer (one byte per unit while every unit of the batch is below 256,
 * else two), freed whole once its last key is forgotten, and one hash table
 * of `Int32Array` slots finds them. A key costs its length in bytes (twice
 * that for wider text) plus about 30 bytes (8 of index, 12 per slot of a
 * table kept 30–62 % full): ~85 bytes for a 49-character key, against
 * ~110 bytes of heap as a string in a `Map` (`bench/dedupe_store_memory.ts`). Keys are compared code unit by
 * code unit, never by hash alone: keys (and tenants) that differ only in a
 * lone surrogate or U+0000 stay distinct. The hash is HalfSipHash-1-3 under
 * a random key per store, so clients cannot choose keys that pile up in one
 * probe chain.
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
  readonly #tenants = new Map<string, TenantKeys>();
  readonly #table = new KeyTable<Batch>();
  // Oldest first from `#head`; commits append, so a queue position approximates expiry order.
  #queue: Batch[] = [];
  #head = 0;
  #evicted = 0;

  /** Creates an empty store in this process's memory. */
  constructor(options: MemoryDedupeStoreOptions = {}) {
    const { maxKeys = DEFAULT_MEMORY_DEDUPE_STORE_OPTIONS.maxKeys } = options;
    optionChecks("create memory dedupe store").positiveInteger("maxKeys", maxKeys);
    this.#maxKeys = maxKeys;
  }

  /** Keys currently held (expired ones may linger until swept). */
  get size(): number {
    return this.#table.size;
  }

  /** Unexpired keys forgotten because the store was full. */
  get evicted(): number {
    return this.#evicted;
  }

  #keysOf(tenant: string): TenantKeys {
    let keys = this.#tenants.get(tenant);
    if (keys === undefined) {
      const table = this.#table;
      keys = {
        name: tenant,
        events: { seed: table.seedOf(tenant, EVENTS), live: 0 },
        requests: { seed: table.seedOf(tenant, REQUESTS), live: 0 },
      };
      this.#tenants.set(tenant, keys);
    }
    return keys;
  }

  /** A batch with room for `keys` keys of `chars` code units in all, open for writing. */
  #batch(
    tenant: TenantKeys,
    scope: KeyScope,
    owner: string,
    done: boolean,
    expiresAt: number,
    chars: number,
    keys: number,
    fingerprint?: string,
    results?: readonly RecordResult[],
  ): Batch {
    const batch: Batch = {
      id: -1,
      scope,
      ...keyBuffers(chars, keys),
      count: 0,
      used: 0,
      live: 0,
      owner,
      done,
      expiresAt,
      fingerprint,
      results,
      tenant,
      swept: 0,
    };
    this.#table.open(batch);
    return batch;
  }

  /** Writes `key` into `batch` (a key already there keeps its place in the table). */
  #write(key: string, batch: Batch): void {
    const table = this.#table;
    const slot = table.stage(batch, key);
    if (slot < 0) table.append(batch);
    else if (table.batchAt(slot) !== batch) table.replace(slot, batch);
  }

  /** Queues `batch` if it kept a key (else it is freed). */
  #enqueue(batch: Batch): void {
    if (this.#table.seal(batch)) this.#queue.push(batch);
  }

  #sweep(now: number): void {
    const queue = this.#queue;
    const table = this.#table;
    while (this.#head < queue.length) {
      const batch = queue[this.#head]!;
      const expired = batch.expiresAt <= now;
      if (batch.live > 0 && !expired && table.size <= this.#maxKeys) break;
      while (batch.live > 0 && (expired || table.size > this.#maxKeys)) {
        const slot = batch.index[2 * batch.swept++ + 1]!;
        if (slot < 0) continue;
        table.remove(slot);
        if (!expired) this.#evicted++;
      }
      if (batch.live > 0) break;
      this.#head++;
      // A tenant is forgotten with its last key (tenants may come from paths: unbounded).
      const { tenant } = batch;
      if (
        tenant.events.live === 0 && tenant.requests.live === 0 &&
        this.#tenants.get(tenant.name) === tenant
      ) {
        this.#tenants.delete(tenant.name);
      }
    }
    if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }

  claimRequest(
    tenant: string,
    key: string,
    fingerprint: string,
    owner: string,
    timing: DedupeTiming,
  ): RequestClaim {
    const keys = this.#keysOf(tenant);
    const table = this.#table;
    const claimed = this.#batch(
      keys,
      keys.requests,
      owner,
      false,
      timing.now + timing.leaseMs,
      key.length,
      1,
      fingerprint,
    );
    const slot = table.stage(claimed, key);
    const entry = slot < 0 ? undefined : table.batchAt(slot);
    if (entry !== undefined && entry.expiresAt > timing.now) {
      table.seal(claimed);
      if (entry.fingerprint !== fingerprint) return { state: "mismatch" };
      if (entry.done) return { state: "completed", results: entry.results ?? [] };
      return { state: "in_progress", retryAfterMs: entry.expiresAt - timing.now };
    }
    if (entry === undefined) table.append(claimed);
    else table.replace(slot, claimed);
    this.#enqueue(claimed);
    this.#sweep(timing.now);
    return { state: "claimed", owner };
  }

  claimEvents(
    tenant: string,
    keys: readonly string[],
    owner: string,
    timing: DedupeTiming,
  ): EventClaim[] {
    if (keys.length === 0) return [];
    const tenantKeys = this.#keysOf(tenant);
    const table = this.#table;
    const { now } = timing;
    let chars = 0;
    for (let i = 0; i < keys.length; i++) chars += keys[i]!.length;
    const claimed = this.#batch(
      tenantKeys,
      tenantKeys.events,
      owner,
      false,
      now + timing.leaseMs,
      chars,
      keys.length,
    );
    const claims: EventClaim[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const slot = table.stage(claimed, keys[i]!);
      if (slot < 0) {
        table.append(claimed);
        claims[i] = "claimed";
        continue;
      }
      const entry = table.batchAt(slot);
      if (entry !== claimed && entry.expiresAt <= now) {
        table.replace(slot, claimed);
        claims[i] = "claimed";
      } else if (entry.done || entry.owner === owner) {
        claims[i] = "duplicate";
      } else {
        claims[i] = "in_progress";
      }
    }
    this.#enqueue(claimed);
    // Last, once every write is done: the sweep may forget this tenant.
    this.#sweep(now);
    return claims;
  }

  commit(tenant: string, commit: DedupeCommit, timing: DedupeTiming): void {
    const expiresAt = timing.now + timing.ttlMs;
    const { owner, request, eventKeys } = commit;
    if (eventKeys.length === 0 && request === undefined) return;
    const keys = this.#keysOf(tenant);
    const table = this.#table;
    if (eventKeys.length > 0) {
      const slot = table.lookup(keys.events, eventKeys[0]!);
      const claimed = slot < 0 ? undefined : table.batchAt(slot);
      if (
        claimed !== undefined && claimed.owner === owner && !claimed.done &&
        claimed.live === claimed.count && table.holds(claimed, eventKeys)
      ) {
        // The receiver's commit: exactly the keys one claim took, in order, all still its own.
        // Completed where they are (as young as their claim), without touching the table.
        claimed.done = true;
        claimed.expiresAt = expiresAt;
      } else {
        let chars = 0;
        for (let i = 0; i < eventKeys.length; i++) chars += eventKeys[i]!.length;
        const done = this.#batch(
          keys,
          keys.events,
          owner,
          true,
          expiresAt,
          chars,
          eventKeys.length,
        );
        for (let i = 0; i < eventKeys.length; i++) this.#write(eventKeys[i]!, done);
        this.#enqueue(done);
      }
    }
    if (request !== undefined) {
      const done = this.#batch(
        keys,
        keys.requests,
        owner,
        true,
        expiresAt,
        request.key.length,
        1,
        request.fingerprint,
        request.results,
      );
      // Taken over whatever its state: a completed request key is as young as its commit.
      this.#write(request.key, done);
      this.#enqueue(done);
    }
    this.#sweep(timing.now);
  }

  release(tenant: string, release: DedupeRelease): void {
    const keys = this.#tenants.get(tenant);
    if (keys === undefined) return;
    const { owner, requestKey, eventKeys } = release;
    const table = this.#table;
    const releasable = (scope: KeyScope, key: string) => {
      const slot = table.lookup(scope, key);
      if (slot < 0) return;
      const entry = table.batchAt(slot);
      if (!entry.done && entry.owner === owner) table.remove(slot);
    };
    for (const key of eventKeys) releasable(keys.events, key);
    if (requestKey !== undefined) releasable(keys.requests, requestKey);
  }
}
