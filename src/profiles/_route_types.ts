// The vocabulary every service route's signatures name, re-exported by each route's entry point so
// that its documentation is complete on its own (`deno doc --lint` of that entry alone).
export type { JsonObject, JsonValue } from "../event.ts";
export type {
  DecodedBatch,
  DecodedRecord,
  RecordResult,
  Route,
  RouteContext,
} from "../receiver/route.ts";
