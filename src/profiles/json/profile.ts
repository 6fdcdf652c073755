import { JSON_ARRAY_FRAMING } from "../../kit/chunk.ts";
import type { IdemtrackEvent } from "../../event.ts";
import { STRICT_KEY_POLICY } from "../../idempotency_key.ts";
import type {
  BatchOutcome,
  EncodedText,
  OutgoingBatch,
  PreparedRequest,
  Profile,
  ProfileLimits,
  RecordOutcome,
} from "../../ports/profile.ts";
import { classifyResponse } from "../../kit/response.ts";
import type { TransportResponse } from "../../ports/transport.ts";
import { joinBody, recordCount, requireHeaders } from "../_common.ts";

/** Path used when the endpoint is a bare origin. */
export const JSON_BATCH_PATH = "/v1/events/batch";

/** Options of {@linkcode jsonProfile}. */
export interface JsonProfileOptions {
  /**
   * Collector URL. A bare origin (`https://collect.example.com`) gets the
   * default path `/v1/events/batch`; a URL with a path is used as it is. In
   * a page, a relative one (`/collect`) resolves against `location`.
   */
  endpoint: string;
  /** Sent as `Authorization: Bearer <token>`. @default {undefined} */
  token?: string;
  /** Extra headers on every request. @default {{}} */
  headers?: Record<string, string>;
  /**
   * Per-request and per-event limits.
   * @default {{ maxBatchBytes: 512000, maxBatchEvents: 2000, maxItemsPerGroup: Infinity, maxEventBytes: 102400 }}
   */
  limits?: Partial<ProfileLimits>;
}

/** The generic JSON profile's limits: 500 KB bodies, 2000 events, 100 KB per event. */
export const JSON_PROFILE_LIMITS: ProfileLimits = Object.freeze({
  maxBatchBytes: 512_000,
  maxBatchEvents: 2000,
  maxItemsPerGroup: Infinity,
  maxEventBytes: 100 * 1024,
});

const PREFIX = '{"events":[';
const SUFFIX = "]}";

const ENDPOINT_RULE = "an absolute http(s) URL, or in a page a path relative to it";

/** The endpoint as an absolute URL: a page's relative one (`/collect`) resolves against its location. */
function resolveUrl(endpoint: string): string {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL;
  try {
    url = new URL(endpoint, page);
  } catch {
    throw new TypeError(
      `Cannot create JSON profile as 'endpoint' must be ${ENDPOINT_RULE}: current value is ${
        JSON.stringify(endpoint)
      }`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `Cannot create JSON profile as 'endpoint' must be ${ENDPOINT_RULE}: current value uses '${url.protocol}'`,
    );
  }
  if (url.pathname === "/") url.pathname = JSON_BATCH_PATH;
  return url.href;
}

/** Caches the ISO string of the last millisecond seen: events come in bursts. */
function isoTimestamps(): (ms: number) => string {
  let lastMs = NaN;
  let lastIso = "";
  return (ms) => {
    if (ms !== lastMs) {
      lastMs = ms;
      lastIso = new Date(ms).toISOString();
    }
    return lastIso;
  };
}

/**
 * One event as `docs/wire-json.md` describes it, fields in documented order.
 * Absent fields are left out of the object rather than set to `undefined`
 * (which JSON would leave out too), so JSON.stringify walks only the fields a
 * usual event has.
 */
function wireObject(event: IdemtrackEvent, iso: (ms: number) => string): Record<string, unknown> {
  const wire: Record<string, unknown> = { type: event.type, event: event.name };
  const userId = event.userId;
  if (userId !== undefined) wire.user_id = userId;
  const anonymousId = event.anonymousId;
  if (anonymousId !== undefined) wire.anonymous_id = anonymousId;
  const previousId = event.previousId;
  if (previousId !== undefined) wire.previous_id = previousId;
  wire.properties = event.properties;
  const context = event.context;
  if (context !== undefined) wire.context = context;
  wire.timestamp = iso(event.timestamp);
  wire.idempotency_key = event.idempotencyKey;
  const tenantId = event.tenantId;
  if (tenantId !== undefined) wire.tenant_id = tenantId;
  const brandId = event.brandId;
  if (brandId !== undefined) wire.brand_id = brandId;
  const attachments = event.attachments;
  if (attachments !== undefined) {
    wire.attachments = attachments.map((a) => ({
      url: a.url,
      filename: a.filename,
      ignore_if_error: a.ignoreIfError ?? false,
    }));
  }
  return wire;
}

/** Serializes one event as `docs/wire-json.md` describes (what the profile's bytes decode to). */
export function jsonWireText(event: IdemtrackEvent, iso: (ms: number) => string): string {
  return JSON.stringify(wireObject(event, iso));
}

const DELIVERED: RecordOutcome = Object.freeze({ status: "delivered" });
const DUPLICATE: RecordOutcome = Object.freeze({ status: "duplicate" });

function readResult(value: unknown): RecordOutcome | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const result = value as Record<string, unknown>;
  switch (result.status) {
    case "accepted":
      return DELIVERED;
    case "duplicate":
      return DUPLICATE;
    case "rejected": {
      const code = typeof result.code === "string" ? result.code : "rejected";
      const reason = typeof result.reason === "string" ? result.reason : code;
      return result.retryable === true
        ? { status: "retry", code, reason }
        : { status: "failed", code, reason };
    }
    default:
      return undefined;
  }
}

/**
 * Reads `results` when it holds one readable result per record. A 2xx whose
 * counts say every record was accepted is delivered as a whole (no per-record
 * walk); a 409 repeats the original results, so what was accepted then is a
 * duplicate now.
 */
function readResults(body: string, count: number, ok: boolean): BatchOutcome | undefined {
  // The documented answer to a batch accepted whole begins with its counts: its results need no
  // parsing, which would build a request's worth of objects only to find them all accepted.
  if (ok && body.startsWith(`{"accepted":${count},"duplicates":0,"rejected":0,`)) {
    return { kind: "all", outcome: DELIVERED };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const answer = parsed as
    | { results?: unknown; accepted?: unknown; rejected?: unknown; duplicates?: unknown }
    | null;
  const results = answer?.results;
  if (!Array.isArray(results) || results.length !== count) return undefined;
  if (ok && answer!.accepted === count && answer!.rejected === 0 && answer!.duplicates === 0) {
    return { kind: "all", outcome: DELIVERED };
  }
  const outcomes: RecordOutcome[] = [];
  for (const result of results) {
    const outcome = readResult(result);
    if (outcome === undefined) return undefined;
    outcomes.push(!ok && outcome === DELIVERED ? DUPLICATE : outcome);
  }
  return { kind: "each", outcomes };
}

/**
 * idemtrack's own wire format (`docs/wire-json.md`): the `Client`'s default
 * profile. Each event is serialized once at `track()` time (timestamps as ISO
 * strings, cached per millisecond); the client writes that text into its
 * queue's slabs, and a request body is one allocation the events' bytes are
 * copied into.
 *
 * @example Usage
 * ```ts
 * import { jsonProfile } from "./profile.ts";
 * import { createEvent } from "../../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = jsonProfile({ endpoint: "http://127.0.0.1:8080", token: "t0ken" });
 * const event = createEvent({ name: "order_paid", userId: "u1", timestamp: 0, idempotencyKey: "order-1-paid" });
 * const { text, group, stream } = profile.encode(event); // JSON text, as JSON.stringify writes it
 * const data = new TextEncoder().encode(text);
 * const request = await profile.buildRequest({
 *   id: "batch-0001",
 *   stream: "",
 *   attempt: 0,
 *   records: [{ id: "r1", key: event.idempotencyKey, queuedAt: 0, group, stream, data }],
 * }, 0);
 * assert.equal(request.url, "http://127.0.0.1:8080/v1/events/batch");
 * assert.equal(request.headers["x-idempotency-key"], "batch-0001");
 * assert.equal(JSON.parse(new TextDecoder().decode(request.body)).events[0].timestamp, "1970-01-01T00:00:00.000Z");
 * ```
 */
export function jsonProfile(options: JsonProfileOptions): Profile<EncodedText> {
  const url = resolveUrl(options.endpoint);
  const limits: ProfileLimits = Object.freeze({ ...JSON_PROFILE_LIMITS, ...options.limits });
  const baseHeaders: Record<string, string> = { "content-type": "application/json" };
  requireHeaders("JSON", "headers", options.headers ?? {});
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    baseHeaders[name.toLowerCase()] = value;
  }
  if (options.token !== undefined) {
    baseHeaders.authorization = `Bearer ${options.token}`;
    requireHeaders("JSON", "token", { authorization: baseHeaders.authorization });
  }
  const iso = isoTimestamps();

  return {
    name: "json",
    limits,
    framing: JSON_ARRAY_FRAMING,
    keyPolicy: STRICT_KEY_POLICY,
    encode(event: IdemtrackEvent): EncodedText {
      // Text: the client writes it straight into its queue's slabs.
      return { text: jsonWireText(event, iso), group: event.type, stream: "" };
    },
    buildRequest(batch: OutgoingBatch): PreparedRequest {
      const body = joinBody(PREFIX, batch, SUFFIX);
      return {
        url,
        method: "POST",
        headers: { ...baseHeaders, "x-idempotency-key": batch.id },
        body,
      };
    },
    readResponse(response: TransportResponse, batch: OutgoingBatch): BatchOutcome {
      const { status } = response;
      const ok = status >= 200 && status < 300;
      if (ok || status === 409) {
        const outcome = readResults(response.body, recordCount(batch), ok);
        if (outcome !== undefined) return outcome;
        if (ok) return { kind: "all", outcome: DELIVERED };
      }
      return classifyResponse(response, Date.now())!;
    },
  };
}
