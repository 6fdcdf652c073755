/**
 * Receiver routes emulating GetFluxly's ingest API.
 *
 * @module
 */
import type { JsonObject, JsonValue } from "../../event.ts";
import type {
  DecodedBatch,
  DecodedRecord,
  RecordResult,
  Route,
  RouteContext,
} from "../../receiver/route.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import { GETFLUXLY_LIMITS } from "./profile.ts";
import { sha256Hex } from "../../../wasm/hash.ts";
import { timingSafeEqual } from "../../_util/timing_safe_equal.ts";
import {
  errorResponse,
  isObject,
  jsonResponse,
  keyedRateLimiter,
  parseBody,
  retryAfterSeconds,
} from "../_route_common.ts";

/** Options of {@linkcode getfluxlyRoutes}. */
export interface GetfluxlyRouteOptions {
  /** API key → tenant. `gflux_pub_*` keys cannot alias. */
  tokens: Readonly<Record<string, string>>;
  /**
   * Events per second per key (GetFluxly's Free tier: 50/s, burst 100);
   * `false` turns it off. @default {{ requestsPerSecond: 50, burst: 100 }}
   */
  rateLimit?: RateLimit | false;
}

/** GetFluxly's Free tier, counted in events. */
export const GETFLUXLY_FREE_TIER: RateLimit = Object.freeze({ requestsPerSecond: 50, burst: 100 });

const EVENT_NAME = /^(?:[a-z][a-z0-9_]*|\$identify)$/;

function eventProblem(item: JsonValue): string | undefined {
  if (!isObject(item)) return "event must be an object";
  if (typeof item.event !== "string" || item.event.length > 64 || !EVENT_NAME.test(item.event)) {
    return "event: snake_case name of at most 64 characters required";
  }
  if (!["anonymous_id", "external_id", "user_id"].some((id) => typeof item[id] === "string")) {
    return "one of anonymous_id, external_id, user_id is required";
  }
  if (item.properties !== undefined) {
    if (!isObject(item.properties)) return "properties must be an object";
    if (Object.keys(item.properties).length > 32) return "properties: at most 32 keys";
  }
  if (item.timestamp !== undefined && Number.isNaN(Date.parse(String(item.timestamp)))) {
    return "timestamp must be ISO 8601";
  }
  return undefined;
}

/**
 * Routes that answer like GetFluxly: `POST /v1/events/batch` (202
 * `{accepted, rejected, errors, request_id}`, per-event errors) and
 * `POST /v1/identify/alias` (200 `{alias}`; secret keys only), both keyed by
 * `X-Idempotency-Key`, whose replay returns the original answer. Past the
 * per-key event rate they answer 429 `rate_limited` with `Retry-After`.
 *
 * @example Usage
 * ```ts
 * import { getfluxlyRoutes } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const [batch, alias] = getfluxlyRoutes({ tokens: { gflux_secret_x: "tenant1" } });
 * assert.equal(batch.path, "/v1/events/batch");
 * assert.equal(alias.path, "/v1/identify/alias");
 * ```
 */
export function getfluxlyRoutes(options: GetfluxlyRouteOptions): [Route, Route] {
  const { tokens, rateLimit = GETFLUXLY_FREE_TIER } = options;
  const limiter = rateLimit === false ? undefined : keyedRateLimiter(rateLimit);
  let requestCount = 0;

  // Every known key is compared, by SHA-256 and in constant time, so timing tells nothing.
  const known = Object.entries(tokens).map(([token, tenant]) => ({
    digest: sha256Hex(token),
    tenant,
  }));

  function authenticate(request: Request): { token: string; tenant: string } | Response {
    const authorization = request.headers.get("authorization") ?? "";
    const token = authorization.startsWith("Bearer ") ? authorization.slice(7).trim() : "";
    const digest = sha256Hex(token);
    let tenant: string | undefined;
    for (const entry of known) if (timingSafeEqual(digest, entry.digest)) tenant = entry.tenant;
    return tenant === undefined
      ? errorResponse(401, "unauthenticated", "missing or unknown API key")
      : { token, tenant };
  }

  function limited(tenant: string, now: number, events: number): Response | undefined {
    const wait = limiter?.(tenant, now, events) ?? 0;
    return wait > 0
      ? errorResponse(429, "rate_limited", "too many events", {
        "Retry-After": retryAfterSeconds(wait),
      })
      : undefined;
  }

  function withKey(request: Request, batch: DecodedBatch): DecodedBatch {
    const key = request.headers.get("x-idempotency-key");
    return key === null || key === "" ? batch : { ...batch, requestKey: key };
  }

  const batchRoute: Route = {
    name: "getfluxly",
    method: "POST",
    path: "/v1/events/batch",

    decode(request: Request, body: Uint8Array, context: RouteContext) {
      const auth = authenticate(request);
      if (auth instanceof Response) return auth;
      if (body.byteLength > GETFLUXLY_LIMITS.maxBatchBytes) {
        return errorResponse(
          413,
          "payload_too_large",
          `body over ${GETFLUXLY_LIMITS.maxBatchBytes} bytes`,
        );
      }
      const json = parseBody(body);
      if (!isObject(json) || !Array.isArray(json.events)) {
        return errorResponse(400, "validation_error", 'body must be {"events":[...]}');
      }
      if (json.events.length > GETFLUXLY_LIMITS.maxBatchEvents) {
        return errorResponse(
          400,
          "validation_error",
          `at most ${GETFLUXLY_LIMITS.maxBatchEvents} events`,
        );
      }
      const tooMany = limited(auth.tenant, context.now, Math.max(1, json.events.length));
      if (tooMany) return tooMany;
      const records = json.events.map((item): DecodedRecord => {
        const problem = eventProblem(item);
        const event: JsonObject = isObject(item) ? item : { value: item };
        return problem === undefined
          ? { event }
          : { event, rejected: { code: "validation_error", reason: problem } };
      });
      return withKey(request, { tenant: auth.tenant, records });
    },

    respond(_batch: DecodedBatch, results: readonly RecordResult[]) {
      const errors: JsonObject[] = [];
      results.forEach((result, index) => {
        if (result.status === "rejected") {
          errors.push({
            index,
            error: result.retryable ? "server_error" : result.code,
            detail: result.reason,
          });
        }
      });
      return jsonResponse(202, {
        accepted: results.length - errors.length,
        rejected: errors.length,
        errors,
        request_id: `req_${++requestCount}`,
      });
    },

    duplicate(batch: DecodedBatch, original: readonly RecordResult[]) {
      return batchRoute.respond(batch, original);
    },
  };

  const aliasRoute: Route = {
    name: "getfluxly-alias",
    method: "POST",
    path: "/v1/identify/alias",

    decode(request: Request, body: Uint8Array, context: RouteContext) {
      const auth = authenticate(request);
      if (auth instanceof Response) return auth;
      if (!auth.token.startsWith("gflux_secret_")) {
        return errorResponse(403, "wrong_key_type", "alias requires a secret key");
      }
      const tooMany = limited(auth.tenant, context.now, 1);
      if (tooMany) return tooMany;
      const json = parseBody(body);
      if (!isObject(json) || typeof json.user_id !== "string" || json.user_id === "") {
        return errorResponse(400, "validation_error", "user_id is required");
      }
      if (typeof json.anonymous_id !== "string" && typeof json.previous_id !== "string") {
        return errorResponse(400, "validation_error", "anonymous_id or previous_id is required");
      }
      const event: JsonObject = {
        type: "alias",
        ...json,
        merged_at: new Date(context.now).toISOString(),
      };
      return withKey(request, { tenant: auth.tenant, records: [{ event }] });
    },

    respond(batch: DecodedBatch, results: readonly RecordResult[]) {
      const result = results[0];
      if (result?.status === "rejected") {
        return result.retryable
          ? errorResponse(503, "server_error", result.reason)
          : errorResponse(409, "alias_conflict", result.reason);
      }
      const event = batch.records[0]?.event ?? {};
      const alias: JsonObject = {
        user_id: event.user_id ?? null,
        merged_at: event.merged_at ?? null,
      };
      alias.anonymous_id = event.anonymous_id ?? event.previous_id ?? null;
      const request_id = event.request_id;
      return jsonResponse(
        200,
        typeof request_id === "string" ? { alias, request_id } : { alias },
      );
    },

    duplicate(batch: DecodedBatch, original: readonly RecordResult[]) {
      return aliasRoute.respond(batch, original);
    },
  };

  return [batchRoute, aliasRoute];
}

// Types that the exports above name in their signatures.
export type * from "../_route_types.ts";
export type { RateLimit } from "../../ports/profile.ts";
