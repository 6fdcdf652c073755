/**
 * The Segment Spec's batch API, shared by Segment and RudderStack (whose
 * HTTP API takes the same `{"batch":[…]}` body, the same calls and the same
 * `messageId` de-duplication): the event encoding and the profile built on it.
 *
 * @module
 */
import { EventValidationError } from "../../errors/event_validation_error.ts";
import type { IdemtrackEvent, JsonObject } from "../../event.ts";
import type { EncodedBytes, Profile, ProfileLimits } from "../../ports/profile.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import type { StatusTable } from "../../kit/response.ts";
import { encodeBase64 } from "../../_util/base64.ts";
import { requireString, trimBaseUrl } from "../_common.ts";
import { vendorBatchProfile } from "./batch_profile.ts";

/** Body of a Segment Spec batch request: `{"batch":[…]}`. */
export const SPEC_BATCH_PREFIX = '{"batch":[';
/** Closes {@linkcode SPEC_BATCH_PREFIX}. */
export const SPEC_BATCH_SUFFIX = "]}";

/** How one Segment-Spec service differs from another. */
export interface SpecService {
  /** Profile name (`"segment"`, `"rudderstack"`). */
  readonly name: string;
  /** Name in error messages (`"Segment"`). */
  readonly label: string;
  /** API origin, as the user gave it. */
  readonly baseUrl: string;
  /** Batch path (`/v1/batch`). */
  readonly path: string;
  /** Source write key, sent as the Basic-auth user name. */
  readonly writeKey: string;
  readonly limits: ProfileLimits;
  /** Statuses that differ from idemtrack's defaults. */
  readonly table: StatusTable;
  readonly rateLimit?: RateLimit;
}

function invalid(field: string, rule: string, problem: string, allowed: string): never {
  throw new EventValidationError(field, rule, problem, allowed);
}

/**
 * One idemtrack event as a Segment Spec call: `track` (`event`,
 * `properties`), `identify` (`traits`) or `alias` (`previousId`), with the
 * event key as `messageId`, the vendor's de-duplication id.
 */
export function encodeSpecEvent(event: IdemtrackEvent): JsonObject {
  const item: JsonObject = { type: event.type, messageId: event.idempotencyKey };
  if (event.type === "alias") {
    const previousId = event.previousId ?? event.anonymousId;
    if (event.userId === undefined || previousId === undefined) {
      invalid("previousId", "required", "is missing", "an alias with both userId and previousId");
    }
    item.userId = event.userId;
    item.previousId = previousId;
  } else {
    if (event.userId === undefined && event.anonymousId === undefined) {
      invalid("userId", "required", "is missing", "a userId or an anonymousId");
    }
    if (event.userId !== undefined) item.userId = event.userId;
    if (event.anonymousId !== undefined) item.anonymousId = event.anonymousId;
    if (event.type === "track") {
      item.event = event.name;
      item.properties = event.properties;
    } else {
      item.traits = event.properties;
    }
  }
  item.timestamp = new Date(event.timestamp).toISOString();
  if (event.context !== undefined) item.context = event.context;
  return item;
}

/**
 * A profile for a Segment-Spec batch API: one `POST` of
 * `{"batch":[…]}` with Basic auth (`writeKey:`), every call carrying its
 * event key as `messageId`.
 */
export function specProfile(service: SpecService): Profile<EncodedBytes> {
  const { name, label, limits, table, rateLimit } = service;
  requireString(label, "writeKey", service.writeKey, true);
  const credentials = new TextEncoder().encode(`${service.writeKey}:`);
  return vendorBatchProfile({
    name,
    limits,
    url: `${trimBaseUrl(label, service.baseUrl)}${service.path}`,
    headers: { Authorization: `Basic ${encodeBase64(credentials)}` },
    prefix: SPEC_BATCH_PREFIX,
    suffix: SPEC_BATCH_SUFFIX,
    table,
    ...(rateLimit === undefined ? {} : { rateLimit }),
    encodeEvent: encodeSpecEvent,
  });
}
