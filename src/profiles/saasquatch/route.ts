/**
 * Receiver route emulating SaaSquatch's user-event endpoint.
 *
 * @module
 */
import type { JsonObject, JsonValue } from "../../event.ts";
import { isValidIdempotencyKey, STRICT_KEY_POLICY } from "../../idempotency_key.ts";
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
import { SAASQUATCH_MAX_FIELD_BYTES } from "./profile.ts";
import { isObject, jsonResponse, parseBody } from "../_route_common.ts";

/** Options of {@linkcode saasquatchRoute}. */
export interface SaasquatchRouteOptions {
  /** Tenant alias → API key. Requests for other tenants get 401. */
  apiKeys: Readonly<Record<string, string>>;
  /**
   * Checks a user JWT (sent as `X-SaaSquatch-User-Token` or `Authorization: Bearer`).
   * @default {() => false}
   */
  verifyJwt?: (jwt: string, tenantAlias: string) => boolean;
  /**
   * An `idempotencyKey` that breaks SaaSquatch's rules (8–64 of
   * `A-Z a-z 0-9 . _ -`): `"refuse"` the call (400
   * `INVALID_IDEMPOTENCY_KEY`), or `"ignore"` the key and log the events
   * without idempotency, as SaaSquatch does for its Segment integration.
   * @default {"refuse"}
   */
  invalidKeys?: "refuse" | "ignore";
}

/** Defaults of {@linkcode SaasquatchRouteOptions}. */
export const DEFAULT_SAASQUATCH_ROUTE_OPTIONS: Readonly<{
  verifyJwt: (jwt: string, tenantAlias: string) => boolean;
  invalidKeys: "refuse" | "ignore";
}> = Object.freeze({
  verifyJwt: () => false,
  invalidKeys: "refuse",
});

/** `apiErrorCode`s of the receiver's own refusals. */
const API_ERROR_CODES: Readonly<Record<number, string>> = Object.freeze({
  400: "INVALID_REQUEST",
  401: "UNAUTHORIZED",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMIT_EXCEEDED",
  503: "SERVICE_UNAVAILABLE",
});

/** SaaSquatch's standard error body, `{statusCode, message, apiErrorCode}`. */
function apiErrorBody(status: number, message: string): JsonValue {
  return { statusCode: status, message, apiErrorCode: API_ERROR_CODES[status] ?? "ERROR" };
}

function apiError(status: number, message: string, apiErrorCode: string): Response {
  return jsonResponse(status, { statusCode: status, message, apiErrorCode });
}

function authenticated(
  request: Request,
  tenant: string,
  apiKeys: Readonly<Record<string, string>>,
  verifyJwt: (jwt: string, tenantAlias: string) => boolean,
): boolean {
  const authorization = request.headers.get("authorization") ?? "";
  if (authorization.startsWith("Basic ")) {
    const expected = Object.hasOwn(apiKeys, tenant) ? apiKeys[tenant] : undefined;
    if (expected === undefined) return false;
    let decoded: string;
    try {
      decoded = atob(authorization.slice(6).trim());
    } catch {
      return false;
    }
    return timingSafeEqual(decoded, `:${expected}`);
  }
  const jwt = request.headers.get("x-saasquatch-user-token") ??
    (authorization.startsWith("Bearer ") ? authorization.slice(7).trim() : undefined);
  return jwt !== undefined && jwt !== "" && verifyJwt(jwt, tenant);
}

function fieldProblem(value: JsonValue, path: string, insideArray: boolean): string | undefined {
  if (typeof value === "string") {
    return utf8ByteLength(value) > SAASQUATCH_MAX_FIELD_BYTES
      ? `${path}: strings over ${SAASQUATCH_MAX_FIELD_BYTES} bytes are not supported`
      : undefined;
  }
  if (Array.isArray(value)) {
    if (insideArray) return `${path}: arrays of arrays are not supported`;
    for (const [index, item] of value.entries()) {
      const problem = fieldProblem(item, `${path}[${index}]`, true);
      if (problem) return problem;
    }
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      const problem = fieldProblem(item, `${path}.${key}`, false);
      if (problem) return problem;
    }
  }
  return undefined;
}

/**
 * A route that answers like SaaSquatch's
 * `POST /api/v1/:tenant/open/account/:accountId/user/:userId/events`: Basic
 * auth with the tenant's API key (or a JWT), body checks, 200 with a
 * `UserEventResult`, and 409 for any repeat of an `idempotencyKey` within
 * the receiver's key TTL (24 h by default), whatever the repeat's body, as
 * SaaSquatch documents. The receiver's own refusals use SaaSquatch's error
 * body.
 *
 * @example Usage
 * ```ts
 * import { saasquatchRoute } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const route = saasquatchRoute({ apiKeys: { test_abc: "KEY" } });
 * const request = new Request("http://x/api/v1/test_abc/open/account/u/user/u/events", {
 *   method: "POST",
 *   headers: { Authorization: `Basic ${btoa(":KEY")}` },
 * });
 * const body = new TextEncoder().encode('{"userId":"u","accountId":"u","events":[{"key":"x"}]}');
 * const decoded = await route.decode(request, body, {
 *   now: 0,
 *   params: { tenant: "test_abc", accountId: "u", userId: "u" },
 * });
 * assert.ok(!(decoded instanceof Response));
 * assert.equal(decoded.records.length, 1);
 * ```
 */
export function saasquatchRoute(options: SaasquatchRouteOptions): Route {
  const {
    apiKeys,
    verifyJwt = DEFAULT_SAASQUATCH_ROUTE_OPTIONS.verifyJwt,
    invalidKeys = DEFAULT_SAASQUATCH_ROUTE_OPTIONS.invalidKeys,
  } = options;
  optionChecks("create the SaaSquatch route").oneOf("invalidKeys", invalidKeys, [
    "refuse",
    "ignore",
  ]);
  return {
    name: "saasquatch",
    method: "POST",
    path: "/api/v1/:tenant/open/account/:accountId/user/:userId/events",
    errorBody: apiErrorBody,

    decode(request: Request, body: Uint8Array, context: RouteContext) {
      const tenant = context.params.tenant ?? "";
      if (!authenticated(request, tenant, apiKeys, verifyJwt)) {
        return apiError(401, "Invalid or missing credentials", "UNAUTHORIZED");
      }
      const json = parseBody(body);
      if (!isObject(json)) return apiError(400, "Body must be a JSON object", "INVALID_REQUEST");
      let userId: string, accountId: string;
      try {
        userId = decodeURIComponent(context.params.userId ?? "");
        accountId = decodeURIComponent(context.params.accountId ?? "");
      } catch {
        return apiError(400, "Malformed path", "INVALID_REQUEST");
      }
      if (json.userId !== userId || json.accountId !== accountId) {
        return apiError(400, "userId and accountId must match the path", "INVALID_REQUEST");
      }
      let key = json.idempotencyKey;
      if (key !== undefined && key !== null && !isValidIdempotencyKey(key, STRICT_KEY_POLICY)) {
        if (invalidKeys === "ignore") key = undefined;
        else {
          return apiError(
            400,
            "idempotencyKey must be 8-64 characters of A-Z a-z 0-9 . _ -",
            "INVALID_IDEMPOTENCY_KEY",
          );
        }
      }
      const events = json.events;
      if (!Array.isArray(events) || events.length === 0) {
        return apiError(400, "events must be a non-empty array", "INVALID_REQUEST");
      }
      const records: DecodedRecord[] = [];
      for (const [index, item] of events.entries()) {
        if (!isObject(item) || typeof item.key !== "string" || item.key === "") {
          return apiError(400, `events[${index}].key is required`, "INVALID_REQUEST");
        }
        const fields = item.fields ?? {};
        const problem = fieldProblem(fields, `events[${index}].fields`, false);
        if (problem) return apiError(400, problem, "INVALID_REQUEST");
        const event: JsonObject = { userId, accountId, key: item.key, fields };
        if (typeof item.dateTriggered === "number") event.dateTriggered = item.dateTriggered;
        records.push({ event });
      }
      // Any repeat of the key is a conflict, whatever its body: one fingerprint for all.
      const batch: DecodedBatch = typeof key === "string"
        ? { tenant, requestKey: key, requestFingerprint: "saasquatch", records }
        : { tenant, records };
      return batch;
    },

    respond(batch: DecodedBatch, results: readonly RecordResult[]) {
      const rejected = results.find((result) => result.status === "rejected");
      if (rejected?.status === "rejected") {
        return rejected.retryable
          ? apiError(503, rejected.reason, "SERVICE_UNAVAILABLE")
          : apiError(400, rejected.reason, rejected.code);
      }
      const first = batch.records[0]?.event;
      return jsonResponse(200, {
        userId: first?.userId ?? null,
        accountId: first?.accountId ?? null,
        events: batch.records.map((record, index) => ({
          id: `${batch.requestKey ?? "event"}-${index}`,
          key: record.event.key ?? null,
          fields: record.event.fields ?? {},
          dateTriggered: record.event.dateTriggered ?? null,
        })),
      });
    },

    duplicate() {
      return apiError(409, "An event with this idempotencyKey was already received", "CONFLICT");
    },
  };
}

// Types that the exports above name in their signatures.
export type * from "../_route_types.ts";
