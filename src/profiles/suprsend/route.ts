/**
 * Receiver route emulating SuprSend's signed bulk event API.
 *
 * @module
 */
import type { JsonValue } from "../../event.ts";
import type {
  DecodedBatch,
  DecodedRecord,
  RecordResult,
  Route,
  RouteContext,
} from "../../receiver/route.ts";
import { timingSafeEqual } from "../../_util/timing_safe_equal.ts";
import { utf8ByteLength } from "../../_util/utf8.ts";
import {
  importSuprsendKey,
  signSuprsend,
  SUPRSEND_LIMITS,
  suprsendStringToSign,
} from "./profile.ts";
import { isObject, jsonResponse, parseBody } from "../_route_common.ts";

/** Options of {@linkcode suprsendRoute}. */
export interface SuprsendRouteOptions {
  /** Workspace key → workspace secret. */
  workspaces: Readonly<Record<string, string>>;
  /** Which API to emulate: `/v2/bulk/event/` or the legacy `/event/`. @default {"v2"} */
  variant?: "v2" | "legacy";
  /**
   * Largest accepted difference between the `Date` header and the receipt
   * time (SuprSend documents none). @default {undefined} (not checked)
   */
  maxClockSkewMs?: number;
}

function error(status: number, message: string): Response {
  return jsonResponse(status, { error: { message } });
}

function checkEvent(event: JsonValue, workspaceKey: string): string | undefined {
  if (!isObject(event)) return "event must be a JSON object";
  if (typeof event.event !== "string" || event.event.trim().length < 2) {
    return "event: a name of at least 2 characters is required";
  }
  if (typeof event.distinct_id !== "string" || event.distinct_id.trim() === "") {
    return "distinct_id is required";
  }
  if (event.properties !== undefined && !isObject(event.properties)) {
    return "properties must be an object";
  }
  if (event.env !== undefined && event.env !== workspaceKey) {
    return "env does not match the workspace";
  }
  const key = event.$idempotency_key;
  if (key !== undefined && key !== null && (typeof key !== "string" || key.trim().length > 255)) {
    return "$idempotency_key must be a string of at most 255 characters";
  }
  if (utf8ByteLength(JSON.stringify(event)) > SUPRSEND_LIMITS.maxEventBytes) {
    return `event size exceeds ${SUPRSEND_LIMITS.maxEventBytes} bytes`;
  }
  return undefined;
}

/**
 * A route that answers like SuprSend: checks the HMAC signature (401 when it
 * is wrong), decodes the event array, skips events whose `$idempotency_key`
 * was seen (reported as success, as SuprSend "skips" them) and answers v2's
 * `{"records":[…]}` or the legacy plain `OK`.
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
  const { workspaces, variant = "v2", maxClockSkewMs } = options;
  const keys = new Map<string, Promise<CryptoKey>>();

  return {
    name: "suprsend",
    method: "POST",
    path: variant === "v2" ? "/v2/bulk/event/" : "/event/",

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
      const items = Array.isArray(json)
        ? json
        : variant === "legacy" && isObject(json)
        ? [json]
        : undefined;
      if (items === undefined) return error(400, "body must be a JSON array of events");
      if (items.length > SUPRSEND_LIMITS.maxBatchEvents) {
        return error(400, `at most ${SUPRSEND_LIMITS.maxBatchEvents} events per bulk call`);
      }
      const records = items.map((item): DecodedRecord => {
        const problem = checkEvent(item, workspaceKey);
        const event = isObject(item) ? item : { value: item };
        if (problem !== undefined) return { event, rejected: { code: "400", reason: problem } };
        const idempotencyKey = event.$idempotency_key;
        return typeof idempotencyKey === "string" && idempotencyKey.trim() !== ""
          ? { key: idempotencyKey.trim(), event }
          : { event };
      });
      const batch: DecodedBatch = { tenant: workspaceKey, records };
      return batch;
    },

    respond(_batch: DecodedBatch, results: readonly RecordResult[]) {
      if (variant === "legacy") {
        const rejected = results.find((result) => result.status === "rejected");
        if (rejected?.status === "rejected") {
          return new Response(rejected.reason, { status: rejected.retryable ? 500 : 400 });
        }
        return new Response("OK", { status: 202 });
      }
      return jsonResponse(200, {
        records: results.map((result) =>
          result.status === "rejected"
            ? {
              status: "error",
              status_code: result.retryable ? 500 : Number(result.code) || 400,
              error: { message: result.reason },
            }
            : { status: "success", status_code: 202, error: null }
        ),
      });
    },
  };
}
