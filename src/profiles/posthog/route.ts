/**
 * A receiver route emulating PostHog's `POST /batch/`, so `posthog-node`
 * (gzip bodies included) and idemtrack's `posthogProfile` can send to an
 * idemtrack receiver and get every event stored once.
 *
 * @module
 */
import type { JsonObject, JsonValue } from "../../event.ts";
import type { DecodedBatch, DecodedRecord, RecordResult, Route } from "../../receiver/route.ts";
import { utf8ByteLength } from "../../_util/utf8.ts";
import { errorResponse, isObject, jsonResponse, parseBody } from "../_route_common.ts";
import { tenantOfKey } from "../segment/keys.ts";
import { POSTHOG_LIMITS } from "./profile.ts";

/** Options of {@linkcode posthogRoute}. */
export interface PosthogRouteOptions {
  /** Project API key → tenant. */
  apiKeys: Readonly<Record<string, string>>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function eventProblem(item: JsonValue): string | undefined {
  if (!isObject(item)) return "an event must be an object";
  if (typeof item.event !== "string" || item.event === "") return "event name is required";
  const properties = isObject(item.properties) ? item.properties : {};
  if (typeof item.distinct_id !== "string" && typeof properties.distinct_id !== "string") {
    return "distinct_id is required";
  }
  if (item.uuid !== undefined && (typeof item.uuid !== "string" || !UUID.test(item.uuid))) {
    return "uuid must be a UUID";
  }
  if (utf8ByteLength(JSON.stringify(item)) > POSTHOG_LIMITS.maxEventBytes) {
    return `an event is limited to ${POSTHOG_LIMITS.maxEventBytes} bytes`;
  }
  return undefined;
}

/**
 * A route that answers like PostHog's capture endpoint: the project key in
 * the body (`api_key`, or `token`), 200 `{"status":"Ok"}`, 400 for a
 * malformed body, 401 for an unknown key, 413 over 20 MB, 503 when the sink
 * could not take an event (posthog-node retries 5xx). Events are
 * de-duplicated on `uuid` (compared lower-cased).
 *
 * @example Usage
 * ```ts
 * import { posthogRoute } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const route = posthogRoute({ apiKeys: { phc_test: "acme" } });
 * assert.equal(route.path, "/batch/");
 * ```
 */
export function posthogRoute(options: PosthogRouteOptions): Route {
  const { apiKeys } = options;
  return {
    name: "posthog",
    method: "POST",
    path: "/batch/",

    decode(_request: Request, body: Uint8Array): DecodedBatch | Response {
      if (body.byteLength > POSTHOG_LIMITS.maxBatchBytes) {
        return errorResponse(413, "payload_too_large", "request body over 20 MB");
      }
      const json = parseBody(body);
      if (!isObject(json)) return errorResponse(400, "invalid_payload", "body must be an object");
      const tenant = tenantOfKey(apiKeys, json.api_key ?? json.token);
      if (tenant === undefined) {
        return jsonResponse(401, {
          type: "authentication_error",
          code: "invalid_api_key",
          detail: "Project API key invalid",
        });
      }
      if (!Array.isArray(json.batch)) {
        return errorResponse(400, "invalid_payload", 'body must be {"api_key":…,"batch":[...]}');
      }
      const records = json.batch.map((item): DecodedRecord => {
        const event: JsonObject = isObject(item) ? item : { value: item };
        const problem = eventProblem(item);
        if (problem !== undefined) {
          return { event, rejected: { code: "invalid_event", reason: problem } };
        }
        return typeof event.uuid === "string"
          ? { key: event.uuid.toLowerCase(), event }
          : { event };
      });
      return { tenant, records };
    },

    respond(_batch: DecodedBatch, results: readonly RecordResult[]): Response {
      const unstored = results.find((result) => result.status === "rejected" && result.retryable);
      return unstored?.status === "rejected"
        ? errorResponse(503, "unavailable", unstored.reason)
        : jsonResponse(200, { status: "Ok" });
    },
  };
}

// Types that the exports above name in their signatures.
export type * from "../_route_types.ts";
