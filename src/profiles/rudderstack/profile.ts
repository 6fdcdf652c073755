/**
 * RudderStack's HTTP API: `POST <data plane>/v1/batch`, as documented at
 * https://www.rudderstack.com/docs/api/http-api/ and sent by
 * `@rudderstack/rudder-sdk-node` 3.0.13 (`esm/index.js`: `flush`,
 * `_isErrorRetryable`). The body is the Segment Spec's `{"batch":[…]}`.
 *
 * @module
 */
import type { EncodedBytes, Profile, ProfileLimits } from "../../ports/profile.ts";
import type { StatusTable } from "../../kit/response.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import { specProfile } from "../segment/spec.ts";

/** Options of {@linkcode rudderstackProfile}. */
export interface RudderstackProfileOptions {
  /** The source's write key (Basic-auth user name, empty password). */
  writeKey: string;
  /** The data plane URL (`https://<workspace>.dataplane.rudderstack.com`). */
  dataPlaneUrl: string;
  /** Client-side send-rate limit. @default {undefined} */
  rateLimit?: RateLimit;
}

/**
 * RudderStack's limits: 32 KB per event; the data plane accepts 4 MB per
 * request, and its SDK flushes at 500 KB to stay clear of proxies' body
 * limits, which idemtrack follows.
 */
export const RUDDERSTACK_LIMITS: ProfileLimits = Object.freeze({
  maxBatchBytes: 500 * 1024,
  maxBatchEvents: 10_000,
  maxItemsPerGroup: 10_000,
  maxEventBytes: 32 * 1024,
});

/** The data plane's request cap (its 413 above it), bytes. */
export const RUDDERSTACK_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/**
 * `rudder-sdk-node` 3.0.13 retries network errors, 5xx and 429 and gives up
 * on other 4xx; a 413 (request too large) splits the batch, as idemtrack's
 * defaults already say.
 */
export const RUDDERSTACK_STATUS_TABLE: StatusTable = Object.freeze({});

/**
 * A profile for RudderStack.
 *
 * Every event carries its idemtrack event key as `messageId`, on which
 * RudderStack's data plane de-duplicates (its dedup window, when enabled),
 * so a batch resent after a lost answer is stored once.
 *
 * @example Usage
 * ```ts
 * import { rudderstackProfile } from "./profile.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = rudderstackProfile({ writeKey: "wk", dataPlaneUrl: "https://acme.dataplane.rudderstack.com" });
 * assert.equal(profile.name, "rudderstack");
 * assert.equal(profile.limits.maxEventBytes, 32 * 1024);
 * ```
 */
export function rudderstackProfile(options: RudderstackProfileOptions): Profile<EncodedBytes> {
  const { writeKey, dataPlaneUrl, rateLimit } = options;
  return specProfile({
    name: "rudderstack",
    label: "RudderStack",
    baseUrl: dataPlaneUrl,
    path: "/v1/batch",
    writeKey,
    limits: RUDDERSTACK_LIMITS,
    table: RUDDERSTACK_STATUS_TABLE,
    ...(rateLimit === undefined ? {} : { rateLimit }),
  });
}

// Types that the exports above name in their signatures.
export type * from "../_profile_types.ts";
export type { StatusTable, StatusVerdict } from "../../kit/response.ts";
