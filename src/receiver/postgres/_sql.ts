import postgres, { type Options, type Sql } from "postgres";
import { sha256Hex } from "../../../wasm/hash.ts";
import { keyText } from "../_key_text.ts";

/**
 * Pool settings of the `connect()` helpers: a server that is away fails a
 * query within seconds (the receiver answers 503 and the client retries)
 * instead of holding requests for the default 30 s.
 */
export const DEFAULT_POSTGRES_CLIENT_OPTIONS: Readonly<Options<Record<string, never>>> = Object
  .freeze({
    max: 10,
    connect_timeout: 5,
    idle_timeout: 60,
    onnotice: () => {},
  });

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
