import type { Options, Sql } from "postgres";
import { optionChecks } from "../../_util/checks.ts";
import type { AcceptedEvent, Sink } from "../sink.ts";
import { connectWithTable, copyIn, keyColumn, PostgresTable, quotedTable } from "./_sql.ts";

/** Options of {@linkcode PostgresSink}. */
export interface PostgresSinkOptions {
  /** Table of accepted events (`table` or `schema.table`). @default {"idemtrack_events"} */
  table?: string;
  /** Creates the table and its unique index when missing. @default {true} */
  createTable?: boolean;
  /**
   * Most rows in one message of a COPY, and in one INSERT when the COPY found
   * keys already stored (a larger write is then several INSERTs in one
   * transaction). @default {10000}
   */
  maxRowsPerInsert?: number;
}

/** Defaults of {@linkcode PostgresSinkOptions}. */
export const DEFAULT_POSTGRES_SINK_OPTIONS: Required<PostgresSinkOptions> = Object.freeze({
  table: "idemtrack_events",
  createTable: true,
  maxRowsPerInsert: 10_000,
});

const { positiveInteger } = optionChecks("create PostgreSQL sink");

// What JSON.stringify writes for lone surrogates and U+0000 (also matches an escaped backslash
// followed by "u…", which only costs the slower path).
const UNCONVERTIBLE_ESCAPE = /\\u(?:d[89a-f]|0000)/;

const UNIQUE_VIOLATION = "23505";

// COPY's text format: a backslash starts an escape, tabs and newlines end fields and rows.
const COPY_SPECIAL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};
const copyField = (value: string): string =>
  value.replace(COPY_SPECIAL, (special) => COPY_ESCAPES[special]!);

// Length-prefixed tenant, so "a:b" + "c" never equals "a" + "b:c".
function tenantKey(tenant: string, key: string): string {
  return `${tenant.length}:${tenant}${key}`;
}

/**
 * A sink that inserts accepted events into a PostgreSQL table, exactly once:
 * a unique index on `(tenant, key)` makes the insert itself the claim of
 * each event key, in the same transaction as the write. An event whose key
 * is already in the table is not written again, whatever happened before — a
 * receiver killed between its dedupe store's claim and commit, an answer lost
 * after the commit, a Redis that forgot its keys — and the receiver answers
 * it `duplicate` ({@linkcode PostgresSink.writeOnce}).
 *
 * Each write is one `COPY … FROM STDIN` (text format) on a connection of its
 * own: the server parses each event once and inserts it plainly. A key that
 * is already in the table (or twice in the write) fails the whole COPY, which
 * then stored nothing, and the write is made again as one
 * `INSERT … ON CONFLICT (tenant, key) DO NOTHING RETURNING` (one JSON
 * document through `json_to_recordset`), which says which events were new.
 * The receiver's dedupe store keeps such writes rare: a retry whose events
 * were all stored fails at its first row.
 *
 * Table: `tenant text collate "C", route text, key text collate "C" (null
 * when the event had none), received_at timestamptz, event json` (`json`
 * keeps every string the receiver accepted, lone surrogates and U+0000
 * included; byte order keeps the index's comparisons cheap and independent
 * of the C library's locale data), unique on `(tenant, key)`. With
 * `createTable: false` the table may have more columns (an identity `id` for
 * consumers reading in order, say) and other types that take these values as
 * text, as long as these five are there with that unique index. Keys are
 * stored as written (tenants too), except those with lone surrogates or
 * U+0000 (hex with a U+FFFF marker) and those over 256 characters (their
 * SHA-256).
 *
 * @example Usage
 * ```ts ignore
 * import { PostgresSink } from "./postgres_sink.ts";
 * import { RedisDedupeStore } from "../redis_dedupe_store.ts";
 * import { createReceiver } from "../mod.ts";
 *
 * const receiver = createReceiver({
 *   store: await RedisDedupeStore.connect("redis://127.0.0.1:6379"),
 *   sink: await PostgresSink.connect("postgres://idemtrack@127.0.0.1:5432/events"),
 * });
 * Deno.serve(receiver);
 * ```
 */
export class PostgresSink implements Sink {
  readonly #pg: PostgresTable;
  readonly #table: string;
  readonly #maxRows: number;
  readonly #copy: string;
  readonly #insert: string;
  readonly #insertEscaped: string;

  /** Writes through a pool; {@linkcode PostgresSink.close} ends it only when `ownsSql`. */
  constructor(sql: Sql, options: PostgresSinkOptions = {}, ownsSql = false) {
    const {
      table = DEFAULT_POSTGRES_SINK_OPTIONS.table,
      createTable = DEFAULT_POSTGRES_SINK_OPTIONS.createTable,
      maxRowsPerInsert = DEFAULT_POSTGRES_SINK_OPTIONS.maxRowsPerInsert,
    } = options;
    this.#table = quotedTable(table, "table", "create PostgreSQL sink");
    this.#maxRows = positiveInteger("maxRowsPerInsert", maxRowsPerInsert);
    this.#copy = `copy ${this.#table} (tenant, route, key, received_at, event) from stdin`;
    // One JSON document per insert: JSON.stringify is native, and a recordset of five columns
    // costs the server less than five arrays. PostgreSQL cannot turn lone surrogates or U+0000
    // escapes into text, so a document with any (rare) carries each event as its own JSON text.
    const insert = (event: string) =>
      `insert into ${this.#table} (tenant, route, key, received_at, event)
      select t, r, k, to_timestamp(m / 1000.0), e${event === "text" ? "::json" : ""}
      from json_to_recordset($1::text::json) as x(t text, r text, k text, m float8, e ${event})
      on conflict (tenant, key) do nothing
      returning tenant, key`;
    this.#insert = insert("json");
    this.#insertEscaped = insert("text");
    const name = table.replace(/^.*\./, "");
    this.#pg = new PostgresTable(
      sql,
      ownsSql,
      createTable
        ? [
          `create table if not exists ${this.#table} (
        tenant text collate "C" not null,
        route text not null,
        key text collate "C",
        received_at timestamptz not null,
        event json not null
      )`,
          `create unique index if not exists "${name}_tenant_key" on ${this.#table} (tenant, key)`,
        ]
        : [],
    );
  }

  /** Connects to `url` (`postgres://user:password@host:port/database`) and checks it answers. */
  static connect(
    url: string,
    options: PostgresSinkOptions = {},
    clientOptions: Options<Record<string, never>> = {},
  ): Promise<PostgresSink> {
    return connectWithTable(
      url,
      clientOptions,
      "PostgreSQL sink",
      (sql) => new PostgresSink(sql, options, true),
    );
  }

  /** The quoted table name, for queries over what the sink wrote. */
  get table(): string {
    return this.#table;
  }

  /** Creates the table when missing (`connect` did); once, again after a failure. */
  ready(): Promise<void> {
    return this.#pg.ready();
  }

  /** Stores the events (those whose key is already in the table are skipped). */
  async write(events: readonly AcceptedEvent[]): Promise<void> {
    await this.writeOnce(events);
  }

  /**
   * Stores the events whose key is not in the table yet, all in one
   * transaction, and answers for each whether it was stored (`false`: its key
   * was stored before). Events without a key are always stored.
   */
  async writeOnce(events: readonly AcceptedEvent[]): Promise<boolean[]> {
    if (events.length === 0) return [];
    await this.#pg.ready();
    const keys = events.map((accepted) =>
      accepted.key === undefined ? null : keyColumn(accepted.key)
    );
    const tenants = events.map((accepted) => keyColumn(accepted.tenant));
    try {
      await copyIn(this.#pg.sql, this.#copy, this.#copyRows(events, tenants, keys));
      return events.map(() => true);
    } catch (error) {
      if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
    }
    return await this.#insertNew(events, tenants, keys);
  }

  /** The events as COPY text, one chunk per `maxRowsPerInsert` rows. */
  #copyRows(
    events: readonly AcceptedEvent[],
    tenants: readonly string[],
    keys: readonly (string | null)[],
  ): string[] {
    const chunks: string[] = [];
    let receivedAt = NaN;
    let time = "";
    for (let from = 0; from < events.length; from += this.#maxRows) {
      let rows = "";
      for (let i = from; i < Math.min(from + this.#maxRows, events.length); i++) {
        const accepted = events[i]!;
        // A request's events share their receipt time: format it once.
        if (accepted.receivedAt !== receivedAt) {
          receivedAt = accepted.receivedAt;
          time = new Date(receivedAt).toISOString();
        }
        const key = keys[i];
        // JSON.stringify escapes every control character: only backslashes need doubling.
        const json = accepted.json ?? JSON.stringify(accepted.event);
        rows += `${copyField(tenants[i]!)}\t${copyField(accepted.route)}\t${
          key === null ? "\\N" : copyField(key!)
        }\t${time}\t${json.includes("\\") ? json.replaceAll("\\", "\\\\") : json}\n`;
      }
      chunks.push(rows);
    }
    return chunks;
  }

  /** `INSERT … ON CONFLICT DO NOTHING RETURNING`: stores the new events and says which they were. */
  async #insertNew(
    events: readonly AcceptedEvent[],
    tenants: readonly string[],
    keys: readonly (string | null)[],
  ): Promise<boolean[]> {
    const inserted = new Set<string>();
    const insert = async (sql: Sql, from: number, to: number) => {
      const rows = events.slice(from, to).map((accepted, i) => ({
        t: tenants[from + i],
        r: accepted.route,
        k: keys[from + i],
        m: accepted.receivedAt,
        e: accepted.event as unknown,
      }));
      let query = this.#insert;
      let document = JSON.stringify(rows);
      if (UNCONVERTIBLE_ESCAPE.test(document)) {
        for (const row of rows) row.e = JSON.stringify(row.e);
        query = this.#insertEscaped;
        document = JSON.stringify(rows);
      }
      for (const row of await sql.unsafe(query, [document])) {
        if (row.key !== null) inserted.add(tenantKey(String(row.tenant), String(row.key)));
      }
    };
    if (events.length <= this.#maxRows) await insert(this.#pg.sql, 0, events.length);
    else {
      await this.#pg.sql.begin(async (transaction) => {
        for (let from = 0; from < events.length; from += this.#maxRows) {
          await insert(transaction as unknown as Sql, from, from + this.#maxRows);
        }
      });
    }
    // Of several events with one key in a write, the first is the one stored.
    return keys.map((key, i) => key === null || inserted.delete(tenantKey(tenants[i]!, key)));
  }

  /** Answers whether the server is reachable (for readiness checks). */
  ping(): Promise<boolean> {
    return this.#pg.ping();
  }

  /** Ends the pool if this sink opened it (waiting up to 5 s for queries in flight). */
  close(): Promise<void> {
    return this.#pg.close();
  }
}
