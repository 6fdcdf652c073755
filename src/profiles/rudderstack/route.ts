/**
 * A receiver route emulating RudderStack's data plane `POST /v1/batch`, so
 * `rudder-sdk-node` (gzip bodies included) and idemtrack's
 * `rudderstackProfile` can send to an idemtrack receiver.
 *
 * @module
 */
import type { Route } from "../../receiver/route.ts";
import { RUDDERSTACK_LIMITS, RUDDERSTACK_MAX_REQUEST_BYTES } from "./profile.ts";
import { specRoute } from "../segment/spec_route.ts";

/** Options of {@linkcode rudderstackRoute}. */
export interface RudderstackRouteOptions {
  /** Source write key → tenant. */
  writeKeys: Readonly<Record<string, string>>;
}

/**
 * A route that answers like RudderStack's data plane: Basic auth with the
 * write key, 200 `OK`, 400 for a malformed body, 401 for an unknown write
 * key, 413 for a body over 4 MB (the receiver's own `maxBodyBytes`
 * applies first). Events are de-duplicated on `messageId`.
 *
 * @example Usage
 * ```ts
 * import { rudderstackRoute } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const route = rudderstackRoute({ writeKeys: { wk: "acme" } });
 * assert.equal(route.path, "/v1/batch");
 * ```
 */
export function rudderstackRoute(options: RudderstackRouteOptions): Route {
  return specRoute({
    name: "rudderstack",
    writeKeys: options.writeKeys,
    maxBatchBytes: RUDDERSTACK_MAX_REQUEST_BYTES,
    maxEventBytes: RUDDERSTACK_LIMITS.maxEventBytes,
    tooLargeStatus: 413,
    bodyWriteKey: false,
    accepted: () => new Response("OK", { status: 200, headers: { "content-type": "text/plain" } }),
  });
}

// Types that the exports above name in their signatures.
export type * from "../_route_types.ts";
