/**
 * Segment's HTTP Tracking API: `POST /v1/batch`, as documented at
 * https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/
 * and sent by `@segment/analytics-node` 3.1.0 (`plugins/segmentio/publisher.js`,
 * `context-batch.js`).
 *
 * @module
 */
import type { EncodedBytes, Profile, ProfileLimits } from "../../ports/profile.ts";
import type { StatusTable } from "../../kit/response.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import { specProfile } from "./spec.ts";

/** Options of {@linkcode segmentProfile}. */
export interface SegmentProfileOptions {
  /** The source's write key (Basic-auth user name, empty password). */
  writeKey: string;
  /** API origin (`https://events.eu1.segmentapis.com` for the EU region). @default {"https://api.segment.io"} */
  baseUrl?: string;
  /** Client-side send-rate limit (Segment asks to be told above 500 requests/s). @default {undefined} */
  rateLimit?: RateLimit;
}

/** Defaults of {@linkcode SegmentProfileOptions}. */
export const DEFAULT_SEGMENT_PROFILE_OPTIONS: Readonly<{ baseUrl: string }> = Object.freeze({
  baseUrl: "https://api.segment.io",
});

/**
 * Segment's limits: 500 KB per batch request, 32 KB per call; no event count
 * cap (`analytics-node` sends 15 per request by default, idemtrack fills the
 * 500 KB).
 */
export const SEGMENT_LIMITS: ProfileLimits = Object.freeze({
  maxBatchBytes: 500 * 1024,
  maxBatchEvents: 10_000,
  maxItemsPerGroup: 10_000,
  maxEventBytes: 32 * 1024,
});

/**
 * How `analytics-node` 3.1.0 reads statuses, where it differs from
 * idemtrack's defaults: 501 and 505 are final; 410 and 460 are retried.
 * (A 400 is final for both: malformed, or over a size limit idemtrack never
 * sends past.)
 */
export const SEGMENT_STATUS_TABLE: StatusTable = Object.freeze({
  410: "retry",
  460: "retry",
  501: "failed",
  505: "failed",
});

/**
 * A profile for Segment.
 *
 * Every call carries its idemtrack event key as `messageId`, which Segment
 * de-duplicates on (a rolling window of about 24 hours): a batch resent
 * after a lost answer, from this process or another one sharing the
 * persisted queue, is stored once. `track`, `identify` (properties as
 * `traits`) and `alias` (`previousId`, or the anonymous id) are supported.
 *
 * @example Usage
 * ```ts
 * import { segmentProfile } from "./profile.ts";
 * import { createEvent } from "../../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = segmentProfile({ writeKey: "wk_123" });
 * const event = createEvent({ name: "Order Paid", userId: "u1" });
 * const encoded = profile.encode(event);
 * const request = await profile.buildRequest({
 *   id: "batch-0001",
 *   stream: encoded.stream,
 *   records: [{ id: "1", key: event.idempotencyKey, queuedAt: 0, ...encoded }],
 *   attempt: 0,
 * }, Date.now());
 * assert.equal(request.url, "https://api.segment.io/v1/batch");
 * assert.equal(request.headers.Authorization, `Basic ${btoa("wk_123:")}`);
 * const body = JSON.parse(new TextDecoder().decode(request.body));
 * assert.equal(body.batch[0].messageId, event.idempotencyKey);
 * ```
 */
export function segmentProfile(options: SegmentProfileOptions): Profile<EncodedBytes> {
  const { writeKey, baseUrl = DEFAULT_SEGMENT_PROFILE_OPTIONS.baseUrl, rateLimit } = options;
  return specProfile({
    name: "segment",
    label: "Segment",
    baseUrl,
    path: "/v1/batch",
    writeKey,
    limits: SEGMENT_LIMITS,
    table: SEGMENT_STATUS_TABLE,
    ...(rateLimit === undefined ? {} : { rateLimit }),
  });
}

// Types that the exports above name in their signatures.
export type * from "../_profile_types.ts";
export type { StatusTable, StatusVerdict } from "../../kit/response.ts";
