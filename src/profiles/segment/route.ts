/**
 * A receiver route emulating Segment's `POST /v1/batch`, so Segment's own
 * SDKs (and idemtrack's `segmentProfile`) can send to an idemtrack
 * receiver and get every call stored once.
 *
 * @module
 */
import type { Route } from "../../receiver/route.ts";
import { jsonResponse } from "../_route_common.ts";
import { SEGMENT_LIMITS } from "./profile.ts";
import { specRoute } from "./spec_route.ts";

/** Options of {@linkcode segmentRoute}. */
export interface SegmentRouteOptions {
  /** Source write key → tenant. */
  writeKeys: Readonly<Record<string, string>>;
}

/**
 * A route that answers like Segment's tracking API: Basic auth with the
 * write key (or `writeKey` in the body, as `analytics-node` also sends it),
 * 200 `{"success":true}`, 400 for a malformed body or one over 500 KB, 401
 * for an unknown write key. Calls are de-duplicated on `messageId`.
 *
 * @example Usage
 * ```ts
 * import { segmentRoute } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const route = segmentRoute({ writeKeys: { wk_123: "acme" } });
 * assert.equal(route.path, "/v1/batch");
 * ```
 */
export function segmentRoute(options: SegmentRouteOptions): Route {
  return specRoute({
    name: "segment",
    writeKeys: options.writeKeys,
    maxBatchBytes: SEGMENT_LIMITS.maxBatchBytes,
    maxEventBytes: SEGMENT_LIMITS.maxEventBytes,
    tooLargeStatus: 400,
    bodyWriteKey: true,
    accepted: () => jsonResponse(200, { success: true }),
  });
}

// Types that the exports above name in their signatures.
export type * from "../_route_types.ts";
