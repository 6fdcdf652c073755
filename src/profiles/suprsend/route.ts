/**
 * Receiver routes emulating SuprSend's signed event API: `POST /event/` (the
 * Node SDK's single and bulk calls), `POST /v2/event/` and
 * `POST /v2/bulk/event/` (the Python SDK's).
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
import { optionChecks } from "../../_util/checks.ts";
import { timingSafeEqual } from "../../_util/timing_safe_equal.ts";
import { utf8ByteLength } from "../../_util/utf8.ts";
import {
  importSuprsendKey,
  signSuprsend,
  SUPRSEND_LIMITS,
  suprsendStringToSign,
} from "./profile.ts";
import { isObject, jsonResponse, parseBody } from "../_route_common.ts";
import { nonPublicUrlReason } from "./_public_url.ts";

/** A SuprSend event endpoint. */
export type SuprsendEndpoint = "event" | "v2-event" | "v2-bulk";

/** The path of each {@linkcode SuprsendEndpoint}. */
export const SUPRSEND_ENDPOINT_PATHS: Readonly<Record<SuprsendEndpoint, string>> = Object.freeze({
  "event": "/event/",
  "v2-event": "/v2/event/",
  "v2-bulk": "/v2/bulk/event/",
});

/**
 * Largest body a SuprSend route takes: the SDKs fill a call up to
 * `BODY_MAX_APPARENT_SIZE_IN_BYTES` (800 KB) as they measure it, the JSON's
 * string length in UTF-16 code units, which is up to 3 bytes each in UTF-8;
 * plus the array's brackets and commas.
 */
export const SUPRSEND_ROUTE_MAX_BODY_BYTES: number = 3 * 800 * 1024 + 1024;

/** Options of {@linkcode suprsendRoute} and {@linkcode suprsendRoutes}. */
export interface SuprsendRouteOptions {
  /** Workspace key → workspace secret. */
  workspaces: Readonly<Record<string, string>>;
  /** Which endpoint {@linkcode suprsendRoute} serves. @default {"v2-bulk"} */
  endpoint?: SuprsendEndpoint;
  /**
   * Largest accepted difference between the `Date` header and the receipt
   * time (SuprSend documents none). @default {undefined} (not checked)
   */
  maxClockSkewMs?: number;
}

/** Defaults of {@linkcode SuprsendRouteOptions}. */
export const DEFAULT_SUPRSEND_ROUTE_OPTIONS: Readonly<{ endpoint: SuprsendEndpoint }> = Object
  .freeze({ endpoint: "v2-bulk" });

/** SuprSend's error body, `{"error":{"message":…}}` (what its SDKs read). */
function suprsendErrorBody(_status: number, message: string): JsonValue {
  return { error: { message } };
}

function error(status: number, message: string): Response {
  return jsonResponse(status, suprsendErrorBody(status, message));
}

/** Why an attachment list fails its event (404 in the seed), or undefined. */
function attachmentProblem(attachments: JsonValue | undefined): string | undefined {
  if (attachments === undefined || attachments === null) return undefined;
  if (!Array.isArray(attachments)) return "properties.$attachments must be an array";
  for (const attachment of attachments) {
    if (!isObject(attachment)) return "each attachment must be an object";
    if (attachment.ignore_if_error === true) continue;
    const url = attachment.url;
    if (url === undefined || url === null) {
      if (typeof attachment.data !== "string") return "an attachment needs a url or data";
      continue;
    }
    const reason = typeof url === "string" ? nonPublicUrlReason(url) : "is not a string";
    if (reason !== undefined) {
      return `attachment url ${JSON.stringify(String(url).slice(0, 200))} ${reason}`;
    }
  }
  return undefined;
}

/** The record's refusal as `{code, reason}`, the code being the status SuprSend gives. */
function checkEvent(
  event: JsonValue,
  workspaceKey: string,
): { code: string; reason: string } | undefined {
  const bad = (code: number, reason: string) => ({ code: String(code), reason });
  if (!isObject(event)) return bad(400, "event must be a JSON object");
  if (typeof event.event !== "string" || event.event.trim().length < 2) {
    return bad(400, "event: a name of at least 2 characters is required");
  }
  if (typeof event.distinct_id !== "string" || event.distinct_id.trim() === "") {
    return bad(400, "distinct_id is required");
  }
  if (event.properties !== undefined && !isObject(event.properties)) {
    return bad(400, "properties must be an object");
  }
  if (event.env !== undefined && event.env !== workspaceKey) {
    return bad(400, "env does not match the workspace");
  }
  const key = event.$idempotency_key;
  if (key !== undefined && key !== null && (typeof key !== "string" || key.trim().length > 255)) {
    return bad(400, "$idempotency_key must be a string of at most 255 characters");
  }
  if (utf8ByteLength(JSON.stringify(event)) > SUPRSEND_LIMITS.maxEventBytes) {
    return bad(413, `event size exceeds ${SUPRSEND_LIMITS.maxEventBytes} bytes`);
  }
  const attachments = isObject(event.properties) ? event.properties.$attachments : undefined;
  const problem = attachmentProblem(attachments);
  // The seed: a non-public attachment URL is "404 not found" and the workflow is not triggered.
  if (problem !== undefined) return bad(404, problem);
  return undefined;
}

function statusOf(result: RecordResult): number {
  if (result.status !== "rejected") return 202;
  return result.retryable ? 500 : Number(result.code) || 400;
}

/**
 * A route that answers like SuprSend on one endpoint: checks the HMAC
 * signature (401 when it is wrong), decodes the body (`/event/`: one event
 * or an array; `/v2/event/`: one event; `/v2/bulk/event/`: an array), skips
 * events whose `$idempotency_key` was seen (reported as success, as SuprSend
 * "skips" them), refuses an event over 100 KB (413) or with an attachment
 * URL that is not public (404, as the seed says), and answers:
 *
 * - `/event/`: 202 `OK` (what the public REST API documents; the Node SDK
 *   reads any 2xx as success), or the first refusal's status with
 *   `{"error":{"message":…}}`;
 * - `/v2/event/`: 202 `{"message_id":…}` or `{"error":{"message":…}}`;
 * - `/v2/bulk/event/`: 200 `{"records":[{"status","status_code","error"}]}`.
 *
 * Bodies up to {@linkcode SUPRSEND_ROUTE_MAX_BODY_BYTES} are read, and the
 * receiver's own refusals (404, 405, 413, 429…) use SuprSend's error shape.
 * {@linkcode suprsendRoutes} serves all three endpoints.
 *
 * @example Usage
 * ```ts
 * import { suprsendRoute } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const route = suprsendRoute({ workspaces: { ws_key_0123456789abcd: "secret" } });
 * assert.equal(route.path, "/v2/bulk/event/");
 * ```
 */
export function suprsendRoute(options: SuprsendRouteOptions): Route {
  const {
    workspaces,
    endpoint = DEFAULT_SUPRSEND_ROUTE_OPTIONS.endpoint,
    maxClockSkewMs,
  } = options;
  optionChecks("create the SuprSend route").oneOf(
    "endpoint",
    endpoint,
    Object.keys(SUPRSEND_ENDPOINT_PATHS) as SuprsendEndpoint[],
  );
  const keys = new Map<string, Promise<CryptoKey>>();

  return {
    name: "suprsend",
    method: "POST",
    path: SUPRSEND_ENDPOINT_PATHS[endpoint],
    maxBodyBytes: SUPRSEND_ROUTE_MAX_BODY_BYTES,
    errorBody: suprsendErrorBody,

    async decode(request: Request, body: Uint8Array, context: RouteContext) {
      const authorization = request.headers.get("authorization") ?? "";
      const colon = authorization.lastIndexOf(":");
      const workspaceKey = authorization.slice(0, Math.max(0, colon));
      const secret = Object.hasOwn(workspaces, workspaceKey) ? workspaces[workspaceKey] : undefined;
      const date = request.headers.get("date");
      if (secret === undefined || date === null) return error(401, "invalid credentials");
      if (maxClockSkewMs !== undefined) {
        const sent = Date.parse(date);
        if (Number.isNaN(sent) || Math.abs(context.now - sent) > maxClockSkewMs) {
          return error(401, "request date outside the allowed window");
        }
      }
      let key = keys.get(workspaceKey);
      if (key === undefined) keys.set(workspaceKey, key = importSuprsendKey(secret));
      const url = new URL(request.url);
      const expected = await signSuprsend(
        await key,
        suprsendStringToSign(
          request.method,
          body,
          request.headers.get("content-type") ?? "",
          date,
          url.pathname + url.search,
        ),
      );
      if (!timingSafeEqual(expected, authorization.slice(colon + 1))) {
        return error(401, "signature mismatch");
      }
      const json = parseBody(body);
      const items = endpoint === "v2-bulk"
        ? (Array.isArray(json) ? json : undefined)
        : endpoint === "v2-event"
        ? (isObject(json) ? [json] : undefined)
        : (Array.isArray(json) ? json : isObject(json) ? [json] : undefined);
      if (items === undefined) {
        return error(
          400,
          endpoint === "v2-bulk"
            ? "body must be a JSON array of events"
            : endpoint === "v2-event"
            ? "body must be one JSON event object"
            : "body must be a JSON event object or an array of them",
        );
      }
      if (items.length > SUPRSEND_LIMITS.maxBatchEvents) {
        return error(400, `at most ${SUPRSEND_LIMITS.maxBatchEvents} events per bulk call`);
      }
      const records = items.map((item): DecodedRecord => {
        const rejected = checkEvent(item, workspaceKey);
        const event = isObject(item) ? item : { value: item };
        if (rejected !== undefined) return { event, rejected };
        const idempotencyKey = event.$idempotency_key;
        return typeof idempotencyKey === "string" && idempotencyKey.trim() !== ""
          ? { key: idempotencyKey.trim(), event }
          : { event };
      });
      const batch: DecodedBatch = { tenant: workspaceKey, records };
      return batch;
    },

    respond(batch: DecodedBatch, results: readonly RecordResult[]) {
      if (endpoint === "v2-bulk") {
        return jsonResponse(200, {
          records: results.map((result) =>
            result.status === "rejected"
              ? {
                status: "error",
                status_code: statusOf(result),
                error: { message: result.reason },
              }
              : { status: "success", status_code: 202, error: null }
          ),
        });
      }
      const rejected = results.find((result) => result.status === "rejected");
      if (rejected?.status === "rejected") return error(statusOf(rejected), rejected.reason);
      if (endpoint === "event") return new Response("OK", { status: 202 });
      const event = batch.records[0]?.event as JsonObject | undefined;
      const insertId = event?.$insert_id;
      return jsonResponse(202, {
        message_id: typeof insertId === "string" ? insertId : crypto.randomUUID(),
      });
    },
  };
}

/**
 * The three SuprSend event endpoints (`/event/`, `/v2/event/`,
 * `/v2/bulk/event/`), as {@linkcode suprsendRoute} serves each: what both
 * official SDKs call.
 *
 * @example Usage
 * ```ts
 * import { suprsendRoutes } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const routes = suprsendRoutes({ workspaces: { ws_key_0123456789abcd: "secret" } });
 * assert.deepEqual(routes.map((route) => route.path), ["/event/", "/v2/event/", "/v2/bulk/event/"]);
 * ```
 */
export function suprsendRoutes(options: Omit<SuprsendRouteOptions, "endpoint">): Route[] {
  return (Object.keys(SUPRSEND_ENDPOINT_PATHS) as SuprsendEndpoint[]).map((endpoint) =>
    suprsendRoute({ ...options, endpoint })
  );
}

// Types that the exports above name in their signatures.
export type * from "../_route_types.ts";
