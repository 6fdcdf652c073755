/**
 * PostHog's batch capture API: `POST /batch/`, as documented at
 * https://posthog.com/docs/api/capture and sent by `posthog-node` 5.70.0
 * (`@posthog/core` `posthog-core-stateless.mjs`: `sendBatch`, `_flushRoute`,
 * `isPostHogFetchRetryableError`).
 *
 * @module
 */
import { EventValidationError } from "../../errors/event_validation_error.ts";
import type { IdemtrackEvent, JsonObject } from "../../event.ts";
import type { EncodedBytes, Profile, ProfileLimits } from "../../ports/profile.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import { requireString, trimBaseUrl } from "../_common.ts";
import { vendorBatchProfile } from "../segment/batch_profile.ts";
import { eventUuid } from "./event_uuid.ts";

/** Options of {@linkcode posthogProfile}. */
export interface PosthogProfileOptions {
  /** The project API key (`phc_…`), sent as the body's `api_key`. */
  apiKey: string;
  /** Ingestion origin (`https://eu.i.posthog.com` for the EU cloud, or a self-hosted one). @default {"https://us.i.posthog.com"} */
  baseUrl?: string;
  /** Client-side send-rate limit (capture has none documented). @default {undefined} */
  rateLimit?: RateLimit;
}

/** Defaults of {@linkcode PosthogProfileOptions}. */
export const DEFAULT_POSTHOG_PROFILE_OPTIONS: Readonly<{ baseUrl: string }> = Object.freeze({
  baseUrl: "https://us.i.posthog.com",
});

/**
 * PostHog's capture limits: 20 MB per batch request, 1 MB per event. Events
 * per request are not capped by the API (`posthog-node` sends 100);
 * idemtrack caps them at 10 000 to bound a request's work.
 */
export const POSTHOG_LIMITS: ProfileLimits = Object.freeze({
  maxBatchBytes: 20 * 1024 * 1024,
  maxBatchEvents: 10_000,
  maxItemsPerGroup: 10_000,
  maxEventBytes: 1024 * 1024,
});

function invalid(field: string, rule: string, problem: string, allowed: string): never {
  throw new EventValidationError(field, rule, problem, allowed);
}

/**
 * One idemtrack event as a PostHog capture event: `track` as itself,
 * `identify` as `$identify` with the traits under `$set`, `alias` as
 * `$create_alias`; context fields become properties (the event's own
 * properties win). `uuid` is derived from the event key.
 */
export function encodePosthogEvent(event: IdemtrackEvent): JsonObject {
  const distinctId = event.userId ?? event.anonymousId;
  if (distinctId === undefined) {
    invalid(
      "userId",
      "required",
      "is missing",
      "a userId or an anonymousId (PostHog's distinct_id)",
    );
  }
  let name = event.name;
  let properties: JsonObject = { ...event.context, ...event.properties };
  if (event.type === "identify") {
    name = "$identify";
    properties = { ...event.context, $set: event.properties };
    if (event.anonymousId !== undefined && event.userId !== undefined) {
      properties.$anon_distinct_id = event.anonymousId;
    }
  } else if (event.type === "alias") {
    const alias = event.previousId ?? event.anonymousId;
    if (event.userId === undefined || alias === undefined) {
      invalid("previousId", "required", "is missing", "an alias with both userId and previousId");
    }
    name = "$create_alias";
    properties = { ...event.context, distinct_id: event.userId, alias };
  }
  return {
    event: name,
    distinct_id: distinctId,
    properties,
    timestamp: new Date(event.timestamp).toISOString(),
    uuid: eventUuid(event.idempotencyKey),
  };
}

/**
 * A profile for PostHog.
 *
 * Every event's `uuid` is derived from its idemtrack event key (the key
 * itself when it is a UUID, else its UUIDv5), and PostHog keeps one event
 * per `uuid`: a batch resent after a lost answer, from any process sharing
 * the persisted queue, is stored once. `posthog-node` makes a fresh UUIDv7
 * per call and drops a batch after 3 failed attempts; idemtrack keeps it
 * until delivered. A 413 splits the batch.
 *
 * @example Usage
 * ```ts
 * import { posthogProfile } from "./profile.ts";
 * import { createEvent } from "../../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = posthogProfile({ apiKey: "phc_test" });
 * const event = createEvent({ name: "order paid", userId: "u1", idempotencyKey: "order-1234" });
 * const encoded = profile.encode(event);
 * const request = await profile.buildRequest({
 *   id: "batch-0001",
 *   stream: encoded.stream,
 *   records: [{ id: "1", key: event.idempotencyKey, queuedAt: 0, ...encoded }],
 *   attempt: 0,
 * }, Date.now());
 * assert.equal(request.url, "https://us.i.posthog.com/batch/");
 * const body = JSON.parse(new TextDecoder().decode(request.body));
 * assert.equal(body.api_key, "phc_test");
 * assert.match(body.batch[0].uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-5/);
 * ```
 */
export function posthogProfile(options: PosthogProfileOptions): Profile<EncodedBytes> {
  const { apiKey, baseUrl = DEFAULT_POSTHOG_PROFILE_OPTIONS.baseUrl, rateLimit } = options;
  requireString("PostHog", "apiKey", apiKey, true);
  return vendorBatchProfile({
    name: "posthog",
    limits: POSTHOG_LIMITS,
    url: `${trimBaseUrl("PostHog", baseUrl)}/batch/`,
    headers: {},
    prefix: `{"api_key":${JSON.stringify(apiKey)},"batch":[`,
    suffix: "]}",
    ...(rateLimit === undefined ? {} : { rateLimit }),
    encodeEvent: encodePosthogEvent,
  });
}

// Types that the exports above name in their signatures.
export type * from "../_profile_types.ts";
