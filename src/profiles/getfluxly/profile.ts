/**
 * GetFluxly's ingest API: `POST /v1/events/batch` and `POST /v1/identify/alias`,
 * both with `X-Idempotency-Key`.
 *
 * @module
 */
import { JSON_ARRAY_FRAMING } from "../../kit/chunk.ts";
import { EventValidationError } from "../../errors/event_validation_error.ts";
import {
  checkEncodedSize,
  createEvent,
  type IdemtrackEvent,
  type JsonObject,
} from "../../event.ts";
import { DeliveryError } from "../../errors/delivery_error.ts";
import {
  generateIdempotencyKey,
  STRICT_KEY_POLICY,
  validateIdempotencyKey,
} from "../../idempotency_key.ts";
import { type Clock, systemClock } from "../../ports/clock.ts";
import { backoffDelayMs } from "../../kit/retry.ts";
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
import type { TransportRequest, TransportResponse } from "../../ports/transport.ts";
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
  requireHeaders,
  requireString,
  trimBaseUrl,
} from "../_common.ts";
import { errorMessage } from "../../_util/error_message.ts";

/** Options of {@linkcode getfluxlyProfile}. */
export interface GetfluxlyProfileOptions {
  /** API key: `gflux_secret_*` (server; required for alias) or `gflux_pub_*`. */
  token: string;
  /** API origin. @default {"https://api.getfluxly.com"} */
  baseUrl?: string;
  /** Client-side send-rate limit (GetFluxly's tiers count events, not requests). @default {undefined} */
  rateLimit?: RateLimit;
  /**
   * Most events per request: the seed client sends at most `flush_at` (20 by
   * default) per request; the API takes up to 100.
   * @default {20}
   */
  maxBatchEvents?: number;
}

/** Defaults of {@linkcode GetfluxlyProfileOptions}. */
export const DEFAULT_GETFLUXLY_PROFILE_OPTIONS: Readonly<
  { baseUrl: string; maxBatchEvents: number }
> = Object.freeze({
  baseUrl: "https://api.getfluxly.com",
  maxBatchEvents: 20,
});

/**
 * The seed's Ruby client defaults (`GetFluxly::Client#initialize`:
 * `flush_at: 20, flush_interval: 5.0, max_retries: 2, timeout: 5.0,
 * max_queue_size: 1000`) as `Client` options: spread them into the options
 * of a `Client` with this profile to behave as the seed client does.
 *
 * @example Usage
 * ```ts
 * import { GETFLUXLY_SEED_CLIENT_OPTIONS, getfluxlyProfile } from "./profile.ts";
 * import assert from "node:assert/strict";
 *
 * const options = { ...GETFLUXLY_SEED_CLIENT_OPTIONS, profile: getfluxlyProfile({ token: "gflux_secret_x" }) };
 * assert.equal(options.retry, 2); // max_retries
 * assert.equal(options.profile.limits.maxBatchEvents, options.flushAt);
 * ```
 */
export const GETFLUXLY_SEED_CLIENT_OPTIONS: Readonly<{
  flushAt: number;
  flushIntervalMs: number;
  retry: number;
  timeoutMs: number;
  maxQueueSize: number;
}> = Object.freeze({
  flushAt: 20,
  flushIntervalMs: 5_000,
  retry: 2,
  timeoutMs: 5_000,
  maxQueueSize: 1_000,
});

/**
 * The API's batch limits: 100 events and 256 KB per request; 32 KB per event
 * (the single-event endpoint's cap, applied to batch members too). A
 * profile sends at most its `maxBatchEvents` (20 by default) per request.
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
  const {
    token,
    baseUrl = DEFAULT_GETFLUXLY_PROFILE_OPTIONS.baseUrl,
    rateLimit,
    maxBatchEvents = DEFAULT_GETFLUXLY_PROFILE_OPTIONS.maxBatchEvents,
  } = options;
  requireString("GetFluxly", "token", token, true);
  requireHeaders("GetFluxly", "token", { Authorization: `Bearer ${token}` });
  const origin = trimBaseUrl("GetFluxly", baseUrl);
  if (
    !Number.isInteger(maxBatchEvents) || maxBatchEvents < 1 ||
    maxBatchEvents > GETFLUXLY_LIMITS.maxBatchEvents
  ) {
    throw new RangeError(
      `Cannot create GetFluxly profile as 'maxBatchEvents' must be an integer from 1 to ${GETFLUXLY_LIMITS.maxBatchEvents}: current value is ${maxBatchEvents}`,
    );
  }
  const limits: ProfileLimits = Object.freeze({
    ...GETFLUXLY_LIMITS,
    maxBatchEvents,
    maxItemsPerGroup: maxBatchEvents,
  });
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
    limits,
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

/** Who is merged into whom (the seed's `alias(user_id:, anonymous_id:, previous_id:, request_id:)`). */
export interface GetfluxlyAliasInput {
  /** The user the other id is merged into. */
  userId: string;
  /** The anonymous id to merge (this or `previousId` is required). */
  anonymousId?: string;
  /** The previous user id to merge. */
  previousId?: string;
  /** Echoed back by GetFluxly in the answer. */
  requestId?: string;
  /** The call's `X-Idempotency-Key`, kept across its retries. @default {a new UUID v4} */
  idempotencyKey?: string;
}

/** The alias data GetFluxly answers with (`{"alias":{user_id, anonymous_id, merged_at}}`). */
export type GetfluxlyAliasData = JsonObject;

/** Options of {@linkcode getfluxlyAlias}: the profile's, plus the call's retry settings. */
export interface GetfluxlyAliasOptions extends GetfluxlyProfileOptions {
  /** Retries after a retryable answer or no answer. @default {2} (the seed's `max_retries`) */
  maxRetries?: number;
  /** Per-attempt timeout, milliseconds. @default {5000} (the seed's `timeout`) */
  timeoutMs?: number;
  /** Sends the request. @default {globalThis.fetch} */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Timers for the waits between attempts. @default {systemClock} */
  clock?: Clock;
  /** Random source of the backoff jitter. @default {Math.random} */
  random?: () => number;
}

/** Defaults of {@linkcode GetfluxlyAliasOptions} beyond the profile's. */
export const DEFAULT_GETFLUXLY_ALIAS_OPTIONS: Readonly<{
  maxRetries: number;
  timeoutMs: number;
  clock: Clock;
  random: () => number;
}> = Object.freeze({
  maxRetries: GETFLUXLY_SEED_CLIENT_OPTIONS.retry,
  timeoutMs: GETFLUXLY_SEED_CLIENT_OPTIONS.timeoutMs,
  clock: systemClock,
  random: Math.random,
});

async function send(
  fetchImpl: NonNullable<GetfluxlyAliasOptions["fetch"]>,
  request: TransportRequest,
): Promise<TransportResponse> {
  const response = await fetchImpl(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body as Uint8Array<ArrayBuffer>,
    ...(request.signal && { signal: request.signal }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/**
 * Merges `anonymousId` (or `previousId`) into `userId` now and resolves with
 * the alias data of GetFluxly's answer, as the seed client's `alias` does
 * (the `Client`'s `alias()` queues the same call instead, and delivers it
 * exactly once). The request is the profile's, under one
 * `X-Idempotency-Key` for all its attempts; a retryable answer (408, 425,
 * 429 with `Retry-After`, 5xx, or an answer without alias data) or no
 * answer is retried up to `maxRetries` times with jittered backoff.
 *
 * @throws {EventValidationError} for a bad input or a publishable key (before any request).
 * @throws {DeliveryError} when GetFluxly refused the alias, or the retries ran out.
 *
 * @example Usage
 * ```ts
 * import { getfluxlyAlias } from "./profile.ts";
 * import assert from "node:assert/strict";
 *
 * const alias = await getfluxlyAlias({
 *   token: "gflux_secret_example",
 *   fetch: () =>
 *     Promise.resolve(Response.json({
 *       alias: { user_id: "u1", anonymous_id: "a1", merged_at: "2026-11-25T08:00:00Z" },
 *     })),
 * }, { userId: "u1", anonymousId: "a1" });
 * assert.equal(alias.user_id, "u1");
 * ```
 */
export async function getfluxlyAlias(
  options: GetfluxlyAliasOptions,
  input: GetfluxlyAliasInput,
): Promise<GetfluxlyAliasData> {
  const {
    maxRetries = DEFAULT_GETFLUXLY_ALIAS_OPTIONS.maxRetries,
    timeoutMs = DEFAULT_GETFLUXLY_ALIAS_OPTIONS.timeoutMs,
    fetch: fetchImpl = globalThis.fetch,
    clock = DEFAULT_GETFLUXLY_ALIAS_OPTIONS.clock,
    random = DEFAULT_GETFLUXLY_ALIAS_OPTIONS.random,
    ...profileOptions
  } = options;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new RangeError(
      `Cannot alias as 'maxRetries' must be a non-negative integer: current value is ${maxRetries}`,
    );
  }
  if (!(timeoutMs > 0)) {
    throw new RangeError(
      `Cannot alias as 'timeoutMs' must be a positive number: current value is ${timeoutMs}`,
    );
  }
  const profile = getfluxlyProfile(profileOptions);
  const event = createEvent({
    type: "alias",
    name: "$alias",
    userId: input.userId,
    ...(input.anonymousId !== undefined && { anonymousId: input.anonymousId }),
    ...(input.previousId !== undefined && { previousId: input.previousId }),
    ...(input.requestId !== undefined && { context: { requestId: input.requestId } }),
  }, { keyPolicy: profile.keyPolicy });
  const encoded = profile.encode(event);
  const key = input.idempotencyKey ?? generateIdempotencyKey();
  const record = { id: "alias", key, queuedAt: 0, ...encoded };
  let lastReason = "no attempt";
  let lastCode: number | string = "network";
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    const batch = {
      id: key,
      stream: `${GETFLUXLY_ALIAS_STREAM_PREFIX}${key}`,
      records: [record],
      attempt,
    };
    const prepared = await profile.buildRequest(batch, clock.now());
    let retryAfterMs: number | undefined;
    try {
      const response = await send(fetchImpl, {
        ...prepared,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const outcome = profile.readResponse(response, batch);
      const result = outcome.kind === "all" ? outcome.outcome : undefined;
      if (result?.status === "delivered" || result?.status === "duplicate") {
        return parseJsonObject(response.body)!.alias as GetfluxlyAliasData;
      }
      if (result?.status === "failed" || result === undefined) {
        const reason = result?.reason ?? `HTTP ${response.status}`;
        throw new DeliveryError(key, [key], result?.code ?? response.status, reason);
      }
      lastReason = result.reason;
      lastCode = result.code;
      retryAfterMs = result.retryAfterMs;
    } catch (error) {
      if (error instanceof DeliveryError) throw error;
      lastReason = errorMessage(error);
      lastCode = (error as Error)?.name === "TimeoutError" ? "timeout" : "network";
    }
    if (attempt < maxRetries) {
      const wait = retryAfterMs ?? backoffDelayMs(attempt, { random });
      await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
    }
  }
  throw new DeliveryError(
    key,
    [key],
    lastCode,
    `gave up after ${maxRetries} retries: ${lastReason}`,
  );
}

// Types that the exports above name in their signatures.
export type * from "../_profile_types.ts";
export type { StatusTable, StatusVerdict } from "../../kit/response.ts";
export type { Clock, TimerId } from "../../ports/clock.ts";
