/**
 * Hamustro support: the collector profile (protobuf or JSON `Collection`s,
 * signed, one stream per session), the receiver route for
 * `POST /api/v1/track`, and the hand-written codec for the fixed schema.
 * The protobuf-es schema generated from `proto/hamustro.proto` is exported
 * for decoding.
 *
 * @example Usage
 * ```ts
 * import { hamustroProfile } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = hamustroProfile({
 *   collectorUrl: "http://127.0.0.1:8080",
 *   sharedSecretKey: "s3cret",
 *   deviceId: "device-1",
 *   clientId: "c1",
 *   systemVersion: "14.1",
 *   productVersion: "2.3",
 *   env: "PRODUCTION",
 * });
 * assert.match(profile.session, /^[0-9a-f]{32}$/);
 * ```
 *
 * @module
 */
// Sending: the tracker (sessions, counters, sync rule) and the collector profile under it.
export {
  ClientTracker,
  type ClientTrackerOptions,
  type ClientTrackerStats,
  DEFAULT_CLIENT_TRACKER_OPTIONS,
  type EventParams,
  type PerEventValue,
  type TrackerUser,
} from "./client_tracker.ts";
export {
  DEFAULT_HAMUSTRO_PROFILE_OPTIONS,
  HAMUSTRO_TRACK_PATH,
  type HamustroProfile,
  hamustroProfile,
  type HamustroProfileOptions,
  type HamustroTrackerAttributes,
} from "./profile.ts";
export {
  Environment,
  type EnvironmentName,
  environmentName,
  environmentNumber,
  type EnvironmentValue,
} from "./environment.ts";
export { currentTimezone, deviceCountry, deviceIpv4, localeCountry } from "./device.ts";
export { hamustroSession, hashDeviceId, type SessionFields } from "./session.ts";
export { signHamustro, verifyHamustro } from "./signature.ts";

// Receiving: the route for `POST /api/v1/track` and the decoders under it.
export {
  DEFAULT_HAMUSTRO_ROUTE_OPTIONS,
  type HamustroRoute,
  hamustroRoute,
  type HamustroRouteOptions,
  type HamustroRouteStats,
} from "./route.ts";
export {
  decodeCollection,
  formatOfContentType,
  type HamustroFormat,
  readCollection,
} from "./decode.ts";
export type { DecodedCollection, DecodedParameter, DecodedPayload } from "./decoded.ts";

// The codecs: the fixed schema encoded by hand (protobuf and JSON), and protobuf-es's generated schema.
export {
  type CollectionFields,
  encodeCollectionFields,
  encodePayload,
  frameCollection,
  type OptionalCollectionFields,
  type PayloadFields,
  protobufFraming,
} from "./codec.ts";
export {
  encodeCollectionFieldsJson,
  encodePayloadJson,
  frameCollectionJson,
  type JsonCollectionFrame,
  jsonCollectionFraming,
} from "./json_codec.ts";
export { payloadFieldsOf } from "./event_payload.ts";
export {
  type Collection,
  CollectionSchema,
  Environment as EnvironmentEnum,
  type Parameter,
  ParameterSchema,
  type Payload,
  PayloadSchema,
} from "./gen/hamustro_pb.ts";

// Types that the exports above name in their signatures (protobuf-es's own types are its own).
export type { IdemtrackError } from "../errors/idemtrack_error.ts";
export type { Attachment, EventType, IdemtrackEvent, JsonObject, JsonValue } from "../event.ts";
export type { KeyPolicy } from "../idempotency_key.ts";
export type {
  CloseSummary,
  DeliveryResult,
  FailedRecord,
  PipelineStats,
} from "../pipeline/types.ts";
export type { Clock, TimerId } from "../ports/clock.ts";
export type {
  BatchOutcome,
  EncodedBytes,
  EncodedEvent,
  EncodedText,
  Framing,
  OutgoingBatch,
  PreparedRequest,
  Profile,
  ProfileLimits,
  RateLimit,
  RecordOutcome,
} from "../ports/profile.ts";
export type { QueuedRecord, Storage, StorageSnapshot, StoredBatch } from "../ports/storage.ts";
export type { Transport, TransportRequest, TransportResponse } from "../ports/transport.ts";
export type {
  DecodedBatch,
  DecodedRecord,
  RecordResult,
  Route,
  RouteContext,
} from "../receiver/route.ts";
