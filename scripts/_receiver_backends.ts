// The stores and sinks both receiver commands offer besides the built-in ones: Redis and
// PostgreSQL, each loaded only when its scheme is named, so the command never loads a database
// client it does not use.
import {
  DEFAULT_RECEIVER_COMMAND_OPTIONS,
  type SinkFactory,
  type StoreFactory,
} from "../src/receiver/cli.ts";

/** `--store memory`, `--store redis://…`, `--store postgres://…`. */
export const RECEIVER_STORES: Readonly<Record<string, StoreFactory>> = Object.freeze({
  ...DEFAULT_RECEIVER_COMMAND_OPTIONS.stores,
  redis: async (url: string) =>
    await (await import("../src/receiver/redis_dedupe_store.ts")).RedisDedupeStore.connect(url),
  postgres: postgresStore,
  postgresql: postgresStore,
});

/** `--sink jsonl:PATH`, `--sink postgres://…`. */
export const RECEIVER_SINKS: Readonly<Record<string, SinkFactory>> = Object.freeze({
  ...DEFAULT_RECEIVER_COMMAND_OPTIONS.sinks,
  postgres: postgresSink,
  postgresql: postgresSink,
});

async function postgresStore(url: string) {
  return await (await import("../src/receiver/postgres/mod.ts")).PostgresDedupeStore.connect(url);
}

async function postgresSink(url: string) {
  return await (await import("../src/receiver/postgres/mod.ts")).PostgresSink.connect(url);
}
