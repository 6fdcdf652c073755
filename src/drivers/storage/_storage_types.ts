// The vocabulary the durable drivers' signatures name, re-exported by each driver's entry point so
// that its documentation is complete on its own (`deno doc --lint` of that entry alone).
export type { JsonObject, JsonValue } from "../../event.ts";
export type { Clock, TimerId } from "../../ports/clock.ts";
export type { QueuedRecord, Storage, StorageSnapshot, StoredBatch } from "../../ports/storage.ts";
export type { WriteBehindStorage } from "./write_behind_storage.ts";
