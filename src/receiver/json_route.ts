import type { JsonObject, JsonValue } from "../event.ts";
import { type KeyPolicy, STRICT_KEY_POLICY, validateIdempotencyKey } from "../idempotency_key.ts";
import { type Authenticator, openAuth } from "./auth.ts";
import { errorResponse, jsonResponse } from "./http.ts";
import type { DecodedBatch, DecodedRecord, RecordResult, Route } from "./route.ts";

/** Options of {@linkcode createJsonRoute}. */
export interface JsonRouteOptions {
  /** Pathname pattern. @default {"/v1/events/batch"} */
  path?: string;
  /** Who the request is from. @default {openAuth("default")} (no credentials) */
  auth?: Authenticator;
  /** Policy for `X-Idempotency-Key` and each event's `idempotency_key`. @default {STRICT_KEY_POLICY} */
  keyPolicy?: KeyPolicy;
}

/** Defaults of {@linkcode JsonRouteOptions}. */
export const DEFAULT_JSON_ROUTE_OPTIONS: Required<JsonRouteOptions> = Object.freeze({
  path: "/v1/events/batch",
  auth: openAuth("default"),
  keyPolicy: STRICT_KEY_POLICY,
});

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The two-digit number at `at` of a string the ISO_TIMESTAMP pattern matched. */
function twoDigits(text: string, at: number): number {
  return (text.charCodeAt(at) - 48) * 10 + text.charCodeAt(at + 1) - 48;
}

/**
 * Whether a string ISO_TIMESTAMP matched is a date-time `Date.parse` takes. Fields plainly in
 * range are accepted without parsing (`Date.parse` takes any day 1–31 in any month); the rest
 * (hour 24, out-of-range fields) is left to `Date.parse`.
 */
function isValidTimestamp(text: string): boolean {
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  let plain = month >= 1 && month <= 12 && day >= 1 && day <= 31 && twoDigits(text, 11) <= 23 &&
    twoDigits(text, 14) <= 59 && twoDigits(text, 17) <= 59;
  if (plain && text.charCodeAt(text.length - 1) !== 90 /* Z */) {
    plain = twoDigits(text, text.length - 5) <= 23 && twoDigits(text, text.length - 2) <= 59;
  }
  return plain || Number.isFinite(Date.parse(text));
}

class FieldProblem {
  constructor(readonly code: string, readonly reason: string) {}
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

function optionalString(event: JsonObject, field: string): string | undefined {
  const value = event[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim().length === 0) {
    throw new FieldProblem(
      "invalid_field",
      `'${field}' is ${
        typeof value === "string" ? "empty" : kind(value)
      }: expected a non-empty string`,
    );
  }
  return value;
}

function requireField(event: JsonObject, field: string, expected: string): JsonValue {
  const value = event[field];
  if (value === undefined) {
    throw new FieldProblem("missing_field", `'${field}' is missing: expected ${expected}`);
  }
  return value;
}

function checkAttachments(value: JsonValue | undefined): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    throw new FieldProblem("invalid_field", `'attachments' is ${kind(value)}: expected an array`);
  }
  value.forEach((attachment, index) => {
    const field = `attachments[${index}]`;
    if (!isObject(attachment)) {
      throw new FieldProblem(
        "invalid_field",
        `'${field}' is ${kind(attachment)}: expected an object`,
      );
    }
    const url = attachment.url;
    if (typeof url !== "string" || !/^https?:\/\/[^/]/i.test(url)) {
      throw new FieldProblem(
        "invalid_field",
        `'${field}.url' is not an http: or https: URL: expected a publicly reachable URL`,
      );
    }
    if (attachment.filename !== undefined && typeof attachment.filename !== "string") {
      throw new FieldProblem(
        "invalid_field",
        `'${field}.filename' is ${kind(attachment.filename)}: expected a string`,
      );
    }
    if (
      attachment.ignore_if_error !== undefined && typeof attachment.ignore_if_error !== "boolean"
    ) {
      throw new FieldProblem(
        "invalid_field",
        `'${field}.ignore_if_error' is ${kind(attachment.ignore_if_error)}: expected a boolean`,
      );
    }
  });
}

/** Checks one wire event (docs/wire-json.md) and returns its idempotency key. */
function checkEvent(event: JsonObject, keyPolicy: KeyPolicy): string {
  const type = requireField(event, "type", "one of track, identify, alias");
  if (type !== "track" && type !== "identify" && type !== "alias") {
    throw new FieldProblem(
      "invalid_field",
      `'type' is ${
        typeof type === "string" ? JSON.stringify(type.slice(0, 20)) : kind(type)
      }: expected one of track, identify, alias`,
    );
  }
  const name = requireField(event, "event", "a non-empty string");
  if (typeof name !== "string" || name.trim().length === 0) {
    throw new FieldProblem(
      "invalid_field",
      `'event' is ${typeof name === "string" ? "empty" : kind(name)}: expected a non-empty string`,
    );
  }
  const properties = requireField(event, "properties", "an object");
  if (!isObject(properties)) {
    throw new FieldProblem(
      "invalid_field",
      `'properties' is ${kind(properties)}: expected an object`,
    );
  }
  const timestamp = requireField(event, "timestamp", "an ISO 8601 date-time string");
  if (
    typeof timestamp !== "string" || !ISO_TIMESTAMP.test(timestamp) ||
    !isValidTimestamp(timestamp)
  ) {
    throw new FieldProblem(
      "invalid_field",
      `'timestamp' is not an ISO 8601 date-time: expected e.g. "2026-11-25T08:00:00.000Z"`,
    );
  }
  const key = requireField(event, "idempotency_key", `a key of the '${keyPolicy.name}' policy`);
  let validKey: string;
  try {
    validKey = validateIdempotencyKey(key, keyPolicy);
  } catch (error) {
    throw new FieldProblem(
      "invalid_idempotency_key",
      `'idempotency_key': ${(error as Error).message}`,
    );
  }
  const userId = optionalString(event, "user_id");
  const anonymousId = optionalString(event, "anonymous_id");
  if (userId === undefined && anonymousId === undefined) {
    throw new FieldProblem(
      "missing_field",
      "'user_id' and 'anonymous_id' are both missing: expected at least one",
    );
  }
  optionalString(event, "previous_id");
  optionalString(event, "tenant_id");
  optionalString(event, "brand_id");
  if (event.context !== undefined && !isObject(event.context)) {
    throw new FieldProblem(
      "invalid_field",
      `'context' is ${kind(event.context)}: expected an object`,
    );
  }
  checkAttachments(event.attachments);
  return validKey;
}

function decodeRecord(value: JsonValue, keyPolicy: KeyPolicy): DecodedRecord {
  if (!isObject(value)) {
    return {
      event: {},
      rejected: {
        code: "invalid_event",
        reason: `the event is ${kind(value)}: expected an object`,
      },
    };
  }
  try {
    return { key: checkEvent(value, keyPolicy), event: value };
  } catch (error) {
    if (!(error instanceof FieldProblem)) throw error;
    const key = typeof value.idempotency_key === "string" ? value.idempotency_key : undefined;
    return { key, event: value, rejected: { code: error.code, reason: error.reason } };
  }
}

/**
 * The receiver route of idemtrack's own wire format (`docs/wire-json.md`):
 * `POST /v1/events/batch` with `{"events":[…]}`, answered 200 with one result
 * per event so the client resends only what failed.
 *
 * @example Usage
 * ```ts
 * import { createJsonRoute } from "./json_route.ts";
 * import { createReceiver } from "./receiver.ts";
 * import { callbackSink } from "./sink.ts";
 * import assert from "node:assert/strict";
 *
 * const receiver = createReceiver({ routes: [createJsonRoute()], sink: callbackSink(() => {}) });
 * const event = {
 *   type: "track", event: "signup", user_id: "u1", properties: {},
 *   timestamp: "2026-11-25T08:00:00.000Z", idempotency_key: "evt-00000001",
 * };
 * const response = await receiver(new Request("http://localhost/v1/events/batch", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ events: [event, event] }),
 * }));
 * const answer = await response.json();
 * assert.equal(answer.accepted, 1);
 * assert.equal(answer.duplicates, 1);
 * ```
 */
export function createJsonRoute(options: JsonRouteOptions = {}): Route {
  const {
    path = DEFAULT_JSON_ROUTE_OPTIONS.path,
    auth = DEFAULT_JSON_ROUTE_OPTIONS.auth,
    keyPolicy = DEFAULT_JSON_ROUTE_OPTIONS.keyPolicy,
  } = options;
  return {
    name: "json",
    method: "POST",
    path,
    contentTypes: ["application/json"],
    // The credentials are in a header: checked before the body is read.
    authenticate: (request) => auth(request),
    decode(request, body, context): DecodedBatch | Response {
      const tenant = context.tenant ?? auth(request);
      if (tenant instanceof Response) return tenant;
      let requestKey: string | undefined;
      const header = request.headers.get("x-idempotency-key");
      if (header !== null) {
        try {
          requestKey = validateIdempotencyKey(header, keyPolicy);
        } catch (error) {
          return errorResponse(
            400,
            "invalid_idempotency_key",
            `X-Idempotency-Key: ${(error as Error).message}`,
          );
        }
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(decoder.decode(body));
      } catch (error) {
        return errorResponse(
          400,
          "malformed_json",
          `the body is not valid UTF-8 JSON: ${(error as Error).message}`,
        );
      }
      if (!isObject(parsed) || !Array.isArray(parsed.events)) {
        return errorResponse(
          400,
          "invalid_body",
          `the body is ${
            isObject(parsed) ? "an object without an 'events' array" : kind(parsed)
          }: expected {"events":[…]}`,
        );
      }
      const records = parsed.events.map((value) => decodeRecord(value, keyPolicy));
      return { tenant, requestKey, records };
    },
    respond(_batch, results: readonly RecordResult[]): Response {
      let accepted = 0;
      let duplicates = 0;
      for (const result of results) {
        if (result.status === "accepted") accepted++;
        else if (result.status === "duplicate") duplicates++;
      }
      const rejected = results.length - accepted - duplicates;
      return jsonResponse(200, { accepted, duplicates, rejected, results });
    },
  };
}
