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
export * from "./codec.ts";
export * from "./json_codec.ts";
export * from "./decode.ts";
export * from "./event_payload.ts";
export * from "./profile.ts";
export * from "./route.ts";
export {
  type Collection,
  CollectionSchema,
  Environment as EnvironmentEnum,
  type Parameter,
  ParameterSchema,
  type Payload,
  PayloadSchema,
} from "./gen/hamustro_pb.ts";
export * from "./client_tracker.ts";
export * from "./session.ts";
export * from "./signature.ts";
