// The vocabulary the dedupe stores' signatures name, re-exported by each store's entry point so
// that its documentation is complete on its own (`deno doc --lint` of that entry alone).
export type {
  BatchClaim,
  DedupeCommit,
  DedupeRelease,
  DedupeStore,
  DedupeTiming,
  EventClaim,
  RequestClaim,
} from "./dedupe_store.ts";
export type { RecordResult } from "./route.ts";
