import type { Options, Sql } from "postgres";
import type {
  DedupeCommit,
  DedupeRelease,
  DedupeStore,
  DedupeTiming,
  EventClaim,
  RequestClaim,
} from "../dedupe_store.ts";
import type { RecordResult } from "../route.ts";
import { connectWithTable, keyColumn, PostgresTable, quotedTable } from "./_sql.ts";

/** Options of {@linkcode PostgresDedupeStore}. */
export interface PostgresDedupeStoreOptions {
  /** Table of keys (`table` or `schema.table`). @default {"idemtrack_dedupe_keys"} */
  table?: string;
  /** Creates the table when missing. @default {true} */
  createTable?: boolean;
}

/** Defaults of {@linkcode PostgresDedupeStoreOptions}. */
export const DEFAULT_POSTGRES_DEDUPE_STORE_OPTIONS: Required<PostgresDedupeStoreOptions> = Object
  .freeze({ table: "idemtrack_dedupe_keys", createTable: true });

// Expired keys are deleted in small steps, once every this many commits.
const SWEEP_EVERY = 64;
const SWEEP_ROWS = 1_000;

interface Queries {
  claimRequest: string;
  claimEvents: string;
  commit: string;
  commitWithRequest: string;
  release: string;
  sweep: string;
}

// Rows: 'r' request keys (done once committed, with fingerprint and results), 'e' event keys
// (owner and lease, never rewritten), 'o' one marker per committed request, keyed by its owner:
// an event key is seen while its owner's marker lives, in progress while its lease does, free
// after both — so a commit writes one row whatever its event count. Times are the receiver's
// clock (epoch ms); `sweep_at` is when a row can be deleted (event rows outlive their marker).
function queriesFor(table: string): Queries {
  // A claim takes a free row over with ON CONFLICT … DO UPDATE … WHERE free, which also waits
  // for a concurrent claim of the same key to commit or roll back: two claims never both win.
  const upsertMarker = `insert into ${table} as cur
        (tenant, kind, key, owner, done, expires_at, sweep_at)
      values ($1, 'o', $2, $2, true, $3, $3)
      on conflict (tenant, kind, key) do update
      set expires_at = excluded.expires_at, sweep_at = excluded.sweep_at`;
  return {
    claimRequest: `with won as (
        insert into ${table} as cur
          (tenant, kind, key, owner, done, expires_at, sweep_at, fingerprint)
        values ($1, 'r', $2, $3, false, $4, $4, $6)
        on conflict (tenant, kind, key) do update
        set owner = excluded.owner, done = false, expires_at = excluded.expires_at,
            sweep_at = excluded.sweep_at, fingerprint = excluded.fingerprint, results = null
        where cur.expires_at <= $5
        returning key)
      select (select count(*) from won)::int as won, cur.done, cur.expires_at, cur.fingerprint,
        cur.results::text as results
      from (select 1) as one
      left join ${table} as cur on cur.tenant = $1 and cur.kind = 'r' and cur.key = $2`,
    // The final select reads the rows as they were before this statement: a key neither won
    // nor visible was claimed by a transaction that committed meanwhile (in progress). Lateral
    // lookups keep it to one index probe per key (a join would hash the whole table).
    claimEvents: `with won as (
        insert into ${table} as cur (tenant, kind, key, owner, done, expires_at, sweep_at)
        select $1, 'e', k, $3, false, $4, $6 from unnest($2::text[]) as k
        on conflict (tenant, kind, key) do update
        set owner = excluded.owner, expires_at = excluded.expires_at, sweep_at = excluded.sweep_at
        where cur.expires_at <= $5 and not exists (select 1 from ${table} as m
          where m.tenant = cur.tenant and m.kind = 'o' and m.key = cur.owner and m.expires_at > $5)
        returning key)
      select k.key, won.key is not null as won, cur.owner, m.expires_at as seen_until
      from unnest($2::text[]) with ordinality as k(key, n)
      left join won on won.key = k.key
      left join lateral (select owner from ${table}
        where tenant = $1 and kind = 'e' and key = k.key limit 1) as cur on true
      left join lateral (select expires_at from ${table}
        where tenant = $1 and kind = 'o' and key = cur.owner limit 1) as m on true
      order by k.n`,
    commit: upsertMarker,
    commitWithRequest: `with marker as (${upsertMarker})
      insert into ${table} as cur
        (tenant, kind, key, owner, done, expires_at, sweep_at, fingerprint, results)
      values ($1, 'r', $4, $2, true, $3, $3, $5, $6::text::json)
      on conflict (tenant, kind, key) do update
      set owner = excluded.owner, done = true, expires_at = excluded.expires_at,
          sweep_at = excluded.sweep_at, fingerprint = excluded.fingerprint,
          results = excluded.results`,
    // A committed owner's event keys stay (its marker says they were seen).
    release: `delete from ${table} as cur
      where cur.tenant = $1 and cur.owner = $2 and not cur.done and (
        (cur.kind = 'r' and cur.key = $4) or
        (cur.kind = 'e' and cur.key = any($3::text[]) and not exists (select 1 from ${table} as m
          where m.tenant = $1 and m.kind = 'o' and m.key = $2)))`,
    sweep: `delete from ${table} where ctid = any(array(
        select ctid from ${table} where sweep_at <= $1 limit ${SWEEP_ROWS}))`,
  };
}

/**
 * Dedupe store on PostgreSQL, for deployments that run PostgreSQL and no
 * Redis: request and event keys in one table, each claim one statement
 * (`INSERT … ON CONFLICT DO UPDATE … WHERE free`), so claims are atomic
 * across receivers; a commit writes one row whatever its event count; leases
 * and TTLs follow the receiver's clock as in the memory store, and expired
 * keys are deleted as commits go by. With
 * {@linkcode PostgresSink} beside it, the event table's own unique index
 * makes each event stored exactly once in the same transaction as its write;
 * this store adds request keys (409 with the original answer) and `in_progress`.
 *
 * @example Usage
 * ```ts ignore
 * import { PostgresDedupeStore, PostgresSink } from "./mod.ts";
 * import { createReceiver } from "../mod.ts";
 *
 * const url = "postgres://idemtrack@127.0.0.1:5432/events";
 * const receiver = createReceiver({
 *   store: await PostgresDedupeStore.connect(url),
 *   sink: await PostgresSink.connect(url),
 * });
 * Deno.serve(receiver);
 * ```
 */
export class PostgresDedupeStore implements DedupeStore {
  readonly #pg: PostgresTable;
  readonly #table: string;
  readonly #queries: Queries;
  #commits = 0;

  /** Works through a pool; {@linkcode PostgresDedupeStore.close} ends it only when `ownsSql`. */
  constructor(sql: Sql, options: PostgresDedupeStoreOptions = {}, ownsSql = false) {
    const {
      table = DEFAULT_POSTGRES_DEDUPE_STORE_OPTIONS.table,
      createTable = DEFAULT_POSTGRES_DEDUPE_STORE_OPTIONS.createTable,
    } = options;
    this.#table = quotedTable(table, "table", "create PostgreSQL dedupe store");
    this.#queries = queriesFor(this.#table);
    const name = table.replace(/^.*\./, "");
    this.#pg = new PostgresTable(
      sql,
      ownsSql,
      createTable
        ? [
          `create table if not exists ${this.#table} (
        tenant text not null,
        kind "char" not null,
        key text not null,
        owner text not null,
        done boolean not null,
        expires_at bigint not null,
        sweep_at bigint not null,
        fingerprint text,
        results json,
        primary key (tenant, kind, key)
      )`,
          `create index if not exists "${name}_sweep_at" on ${this.#table} (sweep_at)`,
        ]
        : [],
    );
  }

  /** Connects to `url` (`postgres://user:password@host:port/database`) and checks it answers. */
  static connect(
    url: string,
    options: PostgresDedupeStoreOptions = {},
    clientOptions: Options<Record<string, never>> = {},
  ): Promise<PostgresDedupeStore> {
    return connectWithTable(
      url,
      clientOptions,
      "PostgreSQL dedupe store",
      (sql) => new PostgresDedupeStore(sql, options, true),
    );
  }

  /** Creates the table when missing (`connect` did); once, again after a failure. */
  ready(): Promise<void> {
    return this.#pg.ready();
  }

  async claimRequest(
    tenant: string,
    key: string,
    fingerprint: string,
    owner: string,
    timing: DedupeTiming,
  ): Promise<RequestClaim> {
    await this.#pg.ready();
    const [row] = await this.#pg.sql.unsafe(this.#queries.claimRequest, [
      keyColumn(tenant),
      keyColumn(key),
      owner,
      timing.now + timing.leaseMs,
      timing.now,
      fingerprint,
    ]);
    if (row!.won === 1) return { state: "claimed", owner };
    // Not visible: claimed by a statement that committed after this one started.
    if (row!.done === null) return { state: "in_progress", retryAfterMs: timing.leaseMs };
    if (row!.fingerprint !== fingerprint) return { state: "mismatch" };
    if (row!.done) {
      return {
        state: "completed",
        results: JSON.parse(String(row!.results ?? "[]")) as RecordResult[],
      };
    }
    return { state: "in_progress", retryAfterMs: Number(row!.expires_at) - timing.now };
  }

  async claimEvents(
    tenant: string,
    keys: readonly string[],
    owner: string,
    timing: DedupeTiming,
  ): Promise<EventClaim[]> {
    if (keys.length === 0) return [];
    await this.#pg.ready();
    const claims: EventClaim[] = new Array(keys.length);
    const unique = new Map<string, number>();
    keys.forEach((key, index) => {
      const column = keyColumn(key);
      if (unique.has(column)) claims[index] = "duplicate";
      else unique.set(column, index);
    });
    const rows = await this.#pg.sql.unsafe(this.#queries.claimEvents, [
      keyColumn(tenant),
      [...unique.keys()] as never,
      owner,
      timing.now + timing.leaseMs,
      timing.now,
      timing.now + timing.leaseMs + timing.ttlMs,
    ]);
    for (const row of rows) {
      const index = unique.get(String(row.key))!;
      const seen = row.seen_until !== null && Number(row.seen_until) > timing.now;
      // Not visible (owner null): claimed by a statement that committed after this one started.
      claims[index] = row.won
        ? "claimed"
        : seen || (row.owner !== null && row.owner === owner)
        ? "duplicate"
        : "in_progress";
    }
    return claims;
  }

  async commit(tenant: string, commit: DedupeCommit, timing: DedupeTiming): Promise<void> {
    await this.#pg.ready();
    const { owner, request } = commit;
    const expiresAt = timing.now + timing.ttlMs;
    const params = [keyColumn(tenant), owner, expiresAt];
    if (request === undefined) await this.#pg.sql.unsafe(this.#queries.commit, params);
    else {
      await this.#pg.sql.unsafe(this.#queries.commitWithRequest, [
        ...params,
        keyColumn(request.key),
        request.fingerprint,
        JSON.stringify(request.results),
      ]);
    }
    if (++this.#commits % SWEEP_EVERY === 0) {
      await this.#pg.sql.unsafe(this.#queries.sweep, [timing.now]);
    }
  }

  async release(tenant: string, release: DedupeRelease): Promise<void> {
    const { owner, requestKey, eventKeys } = release;
    if (requestKey === undefined && eventKeys.length === 0) return;
    await this.#pg.ready();
    await this.#pg.sql.unsafe(this.#queries.release, [
      keyColumn(tenant),
      owner,
      eventKeys.map(keyColumn) as never,
      requestKey === undefined ? null : keyColumn(requestKey),
    ]);
  }

  /** Answers whether the server is reachable (for readiness checks). */
  ping(): Promise<boolean> {
    return this.#pg.ping();
  }

  /** Ends the pool if this store opened it. */
  close(): Promise<void> {
    return this.#pg.close();
  }
}
