/**
 * The receiver on PostgreSQL (`./receiver/postgres`): {@linkcode PostgresSink}
 * stores accepted events in a table exactly once (the insert claims each
 * event key in the same transaction), {@linkcode PostgresDedupeStore} keeps
 * request and event keys for receivers that share no Redis. Loads the
 * `postgres` client: import it only where it is used.
 *
 * @module
 */
export * from "./postgres_sink.ts";
export * from "./postgres_dedupe_store.ts";
export { POSTGRES_CLIENT_OPTIONS } from "./_sql.ts";
