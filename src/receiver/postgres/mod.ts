/**
 * The receiver on PostgreSQL (`./receiver/postgres`): {@linkcode PostgresSink}
 * stores accepted events in a table exactly once (the insert claims each
 * event key in the same transaction), {@linkcode PostgresDedupeStore} keeps
 * request and event keys for receivers that share no Redis. Loads the
 * `postgres` client: import it only where it is used.
 *
 * @module
 */
export {
  DEFAULT_POSTGRES_SINK_OPTIONS,
  PostgresSink,
  type PostgresSinkOptions,
} from "./postgres_sink.ts";
export {
  DEFAULT_POSTGRES_DEDUPE_STORE_OPTIONS,
  PostgresDedupeStore,
  type PostgresDedupeStoreOptions,
} from "./postgres_dedupe_store.ts";
export { DEFAULT_POSTGRES_CLIENT_OPTIONS } from "./_sql.ts";

// Types that the exports above name in their signatures.
export type { JsonObject, JsonValue } from "../../event.ts";
export type {
  BatchClaim,
  DedupeCommit,
  DedupeRelease,
  DedupeStore,
  DedupeTiming,
  EventClaim,
  RequestClaim,
} from "../dedupe_store.ts";
export type { RecordResult } from "../route.ts";
export type { AcceptedEvent, Sink } from "../sink.ts";
