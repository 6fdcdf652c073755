/**
 * SaaSquatch user events over REST:
 * `POST /api/v1/{tenant_alias}/open/account/{accountId}/user/{userId}/events`.
 *
 * @module
 */
import { optionChecks } from "../../_util/checks.ts";
import type { Framing } from "../../kit/chunk.ts";
import { EventValidationError } from "../../errors/event_validation_error.ts";
import {
  checkEncodedSize,
  checkMaxLength,
  type IdemtrackEvent,
  type JsonObject,
  type JsonValue,
} from "../../event.ts";
import {
  isValidIdempotencyKey,
  LENIENT_KEY_POLICY,
  STRICT_KEY_POLICY,
  validateIdempotencyKey,
} from "../../idempotency_key.ts";
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
import { encodeBase64 } from "../../_util/base64.ts";
import { utf8ByteLength } from "../../_util/utf8.ts";
import {
  contextString,
  encodeJson,
  joinBody,
  parseJsonObject,
  requireString,
  trimBaseUrl,
} from "../_common.ts";

const { oneOf, positiveInteger } = optionChecks("create SaaSquatch profile");

/** Options of {@linkcode saasquatchProfile}. Give exactly one of `apiKey` and `jwt`. */
export interface SaasquatchProfileOptions {
  /** Your tenant alias (test tenants start with `test_`). */
  tenantAlias: string;
  /** Tenant API key, sent as `Authorization: Basic base64(":" + apiKey)`. @default {undefined} */
  apiKey?: string;
  /** A user JWT, for calls made on a user's behalf. @default {undefined} */
  jwt?: string;
  /**
   * How the JWT travels: `X-SaaSquatch-User-Token` (the API spec, squatch-js)
   * or `Authorization: Bearer` (the Java SDK).
   * @default {"x-saasquatch-user-token"}
   */
  jwtHeader?: "x-saasquatch-user-token" | "bearer";
  /** API origin. @default {"https://app.referralsaasquatch.com"} */
  baseUrl?: string;
  /**
   * Which key a call carries as its `idempotencyKey` (SaaSquatch's key
   * belongs to the logged call and covers its events):
   * - `"event"`: each event is its own call, keyed by the event's
   *   idempotency key (the caller's, or a generated UUID), so the same
   *   tracked event is logged once however often and from wherever it is
   *   sent (a repeat gets 409, counted delivered);
   * - `"batch"`: up to `maxBatchEvents` events of a user per call, keyed by
   *   the batch id, which covers only resends of that batch.
   * @default {"event"}
   */
  callKey?: "event" | "batch";
  /**
   * A caller's key that SaaSquatch would refuse (not 8–64 of
   * `A-Z a-z 0-9 . _ -`): `"refuse"` it at `track()` (EventValidationError),
   * or `"ignore"` it and log the call without idempotency, as SaaSquatch's
   * Segment integration does with such `messageId`s. With `"ignore"` the key
   * still de-duplicates on this side (queue, storage).
   * @default {"refuse"}
   */
  invalidKeys?: "refuse" | "ignore";
  /** Most events per request with `callKey: "batch"` (no documented cap). @default {100} */
  maxBatchEvents?: number;
  /** Largest request body in bytes (no documented cap). @default {512000} */
  maxBatchBytes?: number;
  /** Client-side send-rate limit (API-key requests are not rate limited). @default {undefined} */
  rateLimit?: RateLimit;
}

/** Defaults of {@linkcode SaasquatchProfileOptions}. */
export const DEFAULT_SAASQUATCH_PROFILE_OPTIONS: Readonly<{
  baseUrl: string;
  jwtHeader: "x-saasquatch-user-token";
  callKey: "event" | "batch";
  invalidKeys: "refuse" | "ignore";
  maxBatchEvents: number;
  maxBatchBytes: number;
}> = Object.freeze({
  baseUrl: "https://app.referralsaasquatch.com",
  jwtHeader: "x-saasquatch-user-token" as const,
  callKey: "event" as "event" | "batch",
  invalidKeys: "refuse" as "refuse" | "ignore",
  maxBatchEvents: 100,
  maxBatchBytes: 512_000,
});

/** SaaSquatch does not support longer strings in event fields. */
export const SAASQUATCH_MAX_FIELD_BYTES = 1500;
/** Longest userId / accountId the profile accepts, in characters. */
export const SAASQUATCH_MAX_ID_LENGTH = 255;

const ENVELOPE_EMPTY = '{"userId":"","accountId":"","idempotencyKey":"","events":[]}';
// Ids are at most 255 characters, each at most 6 bytes once JSON-escaped
// (`\u001f`); the request key at most 64 (a key longer or otherwise invalid
// is left out): so this bounds every envelope.
const ENVELOPE_MAX_BYTES = ENVELOPE_EMPTY.length + 2 * SAASQUATCH_MAX_ID_LENGTH * 6 +
  STRICT_KEY_POLICY.maxLength;

/**
 * Body framing: `emptyBytes` is an upper bound of the envelope (which holds
 * the user's ids and the request key), so chunks never exceed the byte cap.
 */
export const SAASQUATCH_FRAMING: Framing = Object.freeze({
  emptyBytes: ENVELOPE_MAX_BYTES,
  itemBytes: (size: number, firstInGroup: boolean) => firstInGroup ? size : size + 1,
});

/** SaaSquatch's answers beyond plain HTTP semantics: a repeated key is a success. */
export const SAASQUATCH_STATUS_TABLE: StatusTable = Object.freeze({ 409: "duplicate" });

function checkFields(field: string, value: JsonValue, insideArray: boolean): void {
  if (typeof value === "string") {
    const bytes = utf8ByteLength(value);
    if (bytes > SAASQUATCH_MAX_FIELD_BYTES) {
      throw new EventValidationError(
        field,
        "maxBytes",
        `is a string of ${bytes} UTF-8 bytes`,
        `strings of at most ${SAASQUATCH_MAX_FIELD_BYTES} UTF-8 bytes in SaaSquatch event fields`,
      );
    }
  } else if (Array.isArray(value)) {
    if (insideArray) {
      throw new EventValidationError(
        field,
        "type",
        "is an array inside an array",
        "no arrays of arrays in SaaSquatch event fields",
      );
    }
    value.forEach((item, index) => checkFields(`${field}[${index}]`, item, true));
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) checkFields(`${field}.${key}`, item, false);
  }
}

function streamOf(accountId: string, userId: string): string {
  return `${encodeURIComponent(accountId)}/${encodeURIComponent(userId)}`;
}

function idsOf(stream: string): { accountId: string; userId: string } {
  const [account, user, extra] = stream.split("/");
  if (account === undefined || user === undefined || extra !== undefined) {
    throw new TypeError(
      `Cannot build SaaSquatch request as 'stream' must be "<accountId>/<userId>": current value is ${
        JSON.stringify(stream)
      }`,
    );
  }
  return { accountId: decodeURIComponent(account), userId: decodeURIComponent(user) };
}

/**
 * A profile for SaaSquatch user events.
 *
 * Every request carries one user's events (the stream is accountId + userId)
 * and one `idempotencyKey`. By default (`callKey: "event"`) a request is one
 * event and its key is the event's idempotency key: the caller's key
 * becomes the logged call's key, so the same tracked event sent twice (a
 * retry, a restart, another process) is answered 409 and counted delivered.
 * With `callKey: "batch"` a request holds up to `maxBatchEvents` events
 * under the batch id, which the client keeps across retries and restarts.
 * The account is `event.context.accountId`, or the userId when absent (the
 * usual B2C setup, where each user is their own account).
 *
 * Only `track` events are accepted; strings over 1500 UTF-8 bytes and arrays
 * of arrays in `properties` are refused by `encode()` with an
 * `EventValidationError`.
 *
 * @example Usage
 * ```ts
 * import { saasquatchProfile } from "./profile.ts";
 * import { createEvent } from "../../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = saasquatchProfile({ tenantAlias: "test_abc", apiKey: "TEST_KEY" });
 * const event = createEvent({ name: "purchase", userId: "u1", properties: { revenue: 10 } });
 * const encoded = profile.encode(event);
 * assert.equal(encoded.stream, "u1/u1");
 * const request = await profile.buildRequest({
 *   id: "batch-0001",
 *   stream: encoded.stream,
 *   records: [{ id: "1", key: "f650f058-192c-4e52-b72d-9634116f59eb", queuedAt: 0, ...encoded }],
 *   attempt: 0,
 * }, Date.now());
 * assert.equal(
 *   request.url,
 *   "https://app.referralsaasquatch.com/api/v1/test_abc/open/account/u1/user/u1/events",
 * );
 * const body = JSON.parse(new TextDecoder().decode(request.body));
 * assert.equal(body.idempotencyKey, "f650f058-192c-4e52-b72d-9634116f59eb");
 * ```
 */
export function saasquatchProfile(options: SaasquatchProfileOptions): Profile<EncodedBytes> {
  const {
    tenantAlias,
    apiKey,
    jwt,
    jwtHeader = DEFAULT_SAASQUATCH_PROFILE_OPTIONS.jwtHeader,
    callKey = DEFAULT_SAASQUATCH_PROFILE_OPTIONS.callKey,
    invalidKeys = DEFAULT_SAASQUATCH_PROFILE_OPTIONS.invalidKeys,
    baseUrl = DEFAULT_SAASQUATCH_PROFILE_OPTIONS.baseUrl,
    maxBatchEvents = DEFAULT_SAASQUATCH_PROFILE_OPTIONS.maxBatchEvents,
    maxBatchBytes = DEFAULT_SAASQUATCH_PROFILE_OPTIONS.maxBatchBytes,
    rateLimit,
  } = options;
  requireString("SaaSquatch", "tenantAlias", tenantAlias);
  if ((apiKey === undefined) === (jwt === undefined)) {
    throw new TypeError(
      `Cannot create SaaSquatch profile as exactly one of 'apiKey' and 'jwt' must be set: current value is ${
        apiKey === undefined ? "neither" : "both"
      }`,
    );
  }
  const auth: Record<string, string> = apiKey !== undefined
    ? {
      Authorization: `Basic ${
        encodeBase64(
          new TextEncoder().encode(`:${requireString("SaaSquatch", "apiKey", apiKey, true)}`),
        )
      }`,
    }
    : jwtHeader === "bearer"
    ? { Authorization: `Bearer ${requireString("SaaSquatch", "jwt", jwt, true)}` }
    : { "X-SaaSquatch-User-Token": requireString("SaaSquatch", "jwt", jwt, true) };
  oneOf("callKey", callKey, ["event", "batch"]);
  oneOf("invalidKeys", invalidKeys, ["refuse", "ignore"]);
  const origin = trimBaseUrl("SaaSquatch", baseUrl);
  positiveInteger("maxBatchEvents", maxBatchEvents);
  positiveInteger("maxBatchBytes", maxBatchBytes);
  if (maxBatchBytes <= ENVELOPE_MAX_BYTES) {
    throw new RangeError(
      `Cannot create SaaSquatch profile as 'maxBatchBytes' must be more than the ${ENVELOPE_MAX_BYTES}-byte envelope: current value is ${maxBatchBytes}`,
    );
  }
  const eventsPerCall = callKey === "event" ? 1 : maxBatchEvents;
  const limits: ProfileLimits = Object.freeze({
    maxBatchBytes,
    maxBatchEvents: eventsPerCall,
    maxItemsPerGroup: eventsPerCall,
    maxEventBytes: maxBatchBytes - ENVELOPE_MAX_BYTES,
  });
  /** The call's key, or undefined when an invalid one is to be left out. */
  const callKeyOf = (batch: OutgoingBatch): string | undefined => {
    const key = callKey === "event" ? batch.records[0]!.key : batch.id;
    if (invalidKeys === "ignore" && !isValidIdempotencyKey(key, STRICT_KEY_POLICY)) {
      return undefined;
    }
    return validateIdempotencyKey(key, STRICT_KEY_POLICY);
  };
  const tenantPath = `${origin}/api/v1/${encodeURIComponent(tenantAlias)}/open`;

  return {
    name: "saasquatch",
    limits,
    framing: SAASQUATCH_FRAMING,
    keyPolicy: invalidKeys === "ignore" ? LENIENT_KEY_POLICY : STRICT_KEY_POLICY,
    ...(rateLimit === undefined ? {} : { rateLimit }),

    encode(event: IdemtrackEvent) {
      if (event.type !== "track") {
        throw new EventValidationError(
          "type",
          "unsupported",
          `is '${event.type}'`,
          "'track' events only (SaaSquatch user events)",
        );
      }
      if (event.userId === undefined) {
        throw new EventValidationError(
          "userId",
          "required",
          "is missing",
          "a userId (every SaaSquatch event belongs to a user)",
        );
      }
      const accountId = contextString(event.context, "accountId") ?? event.userId;
      checkMaxLength("userId", event.userId, SAASQUATCH_MAX_ID_LENGTH);
      checkMaxLength("context.accountId", accountId, SAASQUATCH_MAX_ID_LENGTH);
      checkFields("properties", event.properties, false);
      const item: JsonObject = {
        key: event.name,
        fields: event.properties,
        dateTriggered: event.timestamp,
      };
      const data = encodeJson(item);
      checkEncodedSize(data, limits.maxEventBytes);
      return { data, group: "events", stream: streamOf(accountId, event.userId) };
    },

    buildRequest(batch: OutgoingBatch): PreparedRequest {
      const key = callKeyOf(batch);
      const { accountId, userId } = idsOf(batch.stream);
      const prefix = `{"userId":${JSON.stringify(userId)},"accountId":${
        JSON.stringify(accountId)
      },${key === undefined ? "" : `"idempotencyKey":${JSON.stringify(key)},`}"events":[`;
      return {
        method: "POST",
        url: `${tenantPath}/account/${encodeURIComponent(accountId)}/user/${
          encodeURIComponent(userId)
        }/events`,
        headers: { "Content-Type": "application/json", ...auth },
        body: joinBody(prefix, batch, "]}"),
      };
    },

    readResponse(response: TransportResponse) {
      const error = parseJsonObject(response.body);
      const code = typeof error?.apiErrorCode === "string" ? error.apiErrorCode : response.status;
      return classifyResponse(response, Date.now(), {
        table: SAASQUATCH_STATUS_TABLE,
        reason: reasonOf(error?.message, response.status, response.body),
        code,
      }) ?? ALL_DELIVERED;
    },
  };
}

// Types that the exports above name in their signatures.
export type * from "../_profile_types.ts";
export type { StatusTable, StatusVerdict } from "../../kit/response.ts";
