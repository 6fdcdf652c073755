/**
 * Skalin's bulk collector: `POST /hit/bulk?rec=1&client_id=…` with
 * `{"identities":[…],"features":[…]}`.
 *
 * @module
 */
import type { Framing } from "../../kit/chunk.ts";
import { EventValidationError } from "../../errors/event_validation_error.ts";
import { checkEncodedSize, type IdemtrackEvent, type JsonObject } from "../../event.ts";
import { LENIENT_KEY_POLICY } from "../../idempotency_key.ts";
import type {
  EncodedBytes,
  OutgoingBatch,
  PreparedRequest,
  Profile,
  ProfileLimits,
} from "../../ports/profile.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import type { TransportResponse } from "../../ports/transport.ts";
import { ALL_DELIVERED, classifyResponse, reasonOf, type StatusTable } from "../../kit/response.ts";
import { sha256Hex } from "../../../wasm/hash.ts";
import { contextString, encodeJson, requireString, trimBaseUrl } from "../_common.ts";

/** Options of {@linkcode skalinProfile}. */
export interface SkalinProfileOptions {
  /** Your Skalin client id (Settings > General): the only credential. */
  clientId: string;
  /** Collector origin. @default {"https://collect.skalin.io"} */
  baseUrl?: string;
  /**
   * Send-rate limit; `false` turns it off.
   * @default {SKALIN_RATE_LIMIT}
   */
  rateLimit?: RateLimit | false;
  /** Largest request body in bytes (no documented cap). @default {512000} */
  maxBatchBytes?: number;
}

/** Skalin's documented per-IP limit: 100 requests/s, bursts of 500. */
export const SKALIN_RATE_LIMIT: RateLimit = Object.freeze({ requestsPerSecond: 100, burst: 500 });

/** Defaults of {@linkcode SkalinProfileOptions}. */
export const DEFAULT_SKALIN_PROFILE_OPTIONS: Readonly<{
  baseUrl: string;
  rateLimit: RateLimit;
  maxBatchBytes: number;
}> = Object.freeze({
  baseUrl: "https://collect.skalin.io",
  rateLimit: SKALIN_RATE_LIMIT,
  maxBatchBytes: 512_000,
});

/** Groups of the bulk body, in body order. */
export const SKALIN_GROUPS: readonly ["identities", "features"] = Object.freeze(
  ["identities", "features"] as const,
);

/** At most 100 elements per array. */
export const SKALIN_MAX_ITEMS_PER_GROUP = 100;

/**
 * Exact framing of `{"identities":[…],"features":[…]}`: both arrays are
 * always present, so an empty body is 31 bytes and an item adds a comma
 * unless it is the first of its array.
 */
export const SKALIN_FRAMING: Framing = Object.freeze({
  emptyBytes: '{"identities":[],"features":[]}'.length,
  itemBytes: (size: number, firstInGroup: boolean) => firstInGroup ? size : size + 1,
});

/**
 * Only HTTP 200 counts as accepted; another 2xx is resent (safe: `eventId`
 * dedupes). Skalin documents no 409: it is a plain client error.
 */
export const SKALIN_STATUS_TABLE: StatusTable = Object.freeze({
  200: "delivered",
  "2xx": "retry",
  409: "failed",
});

const ID_16 = /^[A-Za-z0-9]{16}$/;

/** `YYYY-MM-DDTHH:mm:ss` in UTC. */
export function skalinTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19);
}

/** 16 lowercase hex characters of the SHA-256 of a text. */
export function skalinId(text: string): string {
  return sha256Hex(text).slice(0, 16);
}

/**
 * A profile for Skalin's bulk collector.
 *
 * `identify` events become `identities`, `track` events `features` (named by
 * the event name; properties are not sent: Skalin has no field for them).
 * The `identity` is `{email, id}`: `id` is the userId, `email` comes from
 * `context.email` (or an `email` property). `eventId`, Skalin's
 * de-duplication id, is the event's idempotency key as given when it is 16
 * letters or digits (what Skalin takes), else the first 16 hex characters of
 * its SHA-256; either way a resend carries the same `eventId` and replaces
 * rather than duplicates (Skalin keeps the last copy). `visitId` is
 * `context.visitId` (16 letters or digits), else derived from
 * `context.sessionId`, else left out: Skalin then gives all the events of
 * the request one generated visit. `customerId`, `localtime`, `url` and
 * `cip` come from the context. Requests carry `Cache-Control: no-cache`, as
 * Skalin's example does. Skalin's 100 requests/s (burst 500) limit is on by
 * default.
 *
 * @example Usage
 * ```ts
 * import { skalinProfile } from "./profile.ts";
 * import { createEvent } from "../../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = skalinProfile({ clientId: "2bb91c92dr779103" });
 * const event = createEvent({ name: "feat1", userId: "u1", context: { email: "dds@sdsd.com" } });
 * const encoded = profile.encode(event);
 * assert.equal(encoded.group, "features");
 * const request = await profile.buildRequest({
 *   id: "batch-0001",
 *   stream: "",
 *   records: [{ id: "1", key: event.idempotencyKey, queuedAt: 0, ...encoded }],
 *   attempt: 0,
 * }, Date.now());
 * assert.equal(request.url, "https://collect.skalin.io/hit/bulk?rec=1&client_id=2bb91c92dr779103");
 * ```
 */
export function skalinProfile(options: SkalinProfileOptions): Profile<EncodedBytes> {
  const {
    clientId,
    baseUrl = DEFAULT_SKALIN_PROFILE_OPTIONS.baseUrl,
    rateLimit = DEFAULT_SKALIN_PROFILE_OPTIONS.rateLimit,
    maxBatchBytes = DEFAULT_SKALIN_PROFILE_OPTIONS.maxBatchBytes,
  } = options;
  requireString("Skalin", "clientId", clientId);
  if (!Number.isInteger(maxBatchBytes) || maxBatchBytes <= SKALIN_FRAMING.emptyBytes) {
    throw new RangeError(
      `Cannot create Skalin profile as 'maxBatchBytes' must be an integer above ${SKALIN_FRAMING.emptyBytes}: current value is ${maxBatchBytes}`,
    );
  }
  const url = `${trimBaseUrl("Skalin", baseUrl)}/hit/bulk?rec=1&client_id=${
    encodeURIComponent(clientId)
  }`;
  const limits: ProfileLimits = Object.freeze({
    maxBatchBytes,
    maxBatchEvents: SKALIN_MAX_ITEMS_PER_GROUP * SKALIN_GROUPS.length,
    maxItemsPerGroup: SKALIN_MAX_ITEMS_PER_GROUP,
    maxEventBytes: Math.min(100 * 1024, maxBatchBytes - SKALIN_FRAMING.emptyBytes),
  });

  return {
    name: "skalin",
    limits,
    framing: SKALIN_FRAMING,
    keyPolicy: LENIENT_KEY_POLICY,
    ...(rateLimit === false ? {} : { rateLimit }),

    encode(event: IdemtrackEvent) {
      if (event.type === "alias") {
        throw new EventValidationError(
          "type",
          "unsupported",
          "is 'alias'",
          "'track' (features) or 'identify' (identities) events for Skalin",
        );
      }
      const context = event.context;
      const email = contextString(context, "email") ??
        (typeof event.properties.email === "string" ? event.properties.email : undefined);
      const identity: JsonObject = {};
      if (email !== undefined) identity.email = email;
      if (event.userId !== undefined) identity.id = event.userId;
      if (email === undefined && event.userId === undefined) {
        throw new EventValidationError(
          "userId",
          "required",
          "is missing and no context.email is given",
          "a userId and/or context.email (Skalin's identity)",
        );
      }
      const givenVisit = contextString(context, "visitId");
      if (givenVisit !== undefined && !ID_16.test(givenVisit)) {
        throw new EventValidationError(
          "context.visitId",
          "pattern",
          `has ${givenVisit.length} characters`,
          "exactly 16 letters or digits",
        );
      }
      const session = contextString(context, "sessionId");
      const visitId = givenVisit ??
        (session === undefined ? undefined : skalinId(`session|${session}`));
      const group = event.type === "identify" ? "identities" : "features";
      const key = event.idempotencyKey;
      const item: JsonObject = { eventId: ID_16.test(key) ? key : skalinId(key) };
      if (group === "features") item.name = event.name;
      item.identity = identity;
      const customerId = contextString(context, "customerId");
      if (customerId !== undefined) item.customerId = customerId;
      if (visitId !== undefined) item.visitId = visitId;
      item.ts = skalinTimestamp(event.timestamp);
      for (const field of ["localtime", "url", "cip"]) {
        const value = contextString(context, field);
        if (value !== undefined) item[field] = value;
      }
      const data = encodeJson(item);
      checkEncodedSize(data, limits.maxEventBytes);
      return { data, group, stream: "" };
    },

    buildRequest(batch: OutgoingBatch): PreparedRequest {
      const stray = batch.records.find((record) => !SKALIN_GROUPS.some((g) => g === record.group));
      if (stray !== undefined) {
        throw new TypeError(
          `Cannot build Skalin request as record group must be "identities" or "features": current value is ${
            JSON.stringify(stray.group)
          }`,
        );
      }
      const parts: Uint8Array[] = [];
      const encoder = new TextEncoder();
      SKALIN_GROUPS.forEach((group, index) => {
        parts.push(encoder.encode(index === 0 ? `{"${group}":[` : `],"${group}":[`));
        let first = true;
        for (const record of batch.records) {
          if (record.group !== group) continue;
          if (!first) parts.push(encoder.encode(","));
          parts.push(record.data);
          first = false;
        }
      });
      parts.push(encoder.encode("]}"));
      const body = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
      let offset = 0;
      for (const part of parts) {
        body.set(part, offset);
        offset += part.byteLength;
      }
      return {
        method: "POST",
        url,
        headers: { "Cache-Control": "no-cache", "Content-Type": "application/json" },
        body,
      };
    },

    readResponse(response: TransportResponse) {
      return classifyResponse(response, Date.now(), {
        table: SKALIN_STATUS_TABLE,
        reason: reasonOf(undefined, response.status, response.body),
      }) ?? ALL_DELIVERED;
    },
  };
}

// Types that the exports above name in their signatures.
export type * from "../_profile_types.ts";
export type { StatusTable, StatusVerdict } from "../../kit/response.ts";
