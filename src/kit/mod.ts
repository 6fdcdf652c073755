/**
 * For authors of profiles, receiver routes, storages and transports: the
 * vocabulary of the ports (what a `Profile` encodes and reads, what a
 * `Storage` keeps, what a `Transport` sends), byte-size chunking with a
 * body's framing, response tables that turn an HTTP answer into per-record
 * outcomes, retry timing (`Retry-After`, full-jitter backoff) and a token
 * bucket. Applications need none of it: the ports themselves are exported
 * from the package root.
 *
 * @example Usage
 * ```ts
 * import { chunkBySize, classifyStatus, jsonArrayFraming, parseRetryAfter } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * // A JSON array body `[…]` of at most 11 bytes: brackets, two items and a comma fit, the third does not.
 * const framing = jsonArrayFraming("[", "]");
 * const plan = chunkBySize(['"ab"', '"cd"', '"ef"'], { framing, maxBytes: 11, sizeOf: (item) => item.length });
 * assert.deepEqual(plan.chunks, [['"ab"', '"cd"'], ['"ef"']]);
 * assert.equal(classifyStatus(503), "retry");
 * assert.equal(parseRetryAfter("2", 0), 2000);
 * ```
 *
 * @module
 */

// Port vocabulary: what profiles, storages, transports and clocks exchange with the client.
export {
  type BatchOutcome,
  type EncodedBytes,
  encodedBytes,
  type EncodedEvent,
  encodedForm,
  type EncodedText,
  type OutgoingBatch,
  type PreparedRequest,
  type ProfileLimits,
  type RecordOutcome,
} from "../ports/profile.ts";
export type { QueuedRecord, StorageSnapshot, StoredBatch } from "../ports/storage.ts";
export type { TransportRequest, TransportResponse } from "../ports/transport.ts";
export { type Clock, systemClock, type TimerId } from "../ports/clock.ts";

// Events and keys, as a profile or a route checks them.
export { type Attachment, checkEncodedSize, type EventRules, type EventType } from "../event.ts";
export {
  isValidIdempotencyKey,
  type KeyPolicyOptions,
  validateIdempotencyKey,
} from "../idempotency_key.ts";
export type { IdempotencyKeyRule } from "../errors/idempotency_key_error.ts";

// The engine's vocabulary behind the Client's options, stats and hooks.
export type {
  AfterResponseState,
  BatchReport,
  BeforeRequestState,
  DropState,
  OverflowPolicy,
  PipelineHooks,
  PipelineStats,
} from "../pipeline/types.ts";
export type { PipelineOptions } from "../pipeline/options.ts";

// The write-behind storage the durable drivers share, for a storage over another backend.
export {
  DEFAULT_WRITE_BEHIND_OPTIONS,
  type StorageBackend,
  type StorageOp,
  type WriteBehindOptions,
  WriteBehindStorage,
} from "../drivers/storage/write_behind_storage.ts";

// The built-in drivers' and profile's options.
export type { MemoryStorageOptions } from "../drivers/storage/memory_storage.ts";
export type { FetchLike } from "../drivers/transport/fetch_transport.ts";
export type { JsonProfileOptions } from "../profiles/json/profile.ts";

// Byte-size chunking.
export {
  chunkBySize,
  type ChunkOptions,
  type ChunkPlan,
  type Framing,
  JSON_ARRAY_FRAMING,
  jsonArrayFraming,
} from "./chunk.ts";

// Reading answers: status tables, error bodies, per-record outcomes.
export {
  ALL_DELIVERED,
  type ClassifyOptions,
  classifyResponse,
  classifyStatus,
  DEFAULT_STATUS_TABLE,
  type ErrorBody,
  isInProgressConflict,
  outcomeOf,
  parseRetryAfter,
  readErrorBody,
  reasonOf,
  type StatusTable,
  type StatusVerdict,
} from "./response.ts";

// Timing: backoff and rate limits.
export { backoffDelayMs, DEFAULT_RETRY_OPTIONS, type RetryOptions } from "./retry.ts";
export { type RateLimit, TokenBucket, type TokenBucketOptions } from "./token_bucket.ts";

// Types that the exports above name in their signatures.
export type { MemoryStorage } from "../drivers/storage/memory_storage.ts";
export type { IdemtrackError } from "../errors/idemtrack_error.ts";
export type { IdemtrackEvent, JsonObject, JsonValue } from "../event.ts";
export type { KeyPolicy } from "../idempotency_key.ts";
export type { FailedRecord } from "../pipeline/types.ts";
export type { Profile } from "../ports/profile.ts";
export type { Storage } from "../ports/storage.ts";
export type { Transport } from "../ports/transport.ts";
