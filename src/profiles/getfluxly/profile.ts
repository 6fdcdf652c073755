/**
 * GetFluxly's ingest API: `POST /v1/events/batch` and `POST /v1/identify/alias`,
 * both with `X-Idempotency-Key`.
 *
 * @module
 */
import { JSON_ARRAY_FRAMING } from "../../kit/chunk.ts";
import { EventValidationError } from "../../errors/event_validation_error.ts";
import { checkEncodedSize, type IdemtrackEvent, type JsonObject } from "../../event.ts";
import { STRICT_KEY_POLICY, validateIdempotencyKey } from "../../idempotency_key.ts";
import type {
  BatchOutcome,
  EncodedBytes,
  OutgoingBatch,
  PreparedRequest,
  Profile,
  ProfileLimits,
  RecordOutcome,
} from "../../ports/profile.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import type { TransportResponse } from "../../ports/transport.ts";
import {
  classifyResponse,
  outcomeOf,
  parseRetryAfter,
  reasonOf,
  type StatusTable,
} from "../../kit/response.ts";
import {
  contextString,
  encodeJson,
  joinBody,
  parseJsonObject,
  requireString,
  trimBaseUrl,
} from "../_common.ts";

/** Options of {@linkcode getfluxlyProfile}. */
export interface GetfluxlyProfileOptions {
  /** API key: `gflux_secret_*` (server; required for alias) or `gflux_pub_*`. */
  token: string;
  /** API origin. @default {"https://api.getfluxly.com"} */
  baseUrl?: string;
  /** Client-side send-rate limit (GetFluxly's tiers count events, not requests). @default {undefined} */
  rateLimit?: RateLimit;
}

/** Defaults of {@linkcode GetfluxlyProfileOptions}. */
export const DEFAULT_GETFLUXLY_PROFILE_OPTIONS: Readonly<{ baseUrl: string }> = Object.freeze({
  baseUrl: "https://api.getfluxly.com",
});

/**
 * Batch limits: 100 events and 256 KB per request; 32 KB per event (the
 * single-event endpoint's cap, applied to batch members too).
 */
export const GETFLUXLY_LIMITS: ProfileLimits = Object.freeze({
  maxBatchBytes: 256 * 1024,
  maxBatchEvents: 100,
  maxItemsPerGroup: 100,
  maxEventBytes: 32 * 1024,
});

/** GetFluxly's error table is plain HTTP semantics; its 409 (`alias_conflict`) is final. */
export const GETFLUXLY_STATUS_TABLE: StatusTable = Object.freeze({ 409: "failed" });

/** Per-event error codes that a resend can cure. */
export const GETFLUXLY_RETRYABLE_CODES: ReadonlySet<string> = new Set([
  "timeout",
  "too_early",
  "rate_limited",
  "server_error",
]);

/** Streams of alias events start with this: each alias is its own request. */
export const GETFLUXLY_ALIAS_STREAM_PREFIX = "alias:";

const EVENT_NAME = /^[a-z][a-z0-9_]*$/;
const MAX_EVENT_NAME = 64;
const MAX_PROPERTIES = 32;

function invalid(field: string, rule: string, problem: string, allowed: string): never {
  throw new EventValidationError(field, rule, problem, allowed);
}

/**
 * A profile for GetFluxly.
 *
 * `track` and `identify` (`$identify` with `traits`) go to `/v1/events/batch`
 * under the batch id as `X-Idempotency-Key`, which the client keeps across
 * retries and restarts, so a replay gets the original answer instead of a
 * double count (the Ruby SDK makes a new key per attempt). `external_id` is
 * taken from `context.externalId`.
 *
 * `alias` goes to `/v1/identify/alias`, one request per alias: each alias
 * event is its own stream (`alias:<event key>`), so it never shares a batch
 * and its request key is stable. Alias needs a secret key; with a
 * publishable one, `encode()` refuses it rather than queue a certain 403.
 *
 * @example Usage
 * ```ts
 * import { getfluxlyProfile } from "./profile.ts";
 * import { createEvent } from "../../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = getfluxlyProfile({ token: "gflux_secret_abc" });
 * const event = createEvent({ name: "order_paid", userId: "u1" });
 * const encoded = profile.encode(event);
 * const request = await profile.buildRequest({
 *   id: "f650f058-192c-4e52-b72d-9634116f59eb",
 *   stream: encoded.stream,
 *   records: [{ id: "1", key: event.idempotencyKey, queuedAt: 0, ...encoded }],
 *   attempt: 0,
 * }, Date.now());
 * assert.equal(request.url, "https://api.getfluxly.com/v1/events/batch");
 * assert.equal(request.headers["X-Idempotency-Key"], "f650f058-192c-4e52-b72d-9634116f59eb");
 * ```
 */
export function getfluxlyProfile(options: GetfluxlyProfileOptions): Profile<EncodedBytes> {
  const { token, baseUrl = DEFAULT_GETFLUXLY_PROFILE_OPTIONS.baseUrl, rateLimit } = options;
  requireString("GetFluxly", "token", token, true);
  const origin = trimBaseUrl("GetFluxly", baseUrl);
  const publishable = token.startsWith("gflux_pub_");

  function encodeAlias(event: IdemtrackEvent): JsonObject {
    if (publishable) {
      invalid(
        "type",
        "unsupported",
        "is 'alias' but the token is a publishable key",
        "alias only with a secret key (gflux_secret_*)",
      );
    }
    if (event.userId === undefined) {
      invalid("userId", "required", "is missing", "a userId to merge into");
    }
    const body: JsonObject = { user_id: event.userId };
    if (event.anonymousId !== undefined) body.anonymous_id = event.anonymousId;
    if (event.previousId !== undefined) body.previous_id = event.previousId;
    const requestId = contextString(event.context, "requestId");
    if (requestId !== undefined) body.request_id = requestId;
    return body;
  }

  function encodeEvent(event: IdemtrackEvent): JsonObject {
    const identify = event.type === "identify";
    const name = identify ? "$identify" : event.name;
    if (!identify && (name.length > MAX_EVENT_NAME || !EVENT_NAME.test(name))) {
      invalid(
        "name",
        "pattern",
        `is ${JSON.stringify(name.slice(0, MAX_EVENT_NAME))}${
          name.length > MAX_EVENT_NAME ? "…" : ""
        }`,
        `snake_case names of at most ${MAX_EVENT_NAME} characters`,
      );
    }
    const keys = Object.keys(event.properties).length;
    if (keys > MAX_PROPERTIES) {
      invalid(
        "properties",
        "maxKeys",
        `has ${keys} keys`,
        `at most ${MAX_PROPERTIES} keys per GetFluxly event`,
      );
    }
    const externalId = contextString(event.context, "externalId");
    const item: JsonObject = { event: name };
    if (event.anonymousId !== undefined) item.anonymous_id = event.anonymousId;
    if (externalId !== undefined) item.external_id = externalId;
    if (event.userId !== undefined) item.user_id = event.userId;
    if (keys > 0) item[identify ? "traits" : "properties"] = event.properties;
    item.timestamp = new Date(event.timestamp).toISOString();
    if (event.context !== undefined) {
      const { externalId: _, ...context } = event.context;
      if (Object.keys(context).length > 0) item.context = context;
    }
    return item;
  }

  return {
    name: "getfluxly",
    limits: GETFLUXLY_LIMITS,
    framing: JSON_ARRAY_FRAMING,
    keyPolicy: STRICT_KEY_POLICY,
    ...(rateLimit === undefined ? {} : { rateLimit }),

    encode(event: IdemtrackEvent) {
      const alias = event.type === "alias";
      const data = encodeJson(alias ? encodeAlias(event) : encodeEvent(event));
      checkEncodedSize(data, GETFLUXLY_LIMITS.maxEventBytes);
      return alias
        ? {
          data,
          group: "alias",
          stream: `${GETFLUXLY_ALIAS_STREAM_PREFIX}${event.idempotencyKey}`,
        }
        : { data, group: "events", stream: "" };
    },

    buildRequest(batch: OutgoingBatch): PreparedRequest {
      const headers = {
        "Content-Type": "application/json",
        Authorization: `Bearer ${token}`,
        "X-Idempotency-Key": validateIdempotencyKey(batch.id, STRICT_KEY_POLICY),
      };
      if (batch.stream.startsWith(GETFLUXLY_ALIAS_STREAM_PREFIX)) {
        const [record, extra] = batch.records;
        if (record === undefined || extra !== undefined) {
          throw new RangeError(
            `Cannot build GetFluxly alias request as an alias batch must hold exactly 1 record: current value is ${batch.records.length}`,
          );
        }
        return { method: "POST", url: `${origin}/v1/identify/alias`, headers, body: record.data };
      }
      return {
        method: "POST",
        url: `${origin}/v1/events/batch`,
        headers,
        body: joinBody('{"events":[', batch, "]}"),
      };
    },

    readResponse(response: TransportResponse, batch: OutgoingBatch): BatchOutcome {
      const json = parseJsonObject(response.body);
      const now = Date.now();
      const byStatus = classifyResponse(response, now, {
        table: GETFLUXLY_STATUS_TABLE,
        reason: reasonOf(json?.detail ?? json?.error, response.status, response.body),
        code: typeof json?.error === "string" ? json.error : response.status,
      });
      if (byStatus !== undefined) return byStatus;
      if (batch.stream.startsWith(GETFLUXLY_ALIAS_STREAM_PREFIX)) {
        const alias = json?.alias;
        const valid = typeof alias === "object" && alias !== null && !Array.isArray(alias) &&
          Object.keys(alias).length > 0;
        return {
          kind: "all",
          outcome: valid ? { status: "delivered" } : {
            status: "retry",
            reason: "alias response did not include alias data",
            code: "invalid_response",
          },
        };
      }
      const outcomes: RecordOutcome[] = batch.records.map(() => ({ status: "delivered" }));
      const errors = Array.isArray(json?.errors) ? json.errors : [];
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), now);
      for (const error of errors) {
        if (typeof error !== "object" || error === null || Array.isArray(error)) continue;
        const { index, error: code, detail } = error;
        if (typeof index !== "number" || !Number.isInteger(index) || !(index in outcomes)) continue;
        const errorCode = typeof code === "string" ? code : "rejected";
        const reason = typeof detail === "string" && detail !== "" ? detail : errorCode;
        const verdict = GETFLUXLY_RETRYABLE_CODES.has(errorCode) ? "retry" : "failed";
        outcomes[index] = outcomeOf(verdict, reason, errorCode, retryAfterMs);
      }
      return { kind: "each", outcomes };
    },
  };
}
