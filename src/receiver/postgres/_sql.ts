import { connect, type Socket } from "node:net";
import type { Writable } from "node:stream";
import postgres, { type Options, type Sql } from "postgres";
import { sha256Hex } from "../../../wasm/hash.ts";
import { keyText } from "../_key_text.ts";

// postgres.js opens sockets with Nagle's algorithm on: the last message of a COPY (CopyDone,
// sent after the data) then waits for the server's delayed ACK, ~40 ms a write. Its `socket`
// option (missing from its typings) lets a pool open its own.
function noDelaySocket(): (
  options: { host: string[]; port: number[]; path?: string | false },
) => Socket {
  let next = 0;
  return ({ host, port, path }) => {
    const index = next++ % host.length;
    const socket = path ? connect(path) : connect(port[index]!, host[index]);
    socket.setNoDelay(true);
    return socket;
  };
}

/**
 * Pool settings of the `connect()` helpers: a server that is away fails a
 * query within seconds (the receiver answers 503 and the client retries)
 * instead of holding requests for the default 30 s, and sockets send each
 * message at once (`TCP_NODELAY`). Spread them into a pool you open yourself
 * for {@linkcode PostgresSink}: without `TCP_NODELAY` each of its writes
 * can wait ~40 ms for the server's delayed ACK.
 */
export const DEFAULT_POSTGRES_CLIENT_OPTIONS: Readonly<Options<Record<string, never>>> = Object
  .freeze({
    max: 10,
    connect_timeout: 5,
    idle_timeout: 60,
    onnotice: () => {},
    socket: noDelaySocket(),
  } as Options<Record<string, never>>);

/** Opens a pool and checks that the server answers, so a wrong URL fails at once. */
export async function connectPostgres(
  url: string,
  options: Options<Record<string, never>>,
  what: string,
): Promise<Sql> {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new TypeError(`Cannot connect ${what} as 'url' must start with postgres://`);
  }
  const sql = postgres(url, { ...DEFAULT_POSTGRES_CLIENT_OPTIONS, ...options });
  try {
    await sql`select 1`;
  } catch (error) {
    await sql.end({ timeout: 0 });
    throw new Error(`Cannot connect ${what} to ${new URL(url).host}`, { cause: error });
  }
  return sql;
}

/** What postgres.js calls when the server answers a query with an error. */
interface Rejectable {
  reject(error: unknown): void;
}

/**
 * Runs `statement` (`copy … from stdin`) with `chunks` as its data, on a
 * connection of its own (the pool would otherwise pipeline other queries
 * into the copy), and settles once the server answered: resolves when the
 * copy committed, rejects with the server's error. postgres.js resolves its
 * copy stream only on success: an error that comes after the last chunk
 * (a unique violation found while the server works through the data) reaches
 * nothing but the query's own `reject`, which is therefore watched too.
 */
export async function copyIn(
  sql: Sql,
  statement: string,
  chunks: readonly string[],
): Promise<void> {
  const reserved = await sql.reserve();
  try {
    const query = reserved.unsafe(statement);
    const watched = query as unknown as Rejectable;
    // postgres.js 3.4.9 (pinned) keeps it as the query's own property; without it a failed copy
    // would never settle.
    if (!Object.hasOwn(watched, "reject") || typeof watched.reject !== "function") {
      throw new Error("Cannot COPY as this postgres.js does not expose its queries' reject");
    }
    const failed = new Promise<never>((_, reject) => {
      const settle = watched.reject;
      watched.reject = (error) => {
        settle(error);
        reject(error);
      };
    });
    failed.catch(() => {}); // also rejects when the query fails before any data
    const stream = (await query.writable()) as Writable;
    const finished = new Promise<void>((resolve, reject) => {
      stream.once("finish", resolve);
      stream.on("error", reject);
    });
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
    await Promise.race([finished, failed]);
  } finally {
    reserved.release();
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

/** `name` (`table` or `schema.table`) quoted for SQL, or a TypeError naming the option. */
export function quotedTable(name: string, option: string, action: string): string {
  if (typeof name !== "string" || !IDENTIFIER.test(name)) {
    throw new TypeError(
      `Cannot ${action} as '${option}' must be a table name (letters, digits, _; schema.table allowed): current value is ${
        JSON.stringify(String(name).slice(0, 80))
      }`,
    );
  }
  return name.split(".").map((part) => `"${part}"`).join(".");
}

// B-tree index entries are capped near 2.7 KB: longer keys are stored as their SHA-256.
const MAX_KEY_CHARS = 256;

/** An idempotency key as a key column stores it: distinct keys stay distinct. */
export function keyColumn(key: string): string {
  const text = keyText(key);
  // keyText never starts a value with two U+FFFF, so hashed keys meet no other key.
  return text.length <= MAX_KEY_CHARS ? text : `\uffff\uffff${sha256Hex(text)}`;
}

/**
 * The pool and the table a sink or store keeps in it: creates the table when
 * asked (once; again after a failure, as the server may be back), answers
 * readiness checks, and ends the pool if it owns it.
 */
export class PostgresTable {
  readonly sql: Sql;
  readonly #ownsSql: boolean;
  readonly #ddl: readonly string[];
  #ready: Promise<void> | undefined;

  constructor(sql: Sql, ownsSql: boolean, ddl: readonly string[]) {
    this.sql = sql;
    this.#ownsSql = ownsSql;
    this.#ddl = ddl;
  }

  ready(): Promise<void> {
    // Receivers starting together race on `create … if not exists` (PostgreSQL
    // then fails one with a unique violation on its catalog): an advisory lock
    // held for the transaction lets one create and the others find it made.
    this.#ready ??= (this.#ddl.length === 0 ? Promise.resolve() : this.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext(${this.#ddl[0]!}))`;
      for (const statement of this.#ddl) await tx.unsafe(statement);
    }).then(() => {})).catch((error) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async ping(): Promise<boolean> {
    try {
      await this.sql`select 1`;
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#ownsSql) await this.sql.end({ timeout: 5 });
  }
}

/** Connects, builds the sink or store on the pool and creates its table; ends the pool on failure. */
export async function connectWithTable<
  T extends { ready(): Promise<void>; close(): Promise<void> },
>(
  url: string,
  clientOptions: Options<Record<string, never>>,
  what: string,
  make: (sql: Sql) => T,
): Promise<T> {
  const made = make(await connectPostgres(url, clientOptions, what));
  try {
    await made.ready();
  } catch (error) {
    await made.close();
    throw error;
  }
  return made;
}
