// The vocabulary every service profile's signatures name, re-exported by each profile's entry point
// so that its documentation is complete on its own (`deno doc --lint` of that entry alone).
export type { Attachment, EventType, IdemtrackEvent, JsonObject, JsonValue } from "../event.ts";
export type { KeyPolicy } from "../idempotency_key.ts";
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
export type { QueuedRecord } from "../ports/storage.ts";
export type { TransportResponse } from "../ports/transport.ts";
