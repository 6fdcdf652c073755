/**
 * SuprSend events through the HMAC-signed event API: `/event/` as the
 * official Node SDK (`@suprsend/node-sdk` 1.15.1) posts single and bulk
 * calls, or `/v2/bulk/event/` as the Python SDK does.
 *
 * @module
 */
import { optionChecks } from "../../_util/checks.ts";
import { type Framing, jsonArrayFraming } from "../../kit/chunk.ts";
import { EventValidationError } from "../../errors/event_validation_error.ts";
import { checkEncodedSize, type IdemtrackEvent, type JsonObject } from "../../event.ts";
import { LENIENT_KEY_POLICY } from "../../idempotency_key.ts";
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
  ALL_DELIVERED,
  classifyResponse,
  classifyStatus,
  outcomeOf,
  parseRetryAfter,
  reasonOf,
  type StatusTable,
} from "../../kit/response.ts";
import { encodeBase64 } from "../../_util/base64.ts";
import { md5Hex, sha256Hex } from "../../../wasm/hash.ts";
import { encodeJson, joinBody, parseJsonObject, requireString, trimBaseUrl } from "../_common.ts";
import { nonPublicUrlReason } from "./_public_url.ts";

/** Options of {@linkcode suprsendProfile}. */
export interface SuprsendProfileOptions {
  /** Workspace key: signs requests and is sent as each event's `env`. */
  workspaceKey: string;
  /** Workspace secret: the HMAC key; never sent. */
  workspaceSecret: string;
  /** API origin. @default {"https://hub.suprsend.com"} */
  baseUrl?: string;
  /**
   * `"event"`: `POST /event/` with an array body, any 2xx = all delivered, as
   * the official Node SDK (1.15.1) sends both single and bulk calls (`"legacy"`
   * is the same); `"v2"`: `POST /v2/bulk/event/` with per-record results, as
   * the Python SDK sends bulk calls.
   * @default {"event"}
   */
  variant?: "event" | "v2" | "legacy";
  /** Client-side send-rate limit (none is documented). @default {undefined} */
  rateLimit?: RateLimit;
}

/** Defaults of {@linkcode SuprsendProfileOptions}. */
export const DEFAULT_SUPRSEND_PROFILE_OPTIONS: Readonly<
  { baseUrl: string; variant: "event" | "v2" | "legacy" }
> = Object.freeze({
  baseUrl: "https://hub.suprsend.com",
  variant: "event" as "event" | "v2" | "legacy",
});

/**
 * SuprSend limits: 100 events and 800 KB per call (the SDKs'
 * `MAX_EVENTS_IN_BULK_API` and `BODY_MAX_APPARENT_SIZE_IN_BYTES`), 100 KB per
 * event (the seed: "event API size can't be > 100 KB").
 */
export const SUPRSEND_LIMITS: ProfileLimits = Object.freeze({
  maxBatchBytes: 800 * 1024,
  maxBatchEvents: 100,
  maxItemsPerGroup: 100,
  maxEventBytes: 100 * 1024,
});

/** The bulk body is a plain JSON array. */
export const SUPRSEND_FRAMING: Framing = jsonArrayFraming("[", "]");

/** The content type the SDKs send and sign. */
export const SUPRSEND_CONTENT_TYPE = "application/json; charset=utf-8";

/**
 * SuprSend needs nothing beyond plain HTTP semantics (401 = bad signature);
 * it documents no 409, so one is a plain client error.
 */
export const SUPRSEND_STATUS_TABLE: StatusTable = Object.freeze({ 409: "failed" });

/** A v4-shaped UUID derived from a key, so an event's `$insert_id` never changes. */
function insertIdOf(key: string): string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(key)) {
    return key.toLowerCase();
  }
  const hex = sha256Hex(key);
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${
    hex.slice(17, 20)
  }-${hex.slice(20, 32)}`;
}

/**
 * The string SuprSend signs:
 * `VERB\nmd5hex(body)\ncontent-type\nDate\nRequestURI`.
 */
export function suprsendStringToSign(
  method: string,
  body: Uint8Array,
  contentType: string,
  date: string,
  requestUri: string,
): string {
  return `${method}\n${
    body.byteLength === 0 ? "" : md5Hex(body)
  }\n${contentType}\n${date}\n${requestUri}`;
}

/** Imports a workspace secret as an HMAC-SHA256 key. */
export function importSuprsendKey(workspaceSecret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(workspaceSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/** `base64(HMAC-SHA256(secret, stringToSign))`. */
export async function signSuprsend(key: CryptoKey, stringToSign: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(stringToSign));
  return encodeBase64(new Uint8Array(mac));
}

/**
 * A profile for SuprSend's signed event API.
 *
 * Each event carries its own `$idempotency_key` (SuprSend skips a repeat for
 * 24 h) and a `$insert_id` derived from that key, both fixed at `encode()`
 * time, so any resend, in any batch, is harmless. Requests are signed with
 * HMAC-SHA256 over the exact body and a `Date` taken from `now`.
 *
 * @example Usage
 * ```ts
 * import { suprsendProfile } from "./profile.ts";
 * import { createEvent } from "../../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = suprsendProfile({
 *   workspaceKey: "ws_key_0123456789abcdef",
 *   workspaceSecret: "ws_secret",
 * });
 * const event = createEvent({ name: "product_purchased", userId: "u1" });
 * const encoded = profile.encode(event);
 * const request = await profile.buildRequest({
 *   id: "batch-0001",
 *   stream: "",
 *   records: [{ id: "1", key: event.idempotencyKey, queuedAt: 0, ...encoded }],
 *   attempt: 0,
 * }, Date.UTC(2026, 10, 25, 8));
 * assert.equal(request.url, "https://hub.suprsend.com/event/");
 * assert.equal(request.headers.Date, "Wed, 25 Nov 2026 08:00:00 GMT");
 * assert.match(request.headers.Authorization!, /^ws_key_0123456789abcdef:[A-Za-z0-9+/]{43}=$/);
 * ```
 */
export function suprsendProfile(options: SuprsendProfileOptions): Profile<EncodedBytes> {
  const {
    workspaceKey,
    workspaceSecret,
    baseUrl = DEFAULT_SUPRSEND_PROFILE_OPTIONS.baseUrl,
    variant = DEFAULT_SUPRSEND_PROFILE_OPTIONS.variant,
    rateLimit,
  } = options;
  requireString("SuprSend", "workspaceKey", workspaceKey, true);
  requireString("SuprSend", "workspaceSecret", workspaceSecret, true);
  optionChecks("create SuprSend profile").oneOf("variant", variant, ["event", "v2", "legacy"]);
  const perRecord = variant === "v2";
  const url = `${trimBaseUrl("SuprSend", baseUrl)}${perRecord ? "/v2/bulk/event/" : "/event/"}`;
  const requestUri = new URL(url).pathname + new URL(url).search;
  let hmacKey: Promise<CryptoKey> | undefined;
  const sign = async (text: string): Promise<string> =>
    signSuprsend(await (hmacKey ??= importSuprsendKey(workspaceSecret)), text);

  return {
    name: "suprsend",
    limits: SUPRSEND_LIMITS,
    framing: SUPRSEND_FRAMING,
    keyPolicy: LENIENT_KEY_POLICY,
    ...(rateLimit === undefined ? {} : { rateLimit }),

    encode(event: IdemtrackEvent) {
      if (event.userId === undefined) {
        throw new EventValidationError(
          "userId",
          "required",
          "is missing",
          "a userId (SuprSend's distinct_id: notifications go to known users)",
        );
      }
      if (event.name.length < 2) {
        throw new EventValidationError(
          "name",
          "minLength",
          `has ${event.name.length} character`,
          "at least 2 characters",
        );
      }
      const properties: JsonObject = { ...event.properties };
      if (event.attachments !== undefined) {
        event.attachments.forEach((attachment, index) => {
          if (attachment.ignoreIfError === true) return;
          const reason = nonPublicUrlReason(attachment.url);
          if (reason !== undefined) {
            // SuprSend would fail the event (404, no workflow): refuse it before it is queued.
            throw new EventValidationError(
              `attachments[${index}].url`,
              "public",
              reason,
              "a publicly accessible http(s) URL",
            );
          }
        });
        properties.$attachments = event.attachments.map((attachment) => ({
          filename: attachment.filename ?? null,
          contentType: null,
          data: null,
          url: attachment.url,
          ignore_if_error: attachment.ignoreIfError ?? false,
        }));
      }
      const item: JsonObject = {
        event: event.name,
        distinct_id: event.userId,
        properties,
        env: workspaceKey,
        $insert_id: insertIdOf(event.idempotencyKey),
        $time: event.timestamp,
        $idempotency_key: event.idempotencyKey,
      };
      if (event.tenantId !== undefined) item.tenant_id = event.tenantId;
      if (event.brandId !== undefined) item.brand_id = event.brandId;
      const data = encodeJson(item);
      checkEncodedSize(data, SUPRSEND_LIMITS.maxEventBytes);
      return { data, group: "events", stream: "" };
    },

    async buildRequest(batch: OutgoingBatch, now: number): Promise<PreparedRequest> {
      const body = joinBody("[", batch, "]");
      const date = new Date(now).toUTCString();
      const signature = await sign(
        suprsendStringToSign("POST", body, SUPRSEND_CONTENT_TYPE, date, requestUri),
      );
      return {
        method: "POST",
        url,
        headers: {
          "Content-Type": SUPRSEND_CONTENT_TYPE,
          Date: date,
          Authorization: `${workspaceKey}:${signature}`,
        },
        body,
      };
    },

    readResponse(response: TransportResponse, batch: OutgoingBatch): BatchOutcome {
      const json = parseJsonObject(response.body);
      const error = json?.error;
      const message = typeof error === "object" && error !== null && !Array.isArray(error)
        ? error.message
        : undefined;
      const ok = response.status >= 200 && response.status < 300;
      if (!ok || !perRecord || !Array.isArray(json?.records)) {
        return classifyResponse(response, Date.now(), {
          table: SUPRSEND_STATUS_TABLE,
          reason: reasonOf(message, response.status, response.body),
        }) ?? ALL_DELIVERED;
      }
      const records = json.records;
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
      const outcomes = batch.records.map((_, index): RecordOutcome => {
        const record = records[index];
        if (typeof record !== "object" || record === null || Array.isArray(record)) {
          // Not reported: safe to resend, the event's $idempotency_key dedupes it.
          return { status: "retry", reason: "no result for this record", code: "missing_record" };
        }
        if (record.status === "success") return { status: "delivered" };
        const code = typeof record.status_code === "number" ? record.status_code : 500;
        const recordError = record.error;
        const reason = typeof recordError === "object" && recordError !== null &&
            !Array.isArray(recordError) && typeof recordError.message === "string"
          ? recordError.message
          : `record status ${code}`;
        const verdict = classifyStatus(code, SUPRSEND_STATUS_TABLE);
        // A single record cannot be split further: a 413 on it is final.
        // (The table settles 409, so no record is left a body-read "conflict".)
        return outcomeOf(
          verdict === "split" || verdict === "conflict" ? "failed" : verdict,
          reason,
          code,
          retryAfterMs,
        );
      });
      return { kind: "each", outcomes };
    },
  };
}

export {
  type SuprsendBulkResponse,
  type SuprsendFailedRecord,
  toSuprsendBulkResponse,
} from "./_bulk_response.ts";

// Types that the exports above name in their signatures.
export type * from "../_profile_types.ts";
export type { StatusTable, StatusVerdict } from "../../kit/response.ts";
