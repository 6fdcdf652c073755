/**
 * Amplitude's HTTP V2 API (`POST /2/httpapi`) and Batch Event Upload API
 * (`POST /batch`), as documented at
 * https://amplitude.com/docs/apis/analytics/http-v2 and
 * https://amplitude.com/docs/apis/analytics/batch-event-upload, and read by
 * `@amplitude/analytics-node` 1.5.73 (`@amplitude/analytics-core`
 * `plugins/destination.js` `handleResponse`, `transports/base.js` `buildResponse`).
 *
 * @module
 */
import { EventValidationError } from "../../errors/event_validation_error.ts";
import type { IdemtrackEvent, JsonObject } from "../../event.ts";
import type {
  BatchOutcome,
  EncodedBytes,
  OutgoingBatch,
  Profile,
  ProfileLimits,
  RecordOutcome,
} from "../../ports/profile.ts";
import { encodedBytes } from "../../ports/profile.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import { outcomeOf } from "../../kit/response.ts";
import { optionChecks } from "../../_util/checks.ts";
import { decodeJson, requireString, trimBaseUrl } from "../_common.ts";
import { vendorBatchProfile } from "../segment/batch_profile.ts";

/** Options of {@linkcode amplitudeProfile}. */
export interface AmplitudeProfileOptions {
  /** The project's API key, sent as the body's `api_key`. */
  apiKey: string;
  /** API origin (`https://api.eu.amplitude.com` for EU data residency). @default {"https://api2.amplitude.com"} */
  baseUrl?: string;
  /**
   * Send to the Batch Event Upload API (`/batch`: 20 MB requests, higher
   * per-device throttles) instead of `/2/httpapi` (1 MB). @default {false}
   */
  useBatch?: boolean;
  /** Shortest `user_id` / `device_id` Amplitude accepts (`options.min_id_length`). @default {5} */
  minIdLength?: number;
  /** Client-side send-rate limit (Amplitude throttles per device and user, not per key). @default {undefined} */
  rateLimit?: RateLimit;
}

/** Defaults of {@linkcode AmplitudeProfileOptions}. */
export const DEFAULT_AMPLITUDE_PROFILE_OPTIONS: Readonly<{
  baseUrl: string;
  useBatch: boolean;
  minIdLength: number;
}> = Object.freeze({
  baseUrl: "https://api2.amplitude.com",
  useBatch: false,
  minIdLength: 5,
});

/**
 * HTTP V2 limits: 2000 events and 1 MB per request; an event has no cap of
 * its own beyond fitting in a request.
 */
export const AMPLITUDE_LIMITS: ProfileLimits = Object.freeze({
  maxBatchBytes: 1024 * 1024,
  maxBatchEvents: 2000,
  maxItemsPerGroup: 2000,
  maxEventBytes: 1000 * 1024,
});

/** Batch Event Upload limits: 2000 events and 20 MB per request. */
export const AMPLITUDE_BATCH_LIMITS: ProfileLimits = Object.freeze({
  maxBatchBytes: 20 * 1024 * 1024,
  maxBatchEvents: 2000,
  maxItemsPerGroup: 2000,
  maxEventBytes: 1000 * 1024,
});

/** How long `analytics-node` waits before resending a throttled event (its `throttleTimeout`), ms. */
export const AMPLITUDE_THROTTLE_WAIT_MS = 30_000;

function invalid(field: string, rule: string, problem: string, allowed: string): never {
  throw new EventValidationError(field, rule, problem, allowed);
}

/** Indices listed in a 400's per-field maps (`{"field":[0,3]}`) and lists (`[1]`). */
function listedIndices(...values: unknown[]): Set<number> {
  const indices = new Set<number>();
  const add = (value: unknown) => {
    if (Array.isArray(value)) {
      for (const item of value) if (Number.isInteger(item)) indices.add(item as number);
    } else if (typeof value === "object" && value !== null) {
      for (const item of Object.values(value)) add(item);
    }
  };
  for (const value of values) add(value);
  return indices;
}

function keysOf(value: unknown): Set<string> {
  return new Set(typeof value === "object" && value !== null ? Object.keys(value) : []);
}

/**
 * A profile for Amplitude.
 *
 * Every event carries its idemtrack event key as `insert_id`, on which
 * Amplitude drops repeats for 7 days: a batch resent after a lost answer, from
 * any process sharing the persisted queue, is counted once. `identify` is sent
 * as an `$identify` event with the traits under `user_properties.$set`;
 * `alias` is refused (Amplitude maps users through its separate User Mapping
 * API). Answers are read as the SDK reads them, by the body's `code`: a 400
 * fails the events it lists and resends the others, a 413 splits the batch, a
 * 429 fails the events of users or devices over their daily quota, resends
 * throttled ones after 30 s and the rest at once.
 *
 * @example Usage
 * ```ts
 * import { amplitudeProfile } from "./profile.ts";
 * import { createEvent } from "../../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = amplitudeProfile({ apiKey: "amp_key" });
 * const event = createEvent({ name: "Order Paid", userId: "user-1", idempotencyKey: "order-1234" });
 * const encoded = profile.encode(event);
 * const request = await profile.buildRequest({
 *   id: "batch-0001",
 *   stream: encoded.stream,
 *   records: [{ id: "1", key: event.idempotencyKey, queuedAt: 0, ...encoded }],
 *   attempt: 0,
 * }, Date.now());
 * assert.equal(request.url, "https://api2.amplitude.com/2/httpapi");
 * const body = JSON.parse(new TextDecoder().decode(request.body));
 * assert.equal(body.events[0].insert_id, "order-1234");
 * ```
 */
export function amplitudeProfile(options: AmplitudeProfileOptions): Profile<EncodedBytes> {
  const {
    apiKey,
    baseUrl = DEFAULT_AMPLITUDE_PROFILE_OPTIONS.baseUrl,
    useBatch = DEFAULT_AMPLITUDE_PROFILE_OPTIONS.useBatch,
    minIdLength = DEFAULT_AMPLITUDE_PROFILE_OPTIONS.minIdLength,
    rateLimit,
  } = options;
  requireString("Amplitude", "apiKey", apiKey, true);
  optionChecks("create Amplitude profile").positiveInteger("minIdLength", minIdLength);
  const url = `${trimBaseUrl("Amplitude", baseUrl)}${useBatch ? "/batch" : "/2/httpapi"}`;
  const limits = useBatch ? AMPLITUDE_BATCH_LIMITS : AMPLITUDE_LIMITS;
  const idOptions = minIdLength === DEFAULT_AMPLITUDE_PROFILE_OPTIONS.minIdLength
    ? ""
    : `"options":{"min_id_length":${minIdLength}},`;

  function checkId(field: string, value: string | undefined): void {
    if (value !== undefined && value.length < minIdLength) {
      invalid(
        field,
        "minLength",
        `is ${value.length} characters long`,
        `ids of at least ${minIdLength} characters (Amplitude's min_id_length)`,
      );
    }
  }

  function encodeEvent(event: IdemtrackEvent): JsonObject {
    if (event.type === "alias") {
      invalid(
        "type",
        "unsupported",
        "is 'alias'",
        "track and identify (Amplitude merges users through its User Mapping API)",
      );
    }
    if (event.userId === undefined && event.anonymousId === undefined) {
      invalid("userId", "required", "is missing", "a userId or an anonymousId (device_id)");
    }
    checkId("userId", event.userId);
    checkId("anonymousId", event.anonymousId);
    const item: JsonObject = {
      event_type: event.type === "identify" ? "$identify" : event.name,
    };
    if (event.userId !== undefined) item.user_id = event.userId;
    if (event.anonymousId !== undefined) item.device_id = event.anonymousId;
    item.time = event.timestamp;
    item.insert_id = event.idempotencyKey;
    if (event.type === "identify") {
      item.user_properties = { $set: event.properties };
    } else if (Object.keys(event.properties).length > 0) {
      item.event_properties = event.properties;
    }
    if (event.context !== undefined) Object.assign(item, { ...event.context, ...item });
    return item;
  }

  function userAndDevice(data: Uint8Array): { user?: unknown; device?: unknown } {
    try {
      const json = decodeJson(data) as JsonObject;
      return { user: json.user_id, device: json.device_id };
    } catch {
      return {};
    }
  }

  function readRecords(
    status: number,
    json: JsonObject | undefined,
    batch: OutgoingBatch,
    reason: string,
  ): BatchOutcome | undefined {
    if (json === undefined) return undefined;
    if (
      status === 400 && json.missing_field === undefined &&
      !String(json.error ?? "").startsWith("Invalid API key")
    ) {
      const dropped = listedIndices(
        json.events_with_invalid_fields,
        json.events_with_missing_fields,
        json.events_with_invalid_id_lengths,
        json.silenced_events,
      );
      return {
        kind: "each",
        outcomes: batch.records.map((_, index): RecordOutcome =>
          dropped.has(index)
            ? outcomeOf("failed", reason, 400)
            : outcomeOf("retry", "resent: another event of the batch was invalid", 400)
        ),
      };
    }
    if (status !== 429) return undefined;
    const users = keysOf(json.exceeded_daily_quota_users);
    const devices = keysOf(json.exceeded_daily_quota_devices);
    const throttled = listedIndices(json.throttled_events);
    return {
      kind: "each",
      outcomes: batch.records.map((record, index): RecordOutcome => {
        const { user, device } = userAndDevice(encodedBytes(record));
        if (users.has(String(user)) || devices.has(String(device))) {
          return outcomeOf("failed", `daily quota exceeded: ${reason}`, 429);
        }
        return throttled.has(index)
          ? outcomeOf("retry", reason, 429, AMPLITUDE_THROTTLE_WAIT_MS)
          : outcomeOf("retry", reason, 429);
      }),
    };
  }

  return vendorBatchProfile({
    name: "amplitude",
    limits,
    url,
    headers: { Accept: "*/*" },
    prefix: `{"api_key":${JSON.stringify(apiKey)},${idOptions}"events":[`,
    suffix: "]}",
    ...(rateLimit === undefined ? {} : { rateLimit }),
    encodeEvent,
    // analytics-node reads the body's code; the HTTP status stands in when there is none.
    statusOf: (json, response) => typeof json?.code === "number" ? json.code : response.status,
    reasonIn: (json) => json?.error,
    readRecords,
  });
}

// Types that the exports above name in their signatures.
export type * from "../_profile_types.ts";
