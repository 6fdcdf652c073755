/**
 * The receiving side of idemtrack: a `Request → Response` handler that
 * routes, limits, authenticates, decodes, de-duplicates by idempotency keys
 * (per tenant, atomically) and hands accepted events to a sink. Serve it with
 * `Deno.serve`, {@linkcode serveNode} or any fetch-style framework.
 *
 * @example Usage
 * ```ts
 * import { bearerAuth, callbackSink, createJsonRoute, createReceiver } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const receiver = createReceiver({
 *   routes: [createJsonRoute({ auth: bearerAuth({ tokens: { "token-of-acme": "acme" } }) })],
 *   sink: callbackSink(() => {}),
 * });
 * const response = await receiver(new Request("http://localhost/v1/events/batch", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: '{"events":[]}',
 * }));
 * assert.equal(response.status, 401);
 * await receiver.close();
 * ```
 *
 * @module
 */
export {
  createReceiver,
  DEFAULT_RECEIVER_OPTIONS,
  DEFAULT_RECEIVER_RATE_LIMIT,
  type ReadyReport,
  type Receiver,
  type ReceiverInfo,
  type ReceiverOptions,
  type ReceiverStats,
  type RequestReport,
} from "./receiver.ts";

// Operations: cross-origin browsers, and metrics in the Prometheus text format.
export { type CorsOptions, type CorsPolicy, corsPolicy, DEFAULT_CORS_OPTIONS } from "./cors.ts";
export {
  DEFAULT_RECEIVER_METRICS_OPTIONS,
  ReceiverMetrics,
  type ReceiverMetricsOptions,
} from "./metrics.ts";

// Routes: the JSON route, and the contract and HTTP helpers for writing others.
export {
  createJsonRoute,
  DEFAULT_JSON_ROUTE_OPTIONS,
  type JsonRouteOptions,
} from "./json_route.ts";
export type { DecodedBatch, DecodedRecord, RecordResult, Route, RouteContext } from "./route.ts";
export { errorResponse, jsonResponse, retryAfterSeconds } from "./http.ts";
export { type Authenticator, bearerAuth, type BearerAuthOptions, openAuth } from "./auth.ts";

// Where accepted events go.
export { type AcceptedEvent, callbackSink, type Sink } from "./sink.ts";
export {
  DEFAULT_JSON_LINES_SINK_OPTIONS,
  JsonLinesSink,
  type JsonLinesSinkOptions,
} from "./json_lines_sink.ts";

// De-duplication stores (Deno KV's is in `./receiver/deno-kv`).
export type {
  BatchClaim,
  DedupeCommit,
  DedupeRelease,
  DedupeStore,
  DedupeTiming,
  EventClaim,
  RequestClaim,
} from "./dedupe_store.ts";
export {
  DEFAULT_MEMORY_DEDUPE_STORE_OPTIONS,
  MemoryDedupeStore,
  type MemoryDedupeStoreOptions,
} from "./memory_dedupe_store.ts";

// Serving on Node (Deno and fetch-style frameworks take the receiver as it is).
export {
  DEFAULT_SERVE_NODE_OPTIONS,
  type FetchHandler,
  type NodeServer,
  serveNode,
  type ServeNodeOptions,
  toNodeListener,
} from "./node_adapter.ts";

// Types that the exports above name in their signatures.
export type { JsonObject, JsonValue } from "../event.ts";
export type { KeyPolicy } from "../idempotency_key.ts";
export type { Clock, TimerId } from "../ports/clock.ts";
export type { RateLimit } from "../ports/profile.ts";
