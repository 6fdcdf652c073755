/**
 * Receiver routes emulating Mixpanel's ingestion: `POST /import` (what
 * idemtrack's `mixpanelProfile` sends) and `/track` by `POST` and `GET`
 * (what the `mixpanel` Node library's `track` and `track_batch` send), so
 * either gets every event stored once.
 *
 * @module
 */
import type { JsonObject, JsonValue } from "../../event.ts";
import type { DecodedBatch, DecodedRecord, RecordResult, Route } from "../../receiver/route.ts";
import { isObject, jsonResponse, parseBody } from "../_route_common.ts";
import { basicAuth, tenantOfKey } from "../segment/keys.ts";
import { MIXPANEL_LIMITS, MIXPANEL_MAX_PROPERTIES } from "./profile.ts";

/** Options of {@linkcode mixpanelRoutes}. */
export interface MixpanelRouteOptions {
  /** Project token → tenant (`/track` authenticates by the events' `token`). */
  projectTokens: Readonly<Record<string, string>>;
  /**
   * `/import` credentials → tenant: `"<service account user>:<secret>"`, or a
   * project's API secret alone.
   */
  importSecrets: Readonly<Record<string, string>>;
}

const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;

function eventProblem(item: JsonValue, requireTime: boolean): string | undefined {
  if (!isObject(item)) return "an event must be an object";
  if (typeof item.event !== "string" || item.event === "") return "event: a name is required";
  if (!isObject(item.properties)) return "properties: an object is required";
  const { properties } = item;
  if (typeof properties.distinct_id !== "string" && typeof properties.distinct_id !== "number") {
    return "properties.distinct_id: required";
  }
  if (requireTime && typeof properties.time !== "number") return "properties.time: required";
  const insertId = properties.$insert_id;
  if (insertId !== undefined && (typeof insertId !== "string" || !INSERT_ID.test(insertId))) {
    return "properties.$insert_id: at most 36 characters of [A-Za-z0-9-]";
  }
  if (Object.keys(properties).length > MIXPANEL_MAX_PROPERTIES) {
    return `properties: at most ${MIXPANEL_MAX_PROPERTIES}`;
  }
  return undefined;
}

/** Mixpanel's de-duplication identity: event, distinct_id, time and $insert_id together. */
function dedupeKey(event: JsonObject): string | undefined {
  const properties = isObject(event.properties) ? event.properties : {};
  return typeof properties.$insert_id === "string"
    ? JSON.stringify([event.event, properties.distinct_id, properties.time, properties.$insert_id])
    : undefined;
}

function recordsOf(items: readonly JsonValue[], requireTime: boolean): DecodedRecord[] {
  return items.map((item): DecodedRecord => {
    const event: JsonObject = isObject(item) ? item : { value: item };
    const problem = eventProblem(item, requireTime);
    if (problem !== undefined) {
      return { event, rejected: { code: "invalid_event", reason: problem } };
    }
    const key = dedupeKey(event);
    return key === undefined ? { event } : { key, event };
  });
}

/** `data=<base64 JSON>` from a form body or a query string. */
function trackData(params: URLSearchParams): JsonValue | undefined {
  const data = params.get("data");
  if (data === null) return undefined;
  try {
    const bytes = Uint8Array.from(atob(data), (char) => char.charCodeAt(0));
    return parseBody(bytes);
  } catch {
    return undefined;
  }
}

const unstoredIn = (results: readonly RecordResult[]) =>
  results.some((result) => result.status === "rejected" && result.retryable);

/**
 * Routes that answer like Mixpanel.
 *
 * `POST /import`: Basic auth (service account or API secret), a JSON array of
 * at most 2000 events and 10 MB; 200 `{code, num_records_imported, status}`,
 * or with `strict=1` a 400 listing `failed_records` (the others are
 * imported); 401 bad credentials, 413 too large, 503 when the sink could not
 * take an event.
 *
 * `POST /track` (`data=<base64>` form) and `GET /track?data=…`: events
 * authenticated by their `token` property; `1` or `0` (with `verbose=1`,
 * `{"status":1,"error":null}`).
 *
 * Events are de-duplicated on (`event`, `distinct_id`, `time`, `$insert_id`).
 *
 * @example Usage
 * ```ts
 * import { mixpanelRoutes } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const routes = mixpanelRoutes({ projectTokens: { tok: "acme" }, importSecrets: { s3cret: "acme" } });
 * assert.deepEqual(routes.map((route) => `${route.method} ${route.path}`), [
 *   "POST /import",
 *   "POST /track",
 *   "GET /track",
 * ]);
 * ```
 */
export function mixpanelRoutes(options: MixpanelRouteOptions): [Route, Route, Route] {
  const { projectTokens, importSecrets } = options;

  const importRoute: Route = {
    name: "mixpanel-import",
    method: "POST",
    path: "/import",

    decode(request: Request, body: Uint8Array): DecodedBatch | Response {
      const auth = basicAuth(request);
      const tenant = auth === undefined ? undefined : tenantOfKey(
        importSecrets,
        auth.password === "" ? auth.user : `${auth.user}:${auth.password}`,
      );
      if (tenant === undefined) {
        return jsonResponse(401, { code: 401, error: "Invalid credentials", status: "error" });
      }
      const json = parseBody(body);
      if (!Array.isArray(json)) {
        return jsonResponse(400, {
          code: 400,
          error: "body must be a JSON array",
          status: "error",
        });
      }
      if (body.byteLength > MIXPANEL_LIMITS.maxBatchBytes || json.length > 2000) {
        return jsonResponse(413, {
          code: 413,
          error: "request exceeds 2000 events or 10 MB",
          status: "error",
        });
      }
      return { tenant, records: recordsOf(json, true) };
    },

    respond(batch: DecodedBatch, results: readonly RecordResult[]): Response {
      if (unstoredIn(results)) {
        return jsonResponse(503, { code: 503, error: "service unavailable", status: "error" });
      }
      const failed = results.flatMap((result, index) =>
        result.status === "rejected"
          ? [{
            index,
            $insert_id: (batch.records[index]?.event.properties as JsonObject | undefined)
              ?.$insert_id ?? null,
            field: result.reason.split(":")[0] ?? "",
            message: result.reason,
          }]
          : []
      );
      const imported = results.length - failed.length;
      return failed.length > 0
        ? jsonResponse(400, {
          code: 400,
          error: "some data points in the request failed validation",
          failed_records: failed,
          num_records_imported: imported,
          status: "Bad Request",
        })
        : jsonResponse(200, { code: 200, num_records_imported: imported, status: "OK" });
    },
  };

  function trackRoute(method: "POST" | "GET"): Route {
    const verbose = new WeakMap<DecodedBatch, boolean>();
    const answer = (batch: DecodedBatch | undefined, ok: boolean, error: string | null) =>
      batch !== undefined && verbose.get(batch)
        ? jsonResponse(ok ? 200 : 400, { status: ok ? 1 : 0, error })
        : new Response(ok ? "1" : "0", { status: 200, headers: { "content-type": "text/plain" } });
    return {
      name: `mixpanel-track-${method.toLowerCase()}`,
      method,
      path: "/track",

      decode(request: Request, body: Uint8Array): DecodedBatch | Response {
        const query = new URL(request.url).searchParams;
        const params = method === "GET"
          ? query
          : new URLSearchParams(new TextDecoder().decode(body));
        const data = trackData(params);
        const items = Array.isArray(data) ? data : data === undefined ? [] : [data];
        const tokens = new Set(
          items.map((item) =>
            isObject(item) && isObject(item.properties) ? item.properties.token : undefined
          ),
        );
        const tenant = tokens.size === 1 ? tenantOfKey(projectTokens, [...tokens][0]) : undefined;
        if (items.length === 0 || tenant === undefined || items.length > 2000) {
          return query.get("verbose") === "1"
            ? jsonResponse(400, { status: 0, error: "missing data, unknown token or over 2000" })
            : new Response("0", { status: 200 });
        }
        const batch = { tenant, records: recordsOf(items, false) };
        verbose.set(batch, query.get("verbose") === "1");
        return batch;
      },

      respond(batch: DecodedBatch, results: readonly RecordResult[]): Response {
        if (unstoredIn(results)) return new Response("0", { status: 503 });
        const rejected = results.find((result) => result.status === "rejected");
        return answer(
          batch,
          rejected === undefined,
          rejected?.status === "rejected" ? rejected.reason : null,
        );
      },
    };
  }

  return [importRoute, trackRoute("POST"), trackRoute("GET")];
}

// Types that the exports above name in their signatures.
export type * from "../_route_types.ts";
