/**
 * Mixpanel's Import API: `POST /import?strict=1`, as documented at
 * https://developer.mixpanel.com/reference/import-events (limits, `$insert_id`
 * rules, strict-mode `failed_records`, 429 back-off). `mixpanel` 0.24.0 (the
 * official Node library, `lib/mixpanel-node.js`) sends `/import` batches of
 * 50 with the same credentials and neither retries nor sets `$insert_id`.
 *
 * @module
 */
import { EventValidationError } from "../../errors/event_validation_error.ts";
import type { IdemtrackEvent, JsonObject } from "../../event.ts";
import type { EncodedBytes, Profile, ProfileLimits, RecordOutcome } from "../../ports/profile.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import { outcomeOf } from "../../kit/response.ts";
import { encodeBase64 } from "../../_util/base64.ts";
import { requireString, trimBaseUrl } from "../_common.ts";
import { vendorBatchProfile } from "../segment/batch_profile.ts";
import { eventUuid } from "../posthog/event_uuid.ts";

/** Options of {@linkcode mixpanelProfile}: a service account (preferred) or the project's API secret. */
export interface MixpanelProfileOptions {
  /** The project token, sent as each event's `token` property. */
  projectToken: string;
  /** Service account user name (with `serviceAccountSecret` and `projectId`). @default {undefined} */
  serviceAccountUsername?: string;
  /** Service account secret. @default {undefined} */
  serviceAccountSecret?: string;
  /** Project id, required with a service account. @default {undefined} */
  projectId?: string;
  /** The project's API secret (deprecated by Mixpanel, instead of a service account). @default {undefined} */
  apiSecret?: string;
  /** API origin (`https://api-eu.mixpanel.com`, `https://api-in.mixpanel.com` for residency). @default {"https://api.mixpanel.com"} */
  baseUrl?: string;
  /** Client-side send-rate limit (Mixpanel allows about 2 GB of JSON a minute per project). @default {undefined} */
  rateLimit?: RateLimit;
}

/** Defaults of {@linkcode MixpanelProfileOptions}. */
export const DEFAULT_MIXPANEL_PROFILE_OPTIONS: Readonly<{ baseUrl: string }> = Object.freeze({
  baseUrl: "https://api.mixpanel.com",
});

/** Import API limits: 2000 events and 10 MB (uncompressed) per request, 1 MB per event. */
export const MIXPANEL_LIMITS: ProfileLimits = Object.freeze({
  maxBatchBytes: 10 * 1024 * 1024,
  maxBatchEvents: 2000,
  maxItemsPerGroup: 2000,
  maxEventBytes: 1024 * 1024,
});

/** Most properties an event may have. */
export const MIXPANEL_MAX_PROPERTIES = 255;

const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;

/**
 * Mixpanel's `$insert_id` for an event key: the key itself when it is at most
 * 36 characters of `[A-Za-z0-9-]`, otherwise its UUID (see `eventUuid`).
 */
export function mixpanelInsertId(key: string): string {
  return INSERT_ID.test(key) ? key : eventUuid(key);
}

function invalid(field: string, rule: string, problem: string, allowed: string): never {
  throw new EventValidationError(field, rule, problem, allowed);
}

/**
 * A profile for Mixpanel's Import API.
 *
 * Every event's `$insert_id` comes from its idemtrack event key, and Mixpanel
 * keeps one event per (`event`, `distinct_id`, `time`, `$insert_id`): a batch
 * resent after a lost answer, from any process sharing the persisted queue,
 * is stored once. `identify` is an `$identify` event (`$identified_id`,
 * `$anon_id`, traits as properties), `alias` a `$create_alias` event
 * (`distinct_id` the previous id, `alias` the user id). Requests use
 * `strict=1`, so a 400 lists the failed records and the others count as
 * imported; 429 and 5xx are retried with backoff, 413 splits.
 *
 * @example Usage
 * ```ts
 * import { mixpanelProfile } from "./profile.ts";
 * import { createEvent } from "../../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = mixpanelProfile({ projectToken: "tok", apiSecret: "s3cret" });
 * const event = createEvent({ name: "Order Paid", userId: "u1", idempotencyKey: "order_1234" });
 * const encoded = profile.encode(event);
 * const request = await profile.buildRequest({
 *   id: "batch-0001",
 *   stream: encoded.stream,
 *   records: [{ id: "1", key: event.idempotencyKey, queuedAt: 0, ...encoded }],
 *   attempt: 0,
 * }, Date.now());
 * assert.equal(request.url, "https://api.mixpanel.com/import?strict=1");
 * const [sent] = JSON.parse(new TextDecoder().decode(request.body));
 * assert.match(sent.properties.$insert_id, /^[0-9a-f-]{36}$/);
 * ```
 */
export function mixpanelProfile(options: MixpanelProfileOptions): Profile<EncodedBytes> {
  const {
    projectToken,
    serviceAccountUsername,
    serviceAccountSecret,
    projectId,
    apiSecret,
    baseUrl = DEFAULT_MIXPANEL_PROFILE_OPTIONS.baseUrl,
    rateLimit,
  } = options;
  requireString("Mixpanel", "projectToken", projectToken, true);
  let credentials: string;
  let query = "?strict=1";
  if (serviceAccountUsername !== undefined || serviceAccountSecret !== undefined) {
    requireString("Mixpanel", "serviceAccountUsername", serviceAccountUsername);
    requireString("Mixpanel", "serviceAccountSecret", serviceAccountSecret, true);
    requireString("Mixpanel", "projectId", projectId);
    credentials = `${serviceAccountUsername}:${serviceAccountSecret}`;
    query += `&project_id=${encodeURIComponent(projectId!)}`;
  } else if (apiSecret !== undefined) {
    credentials = `${requireString("Mixpanel", "apiSecret", apiSecret, true)}:`;
  } else {
    throw new TypeError(
      "Cannot create Mixpanel profile as 'serviceAccountUsername'/'serviceAccountSecret' or 'apiSecret' must be given: current value is neither",
    );
  }

  function encodeEvent(event: IdemtrackEvent): JsonObject {
    const keys = Object.keys(event.properties).length + Object.keys(event.context ?? {}).length;
    if (keys > MIXPANEL_MAX_PROPERTIES - 4) {
      invalid(
        "properties",
        "maxKeys",
        `has ${keys} keys with the context`,
        `at most ${
          MIXPANEL_MAX_PROPERTIES - 4
        } (Mixpanel's 255 with time, distinct_id, $insert_id and token)`,
      );
    }
    let name = event.name;
    const properties: JsonObject = { ...event.context, ...event.properties };
    if (event.type === "alias") {
      const previous = event.previousId ?? event.anonymousId;
      if (event.userId === undefined || previous === undefined) {
        invalid("previousId", "required", "is missing", "an alias with both userId and previousId");
      }
      name = "$create_alias";
      properties.distinct_id = previous;
      properties.alias = event.userId;
    } else {
      const distinctId = event.userId ?? event.anonymousId;
      if (distinctId === undefined) {
        invalid("userId", "required", "is missing", "a userId or an anonymousId (distinct_id)");
      }
      properties.distinct_id = distinctId;
      if (event.type === "identify") {
        name = "$identify";
        properties.$identified_id = distinctId;
        if (event.anonymousId !== undefined) properties.$anon_id = event.anonymousId;
      }
    }
    properties.time = event.timestamp;
    properties.$insert_id = mixpanelInsertId(event.idempotencyKey);
    properties.token = projectToken;
    return { event: name, properties };
  }

  return vendorBatchProfile({
    name: "mixpanel",
    limits: MIXPANEL_LIMITS,
    url: `${trimBaseUrl("Mixpanel", baseUrl)}/import${query}`,
    headers: { Authorization: `Basic ${encodeBase64(new TextEncoder().encode(credentials))}` },
    prefix: "[",
    suffix: "]",
    ...(rateLimit === undefined ? {} : { rateLimit }),
    encodeEvent,
    reasonIn: (json) => json?.error,
    readRecords(status, json, batch, reason) {
      if (status !== 400 || !Array.isArray(json?.failed_records)) return undefined;
      const failed = new Map<number, string>();
      for (const record of json.failed_records) {
        if (typeof record !== "object" || record === null || Array.isArray(record)) continue;
        if (typeof record.index !== "number") continue;
        const why = [record.field, record.message].filter((part) => typeof part === "string");
        failed.set(record.index, why.join(": ") || reason);
      }
      return {
        kind: "each",
        outcomes: batch.records.map((_, index): RecordOutcome =>
          failed.has(index) ? outcomeOf("failed", failed.get(index)!, 400) : { status: "delivered" }
        ),
      };
    },
  });
}

// Types that the exports above name in their signatures.
export type * from "../_profile_types.ts";
