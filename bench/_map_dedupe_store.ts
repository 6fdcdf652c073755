import type {
  DedupeCommit,
  DedupeRelease,
  DedupeStore,
  DedupeTiming,
  EventClaim,
  RequestClaim,
} from "../src/receiver/dedupe_store.ts";
import type { RecordResult } from "../src/receiver/route.ts";

// One claim or commit: every key it wrote points at it (a request's 500 event keys cost 500 map
// slots and one object, not 500). Its place in the store's queue is the keys' age: the sweep
// forgets keys in queue order, skipping those a later claim or commit took over.
interface Batch {
  readonly owner: string;
  // Changed only when a commit completes a claim's keys all at once.
  done: boolean;
  expiresAt: number;
  readonly fingerprint?: string;
  readonly results?: readonly RecordResult[];
  /** The map its keys are in (a tenant's event or request keys), and that tenant's keys. */
  readonly map: Map<string, Batch>;
  readonly tenant: TenantKeys;
  /** Keys written, in order; those still pointing here are `live`, from `swept` on. */
  readonly keys: string[];
  live: number;
  swept: number;
}

// A tenant's keys, by kind, keyed by the keys themselves: no per-lookup string is built, and a
// key string's hash, computed once, serves its claim and its commit.
interface TenantKeys {
  readonly name: string;
  readonly events: Map<string, Batch>;
  readonly requests: Map<string, Batch>;
}

/** Whether `keys` are exactly the keys `batch` wrote, in order, each still pointing at it. */
function sameKeys(batch: Batch, keys: readonly string[]): boolean {
  if (batch.live !== batch.keys.length || keys.length !== batch.keys.length) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== batch.keys[i]) return false;
  return true;
}

/**
 * The memory dedupe store as it was before its keys moved off the heap (every
 * key a JS string in a `Map` per tenant and kind, plus an array per batch):
 * the comparison of bench/receiver_bench.ts's store group, and the reference
 * the key-table store is checked against in tests/receiver_memory_dedupe_store_test.ts.
 */
export class MapDedupeStore implements DedupeStore {
  readonly #maxKeys: number;
  readonly #tenants = new Map<string, TenantKeys>();
  // Oldest first from `#head`; commits append, so a queue position approximates expiry order.
  #queue: Batch[] = [];
  #head = 0;
  #size = 0;
  #evicted = 0;

  /** Creates an empty store keeping at most `maxKeys` keys. */
  constructor(options: { maxKeys?: number } = {}) {
    this.#maxKeys = options.maxKeys ?? 1_000_000;
  }

  /** Keys currently held (expired ones may linger until swept). */
  get size(): number {
    return this.#size;
  }

  /** Unexpired keys forgotten because the store was full. */
  get evicted(): number {
    return this.#evicted;
  }

  #keysOf(tenant: string): TenantKeys {
    let keys = this.#tenants.get(tenant);
    if (keys === undefined) {
      keys = { name: tenant, events: new Map(), requests: new Map() };
      this.#tenants.set(tenant, keys);
    }
    return keys;
  }

  #batch(
    tenant: TenantKeys,
    map: Map<string, Batch>,
    owner: string,
    done: boolean,
    expiresAt: number,
    request?: Pick<Batch, "fingerprint" | "results">,
  ): Batch {
    return { owner, done, expiresAt, ...request, map, tenant, keys: [], live: 0, swept: 0 };
  }

  /** Points `key` at `batch` (a key already there keeps its place in the map). */
  #write(key: string, batch: Batch): void {
    const previous = batch.map.get(key);
    if (previous === batch) return;
    if (previous === undefined) this.#size++;
    else previous.live--;
    batch.map.set(key, batch);
    batch.keys.push(key);
    batch.live++;
  }

  #forget(map: Map<string, Batch>, key: string, batch: Batch): void {
    map.delete(key);
    batch.live--;
    this.#size--;
  }

  #live(map: Map<string, Batch>, key: string, now: number): Batch | undefined {
    const batch = map.get(key);
    if (batch === undefined) return undefined;
    if (batch.expiresAt <= now) {
      this.#forget(map, key, batch);
      return undefined;
    }
    return batch;
  }

  #sweep(now: number): void {
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const batch = queue[this.#head]!;
      const expired = batch.expiresAt <= now;
      if (batch.live > 0 && !expired && this.#size <= this.#maxKeys) break;
      while (batch.live > 0 && (expired || this.#size > this.#maxKeys)) {
        const key = batch.keys[batch.swept++]!;
        if (batch.map.get(key) !== batch) continue;
        this.#forget(batch.map, key, batch);
        if (!expired) this.#evicted++;
      }
      if (batch.live > 0) break;
      this.#head++;
      // A tenant is forgotten with its last key (tenants may come from paths: unbounded).
      const { tenant } = batch;
      if (
        tenant.events.size === 0 && tenant.requests.size === 0 &&
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
    const { requests } = keys;
    const entry = this.#live(requests, key, timing.now);
    if (entry !== undefined) {
      if (entry.fingerprint !== fingerprint) return { state: "mismatch" };
      if (entry.done) return { state: "completed", results: entry.results ?? [] };
      return { state: "in_progress", retryAfterMs: entry.expiresAt - timing.now };
    }
    const claimed = this.#batch(keys, requests, owner, false, timing.now + timing.leaseMs, {
      fingerprint,
    });
    this.#write(key, claimed);
    this.#queue.push(claimed);
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
    const { events } = tenantKeys;
    const claims: EventClaim[] = new Array(keys.length);
    const claimed = this.#batch(tenantKeys, events, owner, false, timing.now + timing.leaseMs);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const entry = this.#live(events, key, timing.now);
      if (entry === undefined) {
        // Known absent: #write's own lookup spared.
        events.set(key, claimed);
        claimed.keys.push(key);
        claimed.live++;
        this.#size++;
        claims[i] = "claimed";
      } else if (entry.done || entry.owner === owner) {
        claims[i] = "duplicate";
      } else {
        claims[i] = "in_progress";
      }
    }
    if (claimed.live > 0) this.#queue.push(claimed);
    // Last, once every write is done: the sweep may forget this tenant's maps.
    this.#sweep(timing.now);
    return claims;
  }

  commit(tenant: string, commit: DedupeCommit, timing: DedupeTiming): void {
    const expiresAt = timing.now + timing.ttlMs;
    const { owner, request, eventKeys } = commit;
    if (eventKeys.length === 0 && request === undefined) return;
    const keys = this.#keysOf(tenant);
    const { events, requests } = keys;
    const claimed = events.get(eventKeys[0]!);
    if (
      claimed !== undefined && claimed.owner === owner && !claimed.done &&
      sameKeys(claimed, eventKeys)
    ) {
      // The receiver's commit: exactly the keys one claim took, in order, all still its own.
      // Completed where they are (as young as their claim), without touching the map.
      claimed.done = true;
      claimed.expiresAt = expiresAt;
    } else if (eventKeys.length > 0) {
      const done = this.#batch(keys, events, owner, true, expiresAt);
      for (const key of eventKeys) this.#write(key, done);
      this.#queue.push(done);
    }
    if (request !== undefined) {
      const done = this.#batch(keys, requests, owner, true, expiresAt, {
        fingerprint: request.fingerprint,
        results: request.results,
      });
      // Moved to the end of the map too: a completed request key is as young as its commit.
      const previous = requests.get(request.key);
      if (previous !== undefined) this.#forget(requests, request.key, previous);
      this.#write(request.key, done);
      this.#queue.push(done);
    }
    this.#sweep(timing.now);
  }

  release(tenant: string, release: DedupeRelease): void {
    const keys = this.#tenants.get(tenant);
    if (keys === undefined) return;
    const { owner, requestKey, eventKeys } = release;
    const releasable = (map: Map<string, Batch>, key: string) => {
      const entry = map.get(key);
      if (entry !== undefined && !entry.done && entry.owner === owner) {
        this.#forget(map, key, entry);
      }
    };
    for (const key of eventKeys) releasable(keys.events, key);
    if (requestKey !== undefined) releasable(keys.requests, requestKey);
  }
}
