/**
 * idemtrack: product events (`track`, `identify`, `alias`) delivered to a
 * collector exactly once — batched, retried with jittered backoff, persisted
 * across crashes, de-duplicated by idempotency keys.
 *
 * This entry point holds the core: the `Client`, events, idempotency key
 * policies, byte-size chunking, errors, and the `Storage`, `Transport`,
 * `Clock` and `Profile` interfaces. Optional parts live in subpaths
 * (`./receiver`, `./storage/file`, `./hamustro`, …); what needs the
 * WebAssembly hashers (`deriveIdempotencyKey`, `md5Hex`, `sha256Hex`) is in
 * `./hash`, so that a client alone never loads them.
 *
 * @example Usage
 * ```ts
 * import { createEvent } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const event = createEvent({
 *   name: "comment_posted",
 *   userId: "user147",
 *   idempotencyKey: "user147-new_comment-1687437670",
 * });
 * assert.equal(event.idempotencyKey, "user147-new_comment-1687437670");
 * ```
 *
 * @module
 */
export * from "./src/errors/idemtrack_error.ts";
export * from "./src/errors/idempotency_key_error.ts";
export * from "./src/errors/event_validation_error.ts";
export * from "./src/errors/http_error.ts";
export * from "./src/errors/timeout_error.ts";
export * from "./src/errors/network_error.ts";
export * from "./src/errors/queue_full_error.ts";
export * from "./src/errors/client_closed_error.ts";
export * from "./src/errors/storage_error.ts";
export * from "./src/idempotency_key.ts";
export * from "./src/event.ts";
export * from "./src/kit/chunk.ts";
export * from "./src/hamustro/environment.ts";
export * from "./src/ports/storage.ts";
export * from "./src/ports/transport.ts";
export * from "./src/ports/clock.ts";
export * from "./src/ports/profile.ts";
export * from "./src/kit/token_bucket.ts";
export * from "./src/errors/delivery_error.ts";
export * from "./src/client.ts";
export * from "./src/pipeline/pipeline.ts";
export * from "./src/kit/retry.ts";
export * from "./src/kit/response.ts";
export * from "./src/drivers/storage/memory_storage.ts";
export * from "./src/drivers/transport/fetch_transport.ts";
export * from "./src/profiles/json/profile.ts";
