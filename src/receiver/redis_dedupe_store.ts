/**
 * A dedupe store on Redis ≥ 7 or Valkey, shared by any number of receivers
 * (`./receiver/redis`). Loads the `ioredis` client: import it only where it is used.
 *
 * @module
 */
import { Redis, type RedisOptions } from "ioredis";
import type {
  BatchClaim,
  DedupeCommit,
  DedupeRelease,
  DedupeStore,
  DedupeTiming,
  EventClaim,
  RequestClaim,
} from "./dedupe_store.ts";
import { keyText } from "./_key_text.ts";
import type { RecordResult } from "./route.ts";

/** Options of {@linkcode RedisDedupeStore}. */
export interface RedisDedupeStoreOptions {
  /** Prefix of every Redis key the store writes, so it can share a database. @default {"idemtrack:dedupe:"} */
  prefix?: string;
}

/** Defaults of {@linkcode RedisDedupeStoreOptions}. */
export const DEFAULT_REDIS_DEDUPE_STORE_OPTIONS: Required<RedisDedupeStoreOptions> = Object
  .freeze({ prefix: "idemtrack:dedupe:" });

/**
 * Settings of the `ioredis` client that {@linkcode RedisDedupeStore.connect}
 * opens: these, and any other `ioredis` option (`username`, `password`, `db`,
 * `tls`…).
 */
export interface RedisClientOptions {
  /** Queue commands while disconnected instead of failing them. @default {false} */
  enableOfflineQueue?: boolean;
  /** Send again, after a reconnection, commands whose answer was lost. @default {false} */
  autoResendUnfulfilledCommands?: boolean;
  /** Attempts per command across reconnections. @default {0} */
  maxRetriesPerRequest?: number | null;
  /** Longest wait for one command's answer, ms. @default {5000} */
  commandTimeout?: number;
  /** Longest wait for a connection, ms. @default {5000} */
  connectTimeout?: number;
  /** Other `ioredis` options. */
  [option: string]: unknown;
}

/**
 * Client settings of {@linkcode RedisDedupeStore.connect}: a command fails at
 * once while the server is away (the receiver answers 503 and the client
 * retries) instead of waiting in a queue, and a command whose answer was lost
 * is never sent twice (a claim sent again would find its own claim and call
 * the event a duplicate).
 */
export const DEFAULT_REDIS_CLIENT_OPTIONS: Readonly<RedisClientOptions> = Object.freeze({
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 5_000,
  connectTimeout: 5_000,
});

// An event key holds "<lease expiry>:<owner>" from its claim on; a request's commit writes
// one marker "owner → expiry" instead of rewriting each of its event keys, so an event costs
// one SET NX to claim and nothing to commit. A key is seen (duplicate) while its owner's marker
// is alive, in progress while its lease is, free after both. Request keys are hashes
// {s: c|d, x: expiry, o: owner, f: fingerprint, r: results JSON}. Expiry follows the
// receiver's clock (ARGV now), as in the memory store; Redis' own PX expiry only collects the
// garbage (event keys live for lease + TTL, past any marker of theirs).
const CLAIM = `
local now = tonumber(ARGV[1])
local owner = ARGV[4]
local first = 1
if ARGV[6] == '1' then
  first = 2
  local key = KEYS[1]
  local v = redis.call('HMGET', key, 's', 'x', 'f', 'r')
  if v[1] and tonumber(v[2]) > now then
    if v[3] ~= ARGV[5] then return {'mismatch'} end
    if v[1] == 'd' then return {'completed', v[4]} end
    return {'in_progress', v[2]}
  end
  redis.call('DEL', key)
  redis.call('HSET', key, 's', 'c', 'x', ARGV[2], 'o', owner, 'f', ARGV[5])
  redis.call('PEXPIRE', key, ARGV[3])
end
local claim = ARGV[2] .. ':' .. owner
local states = {}
for i = first, #KEYS do
  local key = KEYS[i]
  local state = 0
  if not redis.call('SET', key, claim, 'NX', 'PX', ARGV[7]) then
    local v = redis.call('GET', key)
    local colon = string.find(v, ':', 1, true)
    local holder = string.sub(v, colon + 1)
    local seen = redis.call('GET', ARGV[8] .. holder)
    if seen and tonumber(seen) > now then
      state = 1
    elseif tonumber(string.sub(v, 1, colon - 1)) > now then
      if holder == owner then state = 1 else state = 2 end
    else
      redis.call('SET', key, claim, 'PX', ARGV[7])
    end
  end
  states[#states + 1] = state
end
return {'claimed', states}
`;

const COMMIT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] == '1' then
  local key = KEYS[2]
  redis.call('DEL', key)
  redis.call('HSET', key, 's', 'd', 'x', ARGV[1], 'f', ARGV[4], 'r', ARGV[5])
  redis.call('PEXPIRE', key, ARGV[2])
end
return 1
`;

const RELEASE = `
local n = #KEYS
if ARGV[2] == '1' then
  n = n - 1
  local key = KEYS[#KEYS]
  local v = redis.call('HMGET', key, 's', 'o')
  if v[1] == 'c' and v[2] == ARGV[1] then redis.call('DEL', key) end
end
-- Committed claims stay: only an owner without a marker gives its event keys back.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local mine = ':' .. ARGV[1]
for i = 2, n do
  local v = redis.call('GET', KEYS[i])
  if v and string.sub(v, -#mine) == mine then redis.call('DEL', KEYS[i]) end
end
return n
`;

const EVENT_STATES: readonly EventClaim[] = ["claimed", "duplicate", "in_progress"];

interface Script {
  readonly source: string;
  sha?: string;
}

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Dedupe store on Redis ≥ 7 or Valkey: every receiver pointed at one server
 * shares its keys. Each operation is one Lua script, so it is atomic and
 * takes one round trip — {@linkcode RedisDedupeStore.claimBatch} claims a
 * request key and all its event keys in one. Keys are scoped per tenant and
 * kept apart exactly as the memory store keeps them (lone surrogates too);
 * expiry follows the receiver's clock, and Redis drops expired keys by itself.
 * A tenant's keys share one hash slot (`{tenant}`). Committing a request
 * writes one key whatever its event count.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisDedupeStore } from "./redis_dedupe_store.ts";
 * import { createReceiver, JsonLinesSink } from "./mod.ts";
 *
 * const store = await RedisDedupeStore.connect("redis://127.0.0.1:6379");
 * const receiver = createReceiver({ store, sink: new JsonLinesSink("events.jsonl") });
 * Deno.serve(receiver);
 * ```
 */
export class RedisDedupeStore implements DedupeStore {
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #claim: Script = { source: CLAIM };
  readonly #commit: Script = { source: COMMIT };
  readonly #release: Script = { source: RELEASE };

  /**
   * Wraps a client (give it {@linkcode DEFAULT_REDIS_CLIENT_OPTIONS});
   * {@linkcode RedisDedupeStore.close} closes it only when `ownsClient`.
   */
  constructor(client: Redis, options: RedisDedupeStoreOptions = {}, ownsClient = false) {
    const { prefix = DEFAULT_REDIS_DEDUPE_STORE_OPTIONS.prefix } = options;
    if (typeof prefix !== "string") {
      throw new TypeError(
        `Cannot create Redis dedupe store as 'prefix' must be a string: current type is ${typeof prefix}`,
      );
    }
    this.#client = client;
    this.#ownsClient = ownsClient;
    this.#prefix = prefix;
  }

  /**
   * Connects to `url` (`redis://[user:password@]host:port[/db]`, `rediss://`
   * for TLS) and waits until the server answers; rejects if it does not
   * within `connectTimeout`.
   */
  static async connect(
    url: string,
    options: RedisDedupeStoreOptions = {},
    clientOptions: RedisClientOptions = {},
  ): Promise<RedisDedupeStore> {
    if (!/^rediss?:\/\//.test(url)) {
      throw new TypeError(
        "Cannot connect Redis dedupe store as 'url' must start with redis:// or rediss://",
      );
    }
    const client = new Redis(url, {
      ...DEFAULT_REDIS_CLIENT_OPTIONS,
      ...clientOptions,
      lazyConnect: true,
    } as RedisOptions);
    // Failures reach the callers as rejected commands; the client reconnects by itself.
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      throw new Error(`Cannot connect Redis dedupe store to ${new URL(url).host}`, {
        cause: error,
      });
    }
    return new RedisDedupeStore(client, options, true);
  }

  #tenantPrefix(tenant: string): string {
    const text = keyText(tenant);
    // Length first, so no tenant's prefix is another's; braces make it the cluster hash slot.
    return `${this.#prefix}{${text.length}:${text}}`;
  }

  async #run(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    script.sha ??= await sha1Hex(script.source);
    try {
      return await this.#client.call("EVALSHA", [script.sha, keys.length, ...keys, ...args]);
    } catch (error) {
      // A restarted (or flushed) server forgot the script: EVAL sends it and caches it again.
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await this.#client.call("EVAL", [script.source, keys.length, ...keys, ...args]);
    }
  }

  /**
   * Claims a request key (when given) and then the event keys, in one round
   * trip; when the request key is not claimed, no event key is touched.
   */
  async claimBatch(
    tenant: string,
    request: { readonly key: string; readonly fingerprint: string } | undefined,
    eventKeys: readonly string[],
    owner: string,
    timing: DedupeTiming,
  ): Promise<BatchClaim> {
    const base = this.#tenantPrefix(tenant);
    const keys: string[] = [];
    if (request !== undefined) keys.push(`${base}r${keyText(request.key)}`);
    for (const key of eventKeys) keys.push(`${base}e${keyText(key)}`);
    const answer = await this.#run(this.#claim, keys, [
      timing.now,
      timing.now + timing.leaseMs,
      timing.leaseMs,
      owner,
      request?.fingerprint ?? "",
      request === undefined ? "0" : "1",
      timing.leaseMs + timing.ttlMs,
      `${base}o`,
    ]) as [string, unknown?];
    const [state, detail] = answer;
    switch (state) {
      case "claimed":
        return {
          request: request === undefined ? undefined : { state: "claimed", owner },
          events: (detail as number[]).map((code) => EVENT_STATES[code]!),
        };
      case "completed":
        return {
          request: {
            state: "completed",
            results: JSON.parse(String(detail ?? "[]")) as RecordResult[],
          },
          events: [],
        };
      case "in_progress":
        return {
          request: { state: "in_progress", retryAfterMs: Number(detail) - timing.now },
          events: [],
        };
      default:
        return { request: { state: "mismatch" }, events: [] };
    }
  }

  async claimRequest(
    tenant: string,
    key: string,
    fingerprint: string,
    owner: string,
    timing: DedupeTiming,
  ): Promise<RequestClaim> {
    const claim = await this.claimBatch(tenant, { key, fingerprint }, [], owner, timing);
    return claim.request!;
  }

  async claimEvents(
    tenant: string,
    keys: readonly string[],
    owner: string,
    timing: DedupeTiming,
  ): Promise<EventClaim[]> {
    return (await this.claimBatch(tenant, undefined, keys, owner, timing)).events;
  }

  async commit(tenant: string, commit: DedupeCommit, timing: DedupeTiming): Promise<void> {
    const { owner, request } = commit;
    const base = this.#tenantPrefix(tenant);
    const keys = [`${base}o${owner}`];
    const args: (string | number)[] = [timing.now + timing.ttlMs, timing.ttlMs];
    if (request === undefined) args.push("0");
    else {
      keys.push(`${base}r${keyText(request.key)}`);
      args.push("1", request.fingerprint, JSON.stringify(request.results));
    }
    await this.#run(this.#commit, keys, args);
  }

  async release(tenant: string, release: DedupeRelease): Promise<void> {
    const { owner, requestKey, eventKeys } = release;
    if (requestKey === undefined && eventKeys.length === 0) return;
    const base = this.#tenantPrefix(tenant);
    const keys = [`${base}o${owner}`];
    for (const key of eventKeys) keys.push(`${base}e${keyText(key)}`);
    if (requestKey !== undefined) keys.push(`${base}r${keyText(requestKey)}`);
    await this.#run(this.#release, keys, [owner, requestKey === undefined ? "0" : "1"]);
  }

  /** Answers whether the server is reachable (for readiness checks). */
  async ping(): Promise<boolean> {
    try {
      return (await this.#client.ping()) === "PONG";
    } catch {
      return false;
    }
  }

  /** Closes the connection if this store opened it. */
  async close(): Promise<void> {
    if (!this.#ownsClient) return;
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}

// Types that the exports above name in their signatures.
export type * from "./_dedupe_store_types.ts";
