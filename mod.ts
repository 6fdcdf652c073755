/**
 * idemtrack: product events (`track`, `identify`, `alias`) delivered to a
 * collector exactly once — batched, retried with jittered backoff, persisted
 * across crashes, de-duplicated by idempotency keys.
 *
 * This entry point holds what an application needs: the `Client` with its
 * options, results and hooks, events and idempotency key policies, the
 * errors with their name-based guards, the `Storage`, `Transport`, `Clock`
 * and `Profile` ports with the default drivers (`MemoryStorage`,
 * `fetchTransport()`, `jsonProfile()`). Optional parts live in subpaths
 * (`./receiver`, `./storage/file`, `./hamustro`, …); helpers and port
 * vocabulary for authors of profiles, routes, storages and transports are in
 * `./kit`; what needs the WebAssembly hashers (`deriveIdempotencyKey`,
 * `md5Hex`, `sha256Hex`) is in `./hash`, so that a client alone never loads
 * them.
 *
 * @example Usage
 * ```ts
 * import { Client, isDeliveryError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using client = new Client({
 *   endpoint: "https://collect.example.com",
 *   token: "token-of-acme",
 *   // A stand-in for the network; the default is fetchTransport().
 *   transport: () => Promise.resolve({ status: 200, headers: new Headers(), body: "{}" }),
 *   onError: (error) => {
 *     if (isDeliveryError(error)) console.error(`${error.keys.length} events failed: ${error.reason}`);
 *   },
 *   exitHook: false,
 * });
 * client.track("order_paid", { total: 42 }, { userId: "u1", idempotencyKey: "order-1234-paid" });
 * const result = await client.flush();
 * assert.equal(result.status, "success");
 * assert.equal(result.success, 1);
 * ```
 *
 * @module
 */
// The client: options, results, hooks.
export {
  Client,
  type ClientHooks,
  type ClientOptions,
  type ClientStats,
  type TrackOptions,
} from "./src/client.ts";
export type { CloseSummary, DeliveryResult, FailedRecord } from "./src/pipeline/types.ts";

// Events and idempotency keys.
export {
  createEvent,
  type EventInput,
  type IdemtrackEvent,
  type JsonObject,
  type JsonValue,
} from "./src/event.ts";
export {
  createKeyPolicy,
  type KeyPolicy,
  LENIENT_KEY_POLICY,
  STRICT_KEY_POLICY,
} from "./src/idempotency_key.ts";

// Errors, each with a name-based guard (true across bundled copies of the library).
export { IdemtrackError, isIdemtrackError } from "./src/errors/idemtrack_error.ts";
export { DeliveryError, isDeliveryError } from "./src/errors/delivery_error.ts";
export { HttpError, isHttpError } from "./src/errors/http_error.ts";
export { isTimeoutError, TimeoutError } from "./src/errors/timeout_error.ts";
export { isNetworkError, NetworkError } from "./src/errors/network_error.ts";
export { isStorageError, StorageError } from "./src/errors/storage_error.ts";
export { isQueueFullError, QueueFullError } from "./src/errors/queue_full_error.ts";
export { ClientClosedError, isClientClosedError } from "./src/errors/client_closed_error.ts";
export { isMiddlewareError, MiddlewareError } from "./src/errors/middleware_error.ts";
export {
  EventValidationError,
  isEventValidationError,
} from "./src/errors/event_validation_error.ts";
export { IdempotencyKeyError, isIdempotencyKeyError } from "./src/errors/idempotency_key_error.ts";

// The ports an application plugs in (their vocabulary is in `./kit`), and the default drivers.
export type { Storage } from "./src/ports/storage.ts";
export type { Transport } from "./src/ports/transport.ts";
export type { Profile } from "./src/ports/profile.ts";
export { MemoryStorage } from "./src/drivers/storage/memory_storage.ts";
export { fetchTransport } from "./src/drivers/transport/fetch_transport.ts";
export { jsonProfile } from "./src/profiles/json/profile.ts";

// Types that the exports above name in their signatures: an application rarely writes them,
// but each is importable from where it is used.
export type { ConsentState } from "./src/controls/consent.ts";
export type {
  ControlsOptions,
  ControlsStats,
  FilterReason,
  FilterState,
} from "./src/controls/controls.ts";
export type { Middleware } from "./src/controls/middleware.ts";
export type { PlannedProperties, TrackingPlan, UnplannedPolicy } from "./src/controls/plan.ts";
export type { SamplingRates } from "./src/controls/sampling.ts";
export type {
  InferSchemaInput,
  StandardSchemaIssue,
  StandardSchemaProps,
  StandardSchemaResult,
  StandardSchemaV1,
} from "./src/controls/standard_schema.ts";
export type { FetchLike } from "./src/drivers/transport/fetch_transport.ts";
export type { ValidationIssue } from "./src/errors/event_validation_error.ts";
export type { IdempotencyKeyRule } from "./src/errors/idempotency_key_error.ts";
export type { Attachment, EventRules, EventType } from "./src/event.ts";
export type { KeyPolicyOptions } from "./src/idempotency_key.ts";
export type { RetryOptions } from "./src/kit/retry.ts";
export type { PipelineOptions } from "./src/pipeline/options.ts";
export type {
  AfterResponseState,
  BatchReport,
  BeforeRequestState,
  DropState,
  OverflowPolicy,
  PipelineHooks,
  PipelineStats,
} from "./src/pipeline/types.ts";
export type { Clock, TimerId } from "./src/ports/clock.ts";
export type {
  BatchOutcome,
  EncodedBytes,
  EncodedEvent,
  EncodedText,
  Framing,
  OutgoingBatch,
  PreparedRequest,
  ProfileLimits,
  RateLimit,
  RecordOutcome,
} from "./src/ports/profile.ts";
export type { QueuedRecord, StorageSnapshot, StoredBatch } from "./src/ports/storage.ts";
export type { TransportRequest, TransportResponse } from "./src/ports/transport.ts";
export type { JsonProfileOptions } from "./src/profiles/json/profile.ts";
