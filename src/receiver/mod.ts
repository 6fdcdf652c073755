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
export * from "./receiver.ts";
export * from "./route.ts";
export * from "./json_route.ts";
export * from "./auth.ts";
export * from "./sink.ts";
export * from "./json_lines_sink.ts";
export * from "./dedupe_store.ts";
export * from "./memory_dedupe_store.ts";
export * from "./node_adapter.ts";
