/**
 * Receiver route emulating Skalin's bulk collector.
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
import { SKALIN_GROUPS, SKALIN_MAX_ITEMS_PER_GROUP, SKALIN_RATE_LIMIT } from "./profile.ts";
import {
  isObject,
  jsonResponse,
  keyedRateLimiter,
  parseBody,
  retryAfterSeconds,
} from "../_route_common.ts";

/** Options of {@linkcode skalinRoute}. */
export interface SkalinRouteOptions {
  /** Known client ids; others get 401. */
  clientIds: Iterable<string>;
  /** Per-IP request limit; `false` turns it off. @default {SKALIN_RATE_LIMIT} */
  rateLimit?: RateLimit | false;
}

const ID_16 = /^[A-Za-z0-9]{16}$/;

/** A random 16-character id (lowercase hex), as Skalin generates for a missing one. */
function randomId16(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}
const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

function itemProblem(item: JsonValue, group: string): string | undefined {
  if (!isObject(item)) return "item must be an object";
  const identity = item.identity;
  if (
    !isObject(identity) ||
    (typeof identity.email !== "string" && typeof identity.id !== "string")
  ) {
    return "identity with email or id is required";
  }
  if (group === "features" && (typeof item.name !== "string" || item.name === "")) {
    return "name is required";
  }
  for (const field of ["eventId", "visitId"]) {
    const value = item[field];
    if (value !== undefined && (typeof value !== "string" || !ID_16.test(value))) {
      return `${field} must be 16 characters`;
    }
  }
  if (item.ts !== undefined && (typeof item.ts !== "string" || !TS.test(item.ts))) {
    return "ts must be YYYY-MM-DDTHH:mm:ss";
  }
  return undefined;
}

/**
 * A route that answers like Skalin's `POST /hit/bulk?rec=1&client_id=…`:
 * `client_id` is the credential, at most 100 items per array (400 beyond),
 * 200 on success and 429 with `Retry-After` past 100 requests/s (burst 500)
 * per client IP. An item without `eventId` gets a generated one, and items
 * without `visitId` share one generated for the request, as Skalin does.
 * Skalin keeps the *last* copy of a repeated `eventId`, so every copy is
 * accepted and handed to the sink in arrival order (no receiver-side
 * de-duplication, which keeps the first): a sink that upserts by `eventId`
 * keeps what Skalin keeps.
 *
 * @example Usage
 * ```ts
 * import { skalinRoute } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const route = skalinRoute({ clientIds: ["2bb91c92dr779103"] });
 * const request = new Request("http://x/hit/bulk?rec=1&client_id=nope", { method: "POST" });
 * const answer = await route.decode(request, new Uint8Array(), { now: 0, params: {} });
 * assert.equal((answer as Response).status, 401);
 * ```
 */
export function skalinRoute(options: SkalinRouteOptions): Route {
  const { clientIds, rateLimit = SKALIN_RATE_LIMIT } = options;
  const known = new Set(clientIds);
  const limiter = rateLimit === false ? undefined : keyedRateLimiter(rateLimit);

  return {
    name: "skalin",
    method: "POST",
    path: "/hit/bulk",

    decode(request: Request, body: Uint8Array, context: RouteContext) {
      const wait = limiter?.(context.remoteAddr ?? "unknown", context.now) ?? 0;
      if (wait > 0) {
        return jsonResponse(429, { error: "rate limit exceeded" }, {
          "Retry-After": retryAfterSeconds(wait),
        });
      }
      const clientId = new URL(request.url).searchParams.get("client_id");
      if (clientId === null || !known.has(clientId)) {
        return jsonResponse(401, { error: "unknown client_id" });
      }
      const json = parseBody(body);
      if (!isObject(json)) return jsonResponse(400, { error: "body must be a JSON object" });
      const records: DecodedRecord[] = [];
      let requestVisitId: string | undefined;
      for (const group of SKALIN_GROUPS) {
        const items = json[group] ?? [];
        if (!Array.isArray(items)) return jsonResponse(400, { error: `${group} must be an array` });
        if (items.length > SKALIN_MAX_ITEMS_PER_GROUP) {
          return jsonResponse(400, {
            error: `${group} cannot contain more than ${SKALIN_MAX_ITEMS_PER_GROUP} elements`,
          });
        }
        for (const item of items) {
          const problem = itemProblem(item, group);
          const event: JsonObject = { type: group, ...(isObject(item) ? item : {}) };
          if (problem !== undefined) {
            records.push({ event, rejected: { code: "invalid_item", reason: problem } });
          } else {
            event.eventId ??= randomId16();
            event.visitId ??= requestVisitId ??= randomId16();
            records.push({ event });
          }
        }
      }
      const batch: DecodedBatch = { tenant: clientId, records };
      return batch;
    },

    respond(_batch: DecodedBatch, results: readonly RecordResult[]) {
      const rejected = results.find((result) => result.status === "rejected");
      if (rejected?.status === "rejected") {
        return jsonResponse(rejected.retryable ? 503 : 400, { error: rejected.reason });
      }
      return jsonResponse(200, { received: results.length });
    },
  };
}

// Types that the exports above name in their signatures.
export type * from "../_route_types.ts";
export type { RateLimit } from "../../ports/profile.ts";
