/**
 * Receiver routes emulating Amplitude's `POST /2/httpapi` and `POST /batch`,
 * so `@amplitude/analytics-node` and idemtrack's `amplitudeProfile` can send
 * to an idemtrack receiver and get every event stored once.
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
import { isObject, jsonResponse, keyedRateLimiter, parseBody } from "../_route_common.ts";
import { tenantOfKey } from "../segment/keys.ts";
import { AMPLITUDE_BATCH_LIMITS, AMPLITUDE_LIMITS } from "./profile.ts";

/** Options of {@linkcode amplitudeRoutes}. */
export interface AmplitudeRouteOptions {
  /** API key → tenant. */
  apiKeys: Readonly<Record<string, string>>;
  /**
   * Events per second per user and per device before a request is throttled
   * (429 with `throttled_events`); `false` turns it off. Amplitude throttles
   * above 30 events per second per user or device, averaged over 30 s.
   * @default {{ requestsPerSecond: 30, burst: 900 }}
   */
  throttle?: RateLimit | false;
}

/** Amplitude's per-user and per-device throughput before throttling (30 EPS over 30 s). */
export const AMPLITUDE_EPS_LIMIT: RateLimit = Object.freeze({ requestsPerSecond: 30, burst: 900 });

const DEFAULT_MIN_ID_LENGTH = 5;

/** Which 400 list an event's problem goes in, and why. */
type Problem = { list: "missing" | "invalid" | "idLength"; field: string } | undefined;

function eventProblem(item: JsonValue, minIdLength: number): Problem {
  if (!isObject(item)) return { list: "invalid", field: "event" };
  if (typeof item.event_type !== "string" || item.event_type === "") {
    return { list: "missing", field: "event_type" };
  }
  const ids = (["user_id", "device_id"] as const).filter((id) => typeof item[id] === "string");
  if (ids.length === 0) return { list: "missing", field: "user_id" };
  for (const id of ids) {
    if ((item[id] as string).length < minIdLength) return { list: "idLength", field: id };
  }
  if (item.time !== undefined && typeof item.time !== "number") {
    return { list: "invalid", field: "time" };
  }
  return undefined;
}

/**
 * Routes that answer like Amplitude, with its status in the body's `code`
 * (what analytics-node reads): 200 `{code, events_ingested,
 * payload_size_bytes, server_upload_time}`; 400 `Invalid API key` or, for bad
 * events, the index maps `events_with_missing_fields`,
 * `events_with_invalid_fields` and `events_with_invalid_id_lengths` (the
 * valid events of such a request are stored, and their resend is answered as
 * a repeat); 413 over 2000 events or the size cap (1 MB, `/batch` 20 MB); 429
 * when a user or device goes over its events per second (`throttle`), listing
 * `throttled_events`, `throttled_users` and `throttled_devices` (nothing of
 * that request is stored); 500 when the sink could not take an event. Events
 * are de-duplicated on `insert_id`.
 *
 * @example Usage
 * ```ts
 * import { amplitudeRoutes } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const [http, batch] = amplitudeRoutes({ apiKeys: { amp_key: "acme" } });
 * assert.equal(http.path, "/2/httpapi");
 * assert.equal(batch.path, "/batch");
 * ```
 */
export function amplitudeRoutes(options: AmplitudeRouteOptions): [Route, Route] {
  const { apiKeys, throttle = AMPLITUDE_EPS_LIMIT } = options;
  const limiter = throttle === false ? undefined : keyedRateLimiter(throttle);

  /**
   * A 429 listing the events of users or devices over their rate, or
   * `undefined`. Like Amplitude, a throttled request stores nothing.
   */
  function throttled(
    tenant: string,
    events: readonly JsonValue[],
    now: number,
  ): Response | undefined {
    if (limiter === undefined) return undefined;
    const perId = new Map<string, number[]>();
    events.forEach((item, index) => {
      if (!isObject(item)) return;
      for (const [kind, id] of [["user", item.user_id], ["device", item.device_id]] as const) {
        if (typeof id !== "string") continue;
        const key = `${kind}:${id}`;
        perId.set(key, [...(perId.get(key) ?? []), index]);
      }
    });
    const users: Record<string, number> = {};
    const devices: Record<string, number> = {};
    const indices = new Set<number>();
    for (const [key, members] of perId) {
      if (limiter(`${tenant}\u0000${key}`, now, members.length) === 0) continue;
      const [kind, id] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
      (kind === "user" ? users : devices)[id] = members.length;
      for (const index of members) indices.add(index);
    }
    if (indices.size === 0) return undefined;
    return jsonResponse(429, {
      code: 429,
      error: "Too many requests for some devices and users",
      eps_threshold: throttle === false ? 0 : throttle.requestsPerSecond,
      throttled_users: users,
      throttled_devices: devices,
      throttled_events: [...indices].sort((a, b) => a - b),
      exceeded_daily_quota_users: {},
      exceeded_daily_quota_devices: {},
    });
  }

  function route(name: string, path: string, maxBytes: number): Route {
    const decoded = new WeakMap<DecodedBatch, { problems: Problem[]; bytes: number }>();
    return {
      name,
      method: "POST",
      path,

      decode(_request: Request, body: Uint8Array, context: RouteContext): DecodedBatch | Response {
        const json = parseBody(body);
        if (!isObject(json)) {
          return jsonResponse(400, { code: 400, error: "Invalid JSON request body" });
        }
        const tenant = tenantOfKey(apiKeys, json.api_key);
        if (tenant === undefined) {
          return jsonResponse(400, { code: 400, error: "Invalid API key: ***" });
        }
        if (!Array.isArray(json.events)) {
          return jsonResponse(400, {
            code: 400,
            error: "Request missing required field",
            missing_field: "events",
          });
        }
        if (body.byteLength > maxBytes || json.events.length > AMPLITUDE_LIMITS.maxBatchEvents) {
          return jsonResponse(413, { code: 413, error: "Payload too large" });
        }
        const tooFast = throttled(tenant, json.events, context.now);
        if (tooFast !== undefined) return tooFast;
        const idOptions = isObject(json.options) ? json.options : {};
        const minIdLength = typeof idOptions.min_id_length === "number"
          ? idOptions.min_id_length
          : DEFAULT_MIN_ID_LENGTH;
        const found: Problem[] = [];
        const records = json.events.map((item): DecodedRecord => {
          const event: JsonObject = isObject(item) ? item : { value: item };
          const problem = eventProblem(item, minIdLength);
          found.push(problem);
          if (problem !== undefined) {
            return {
              event,
              rejected: { code: "invalid_event", reason: `${problem.field} is not valid` },
            };
          }
          return typeof event.insert_id === "string" && event.insert_id !== ""
            ? { key: event.insert_id, event }
            : { event };
        });
        const batch = { tenant, records };
        decoded.set(batch, { problems: found, bytes: body.byteLength });
        return batch;
      },

      respond(batch: DecodedBatch, results: readonly RecordResult[]): Response {
        if (results.some((result) => result.status === "rejected" && result.retryable)) {
          return jsonResponse(500, { code: 500, error: "Internal server error" });
        }
        const { problems: found = [], bytes = 0 } = decoded.get(batch) ?? {};
        if (found.some((problem) => problem !== undefined)) {
          const maps = { missing: {}, invalid: {}, idLength: {} } as Record<
            string,
            Record<string, number[]>
          >;
          found.forEach((problem, index) => {
            if (problem === undefined) return;
            (maps[problem.list]![problem.field] ??= []).push(index);
          });
          return jsonResponse(400, {
            code: 400,
            error: "Request has events with invalid fields",
            events_with_missing_fields: maps.missing,
            events_with_invalid_fields: maps.invalid,
            events_with_invalid_id_lengths: maps.idLength,
          });
        }
        return jsonResponse(200, {
          code: 200,
          events_ingested: results.length,
          payload_size_bytes: bytes,
          server_upload_time: Date.now(),
        });
      },
    };
  }

  return [
    route("amplitude", "/2/httpapi", AMPLITUDE_LIMITS.maxBatchBytes),
    route("amplitude-batch", "/batch", AMPLITUDE_BATCH_LIMITS.maxBatchBytes),
  ];
}

// Types that the exports above name in their signatures.
export type * from "../_route_types.ts";
export type { RateLimit } from "../../ports/profile.ts";
