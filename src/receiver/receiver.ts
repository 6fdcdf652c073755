import { optionChecks, optionKeys, rejectUnknownOptions } from "../_util/checks.ts";
import { compilePathPattern, type PathPattern } from "./_path_pattern.ts";
import { utf8ByteLength } from "../_util/utf8.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import type { RateLimit } from "../kit/token_bucket.ts";
import { type BodyProblem, readBody, releaseBuffer } from "./_body.ts";
import { ProcessingBudget } from "./_processing_budget.ts";
import { type CorsOptions, type CorsPolicy, corsPolicy } from "./cors.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { errorResponse, jsonResponse, retryAfterSeconds } from "./http.ts";
import type { BatchClaim, DedupeStore, DedupeTiming } from "./dedupe_store.ts";
import { createJsonRoute } from "./json_route.ts";
import { MemoryDedupeStore } from "./memory_dedupe_store.ts";
import type { DecodedBatch, RecordResult, Route, RouteContext } from "./route.ts";
import type { AcceptedEvent, Sink } from "./sink.ts";

const { positiveInteger, nonNegative } = optionChecks("create receiver");

/** Options of {@linkcode createReceiver}. */
export interface ReceiverOptions {
  /** Where accepted events go (see {@linkcode callbackSink}, {@linkcode JsonLinesSink}). */
  sink: Sink;
  /** Endpoints, matched in order by method and pathname pattern (`/v1/:tenant/x`). @default {[createJsonRoute()]} */
  routes?: readonly Route[];
  /** Where idempotency keys are remembered. @default {a new MemoryDedupeStore()} */
  store?: DedupeStore;
  /** How long completed request and event keys are remembered, ms. @default {86400000} (24 h) */
  keyTtlMs?: number;
  /** How long a claim of a request still being processed holds after a crash, ms. @default {60000} */
  leaseMs?: number;
  /**
   * Largest request body (after decompression too), bytes; larger → 413. A
   * route's own `maxBodyBytes` replaces it on that route.
   * @default {524288} (512 KB)
   */
  maxBodyBytes?: number;
  /**
   * Time a client has to send the whole body once its headers arrived, ms;
   * slower → 408 and the connection is dropped. 0 turns it off. @default {10000}
   */
  bodyTimeoutMs?: number;
  /**
   * Requests handled at once; more → 503 with `Retry-After` before their body
   * is read, so memory stays bounded (about this × `maxBodyBytes` × 3 at worst).
   * @default {64}
   */
  maxConcurrentRequests?: number;
  /**
   * Body bytes decoded, de-duplicated and stored at once, summed over the
   * requests doing so; a request that would pass it waits, in arrival order,
   * with its body read but not decoded (raw bytes are several times smaller
   * than the events decoded from them). A request is let through alone
   * however large, so the default lets one 512 KB body or many small ones
   * through at a time: on one JavaScript thread more at once adds memory, not
   * speed. Raise it for a sink or store far away (each request holds its
   * slot through their round trips). `Infinity` turns the budget off.
   * @default {524288} (512 KB)
   */
  maxProcessingBytes?: number;
  /**
   * Refuse bodies without `Content-Length` (chunked uploads) with 411. On
   * `Deno.serve` a chunked body dribbled a byte per packet costs ~64 KiB of
   * memory per packet until garbage collection (the runtime reads each packet
   * into a fresh buffer), which a body with a length avoids: turn this on for a
   * receiver on the internet whose clients send lengths (idemtrack's do).
   * @default {false}
   */
  requireContentLength?: boolean;
  /** Longest request or event idempotency key, characters; longer → 400 / record rejected. @default {255} */
  maxKeyLength?: number;
  /** Cross-origin browser access. @default {undefined} (no origin allowed: browsers refuse to send from pages of other origins) */
  cors?: CorsOptions;
  /** Most events in one request; more → 413 so the client splits. @default {10000} */
  maxEventsPerRequest?: number;
  /** Largest single event (as JSON), bytes; larger → that record rejected. @default {102400} */
  maxEventBytes?: number;
  /**
   * Per-tenant request rate limit → 429 with `Retry-After`. `true` means 100
   * requests/s with a burst of 500. @default {false}
   */
  rateLimit?: boolean | RateLimit;
  /** Clock for TTLs, leases and rate limits. @default {systemClock} */
  clock?: Pick<Clock, "now">;
  /** Told about unexpected failures (the answer is a bare 500/503). @default {console.error} */
  onError?: (error: unknown) => void;
  /** Told about every answered request (metrics, access logs). @default {undefined} */
  onRequest?: (report: RequestReport) => void;
}

/** What one request did, for metrics and access logs ({@linkcode ReceiverOptions.onRequest}). */
export interface RequestReport {
  /** Name of the route that matched, or undefined (404, 405, preflight of an unknown path). */
  readonly route: string | undefined;
  /** The request's method. */
  readonly method: string;
  /** The answer's status code. */
  readonly status: number;
  /** Time from the call to the answer, ms. */
  readonly durationMs: number;
  /** Body bytes read (after decompression); 0 when the body was refused before reading. */
  readonly bodyBytes: number;
  /** Records accepted (handed to the sink). */
  readonly accepted: number;
  /** Records answered as duplicates of events seen before. */
  readonly duplicates: number;
  /** Rejected records by code (`invalid_field`, `event_too_large`…). */
  readonly rejected: Readonly<Record<string, number>>;
}

// Every key of ReceiverOptions, so that one the receiver does not know is refused rather than
// ignored.
const RECEIVER_OPTION_KEYS = optionKeys<ReceiverOptions>()([
  "sink",
  "routes",
  "store",
  "keyTtlMs",
  "leaseMs",
  "maxBodyBytes",
  "bodyTimeoutMs",
  "maxConcurrentRequests",
  "maxProcessingBytes",
  "requireContentLength",
  "maxKeyLength",
  "cors",
  "maxEventsPerRequest",
  "maxEventBytes",
  "rateLimit",
  "clock",
  "onError",
  "onRequest",
]);

/** Defaults of {@linkcode ReceiverOptions} (the store and routes are created per receiver). */
export const DEFAULT_RECEIVER_OPTIONS: Readonly<{
  keyTtlMs: number;
  leaseMs: number;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  maxConcurrentRequests: number;
  maxProcessingBytes: number;
  requireContentLength: boolean;
  maxKeyLength: number;
  maxEventsPerRequest: number;
  maxEventBytes: number;
  rateLimit: false;
  clock: Pick<Clock, "now">;
  onError: (error: unknown) => void;
}> = Object.freeze({
  keyTtlMs: 24 * 60 * 60 * 1000,
  leaseMs: 60_000,
  maxBodyBytes: 512 * 1024,
  bodyTimeoutMs: 10_000,
  maxConcurrentRequests: 64,
  maxProcessingBytes: 512 * 1024,
  requireContentLength: false,
  maxKeyLength: 255,
  maxEventsPerRequest: 10_000,
  maxEventBytes: 100 * 1024,
  rateLimit: false,
  clock: systemClock,
  onError: (error: unknown) => console.error("idemtrack receiver:", error),
});

/** The rate limit `rateLimit: true` stands for (the third seed's 100 rq/s, burst 500). */
export const DEFAULT_RECEIVER_RATE_LIMIT: RateLimit = Object.freeze({
  requestsPerSecond: 100,
  burst: 500,
});

/** Counters of what a receiver did since it was created. */
export interface ReceiverStats {
  /** Requests handled. */
  requests: number;
  /** Events accepted and handed to the sink. */
  accepted: number;
  /** Events answered as duplicates of events already accepted. */
  duplicates: number;
  /** Events refused (invalid, or refused by the route). */
  rejected: number;
  /** Requests answered as duplicates of a completed request key. */
  duplicateRequests: number;
  /** Requests answered 409 `in_progress`. */
  inProgress: number;
  /** Requests answered 422: a key reused with another body. */
  keyReused: number;
  /** Requests answered 429 by the per-tenant rate limit. */
  rateLimited: number;
  /** Requests refused as too large (body or event count). */
  tooLarge: number;
  /** Requests whose sink write failed (answered 503, keys released). */
  sinkFailures: number;
  /** Store operations that failed (claims answered 503; commits fall back to leases). */
  storeFailures: number;
  /** Requests refused because `maxConcurrentRequests` were in progress. */
  overloaded: number;
  /** Bodies not sent within `bodyTimeoutMs` (answered 408). */
  timedOut: number;
  /** Requests handled right now. */
  inFlight: number;
  /** Of those, requests waiting for `maxProcessingBytes` to have room (bodies read). */
  waiting: number;
}

/** Answer of {@linkcode Receiver.ready}: each part's failure, when it failed. */
export interface ReadyReport {
  /** True when events can be taken: not closing, store and sink reachable. */
  readonly ready: boolean;
  /** True once {@linkcode Receiver.close} was called. */
  readonly closing: boolean;
  /** Why the store is not reachable. */
  readonly store?: string;
  /** Why the sink is not reachable. */
  readonly sink?: string;
}

/** Connection facts a server passes along (`Deno.serve`'s second handler argument fits). */
export interface ReceiverInfo {
  /** The peer's address; its `hostname` reaches routes as `RouteContext.remoteAddr`. */
  readonly remoteAddr?: { readonly hostname?: string } | unknown;
}

/** A `Request → Response` handler with its counters. */
export interface Receiver {
  (request: Request, info?: ReceiverInfo): Promise<Response>;
  /** Live counters. */
  readonly stats: Readonly<ReceiverStats>;
  /**
   * Whether the receiver can take events: not closing, and its store and sink
   * answer their `ping()` within `timeoutMs` (for `/readyz`).
   */
  ready(timeoutMs?: number): Promise<ReadyReport>;
  /**
   * Stops taking requests (later ones get 503), waits for those in progress
   * (their keys are committed or released), then closes the sink and the store.
   */
  close(): Promise<void>;
}

function mediaType(header: string | null): string | undefined {
  const type = header?.split(";", 1)[0]?.trim().toLowerCase();
  return type === "" ? undefined : type;
}

function remoteAddrOf(info: ReceiverInfo | undefined): string | undefined {
  const addr = info?.remoteAddr as { hostname?: unknown } | undefined;
  return typeof addr?.hostname === "string" ? addr.hostname : undefined;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/**
 * The body's SHA-256 in hex: the request fingerprint. Web Crypto's native
 * digest (about 6× the WASM hasher's speed on a 500 KB body); the same value
 * as before, so fingerprints stored by a persistent store still match.
 */
async function sha256Hex(body: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>),
  );
  let hex = "";
  for (const byte of digest) hex += HEX[byte];
  return hex;
}

/**
 * Whether `json` is over `maxBytes` in UTF-8. A UTF-16 unit is 1 to 3 bytes: the
 * length alone decides most events, without encoding them.
 */
function tooLargeJson(json: string, maxBytes: number): boolean {
  if (json.length * 3 <= maxBytes) return false;
  if (json.length > maxBytes) return true;
  return utf8ByteLength(json) > maxBytes;
}

interface CompiledRoute {
  readonly route: Route;
  readonly pattern: PathPattern;
}

// Shared answers: one object for every accepted (or duplicate) record of every request.
const ACCEPTED: RecordResult = Object.freeze({ status: "accepted" });
const DUPLICATE: RecordResult = Object.freeze({ status: "duplicate" });

const IN_PROGRESS: RecordResult = Object.freeze({
  status: "rejected",
  code: "in_progress",
  reason: "an earlier request with this event key is still being processed",
  retryable: true,
});

/**
 * Creates the receiving side of idemtrack as a Web-standard handler (for
 * `Deno.serve`, {@linkcode serveNode}, or any fetch-style framework):
 * route → body limits → decode and authenticate (route) → rate limit →
 * claim keys atomically → sink → per-record answer.
 *
 * Request keys (`X-Idempotency-Key`) follow the IETF Idempotency-Key draft: a
 * completed key → 409 `duplicate` with the original results (or the route's
 * own answer), a key still in progress → 409 `in_progress` + `Retry-After`, a
 * key reused with another body → 422. Event keys already seen (or repeated in
 * the request) are answered `duplicate`. If the sink fails, the claims are
 * released and the answer is 503, so the retry is accepted.
 *
 * @example Usage
 * ```ts
 * import { createReceiver } from "./receiver.ts";
 * import { callbackSink } from "./sink.ts";
 * import assert from "node:assert/strict";
 *
 * const stored: unknown[] = [];
 * const receiver = createReceiver({ sink: callbackSink((events) => void stored.push(...events)) });
 * const request = () =>
 *   new Request("http://localhost/v1/events/batch", {
 *     method: "POST",
 *     headers: { "content-type": "application/json", "x-idempotency-key": "batch-0001" },
 *     body: JSON.stringify({
 *       events: [{
 *         type: "track", event: "signup", anonymous_id: "a1", properties: {},
 *         timestamp: "2026-11-25T08:00:00.000Z", idempotency_key: "evt-00000001",
 *       }],
 *     }),
 *   });
 * assert.equal((await receiver(request())).status, 200);
 * const again = await receiver(request());
 * assert.equal(again.status, 409);
 * assert.equal((await again.json()).error, "duplicate");
 * assert.equal(stored.length, 1);
 * ```
 */
export function createReceiver(options: ReceiverOptions): Receiver {
  rejectUnknownOptions("create receiver", options, RECEIVER_OPTION_KEYS);
  const {
    sink,
    routes = [createJsonRoute()],
    store = new MemoryDedupeStore() as DedupeStore,
    keyTtlMs = DEFAULT_RECEIVER_OPTIONS.keyTtlMs,
    leaseMs = DEFAULT_RECEIVER_OPTIONS.leaseMs,
    maxBodyBytes = DEFAULT_RECEIVER_OPTIONS.maxBodyBytes,
    bodyTimeoutMs = DEFAULT_RECEIVER_OPTIONS.bodyTimeoutMs,
    maxConcurrentRequests = DEFAULT_RECEIVER_OPTIONS.maxConcurrentRequests,
    maxProcessingBytes = DEFAULT_RECEIVER_OPTIONS.maxProcessingBytes,
    maxKeyLength = DEFAULT_RECEIVER_OPTIONS.maxKeyLength,
    requireContentLength = DEFAULT_RECEIVER_OPTIONS.requireContentLength,
    cors,
    maxEventsPerRequest = DEFAULT_RECEIVER_OPTIONS.maxEventsPerRequest,
    maxEventBytes = DEFAULT_RECEIVER_OPTIONS.maxEventBytes,
    rateLimit = DEFAULT_RECEIVER_OPTIONS.rateLimit,
    clock = DEFAULT_RECEIVER_OPTIONS.clock,
    onError = DEFAULT_RECEIVER_OPTIONS.onError,
    onRequest,
  } = options;
  if (typeof sink?.write !== "function") {
    throw new TypeError("Cannot create receiver as 'sink' must have a write() method");
  }
  positiveInteger("keyTtlMs", keyTtlMs);
  positiveInteger("leaseMs", leaseMs);
  positiveInteger("maxBodyBytes", maxBodyBytes);
  nonNegative("bodyTimeoutMs", bodyTimeoutMs);
  positiveInteger("maxConcurrentRequests", maxConcurrentRequests, true);
  positiveInteger("maxProcessingBytes", maxProcessingBytes, true);
  positiveInteger("maxKeyLength", maxKeyLength);
  positiveInteger("maxEventsPerRequest", maxEventsPerRequest);
  positiveInteger("maxEventBytes", maxEventBytes);
  for (const route of routes) {
    if (route.maxBodyBytes !== undefined) positiveInteger("maxBodyBytes", route.maxBodyBytes);
  }
  if (routes.length === 0) {
    throw new RangeError(
      "Cannot create receiver as 'routes' must not be empty: current length is 0",
    );
  }
  const compiled: CompiledRoute[] = routes.map((route) => ({
    route,
    pattern: compilePathPattern(route.path),
  }));
  // A 404 matches no route: it speaks a route's language only when all of them speak the same.
  const sharedErrorBody = routes.every((route) => route.errorBody === routes[0]!.errorBody)
    ? routes[0]!.errorBody
    : undefined;
  const corsRules: CorsPolicy | undefined = cors === undefined ? undefined : corsPolicy(cors);
  const limiter = rateLimit === false ? undefined : new RateLimiter(
    rateLimit === true ? DEFAULT_RECEIVER_RATE_LIMIT : rateLimit,
    () => clock.now(),
  );
  const stats: ReceiverStats = {
    requests: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    duplicateRequests: 0,
    inProgress: 0,
    keyReused: 0,
    rateLimited: 0,
    tooLarge: 0,
    sinkFailures: 0,
    storeFailures: 0,
    overloaded: 0,
    timedOut: 0,
    inFlight: 0,
    waiting: 0,
  };
  const inFlight = new Set<Promise<unknown>>();
  let closing = false;
  const admission = new ProcessingBudget(maxProcessingBytes);

  /** What the current request did so far, for its {@linkcode RequestReport}. */
  interface Trace {
    route: string | undefined;
    bodyBytes: number;
    results: readonly RecordResult[] | undefined;
  }

  /** An error answer, in the route's own shape when it has one. */
  function refuse(
    errorBody: Route["errorBody"],
    status: number,
    code: string,
    detail: string,
    headers: Record<string, string> = {},
  ): Response {
    return errorBody === undefined
      ? errorResponse(status, code, detail, headers)
      : jsonResponse(status, errorBody(status, detail), headers);
  }

  function match(
    request: Request,
  ): { route: Route; params: Record<string, string | undefined> } | Response {
    const pathname = new URL(request.url).pathname;
    const allowed: string[] = [];
    let errorBody: Route["errorBody"];
    for (const { route, pattern } of compiled) {
      const params = pattern.match(pathname);
      if (params === null) continue;
      if (route.method === request.method) return { route, params };
      allowed.push(route.method);
      errorBody ??= route.errorBody;
    }
    if (allowed.length > 0) {
      const preflight = corsRules?.preflight(request, allowed);
      if (preflight !== undefined) return preflight;
      return refuse(
        errorBody,
        405,
        "method_not_allowed",
        `use ${allowed.join(" or ")} on ${pathname}`,
        {
          allow: allowed.join(", "),
        },
      );
    }
    return refuse(sharedErrorBody, 404, "not_found", `no endpoint at ${pathname}`);
  }

  function tooLarge(
    route: Route,
    code: string,
    detail: string,
    headers?: Record<string, string>,
  ): Response {
    stats.tooLarge++;
    return refuse(route.errorBody, 413, code, detail, headers);
  }

  function bodyProblem(route: Route, problem: BodyProblem): Response {
    switch (problem.kind) {
      case "too_large":
        // The rest of the body is not read: the connection is not reusable.
        return tooLarge(
          route,
          "payload_too_large",
          `the body is larger than ${problem.limit} bytes`,
          { connection: "close" },
        );
      case "unsupported_encoding":
        return refuse(
          route.errorBody,
          415,
          "unsupported_encoding",
          `Content-Encoding ${
            JSON.stringify(problem.encoding.slice(0, 40))
          } is not supported: use gzip, deflate or identity`,
        );
      case "timeout":
        stats.timedOut++;
        // The rest of the body may still be on its way: the connection is not reusable.
        return refuse(
          route.errorBody,
          408,
          "body_timeout",
          `the body was not received within ${problem.timeoutMs} ms`,
          { connection: "close" },
        );
      default:
        return refuse(route.errorBody, 400, "malformed_body", problem.detail, {
          connection: "close",
        });
    }
  }

  function keyTooLong(key: string): string | undefined {
    return key.length > maxKeyLength
      ? `the key is ${key.length} characters long: at most ${maxKeyLength} are allowed`
      : undefined;
  }

  async function handle(
    request: Request,
    info: ReceiverInfo | undefined,
    trace: Trace,
  ): Promise<Response> {
    const matched = match(request);
    if (matched instanceof Response) return matched;
    const { route, params } = matched;
    trace.route = route.name;
    if (route.contentTypes !== undefined) {
      const type = mediaType(request.headers.get("content-type"));
      if (type === undefined) {
        return refuse(
          route.errorBody,
          400,
          "missing_content_type",
          `Content-Type must be ${route.contentTypes.join(" or ")}`,
        );
      }
      if (!route.contentTypes.includes(type)) {
        return refuse(
          route.errorBody,
          415,
          "unsupported_media_type",
          `Content-Type ${JSON.stringify(type.slice(0, 60))} is not supported: use ${
            route.contentTypes.join(" or ")
          }`,
        );
      }
    }
    const now = clock.now();
    let context: RouteContext = { now, params, remoteAddr: remoteAddrOf(info) };
    if (route.authenticate !== undefined) {
      const tenant = await route.authenticate(request, context);
      if (tenant instanceof Response) return tenant;
      context = { ...context, tenant };
    }
    if (
      // The header first: touching `request.body` slows reading it (see _body.ts).
      requireContentLength && !request.headers.has("content-length") && request.body !== null
    ) {
      return refuse(
        route.errorBody,
        411,
        "length_required",
        "send the body with a Content-Length (chunked uploads are not accepted here)",
        { connection: "close" },
      );
    }
    const read = await readBody(request, {
      maxBytes: route.maxBodyBytes ?? maxBodyBytes,
      timeoutMs: bodyTimeoutMs,
    });
    if ("problem" in read) return bodyProblem(route, read.problem);
    const { bytes } = read;
    trace.bodyBytes = bytes.byteLength;
    const entering = admission.enter(bytes.byteLength);
    if (entering !== undefined) {
      stats.waiting++;
      await entering;
      stats.waiting--;
    }
    try {
      return await decodeAndProcess(request, route, bytes, context, trace);
    } finally {
      admission.leave(bytes.byteLength);
      // Freed now rather than at the next full collection (external memory lingers there).
      if (read.owned) releaseBuffer(bytes);
    }
  }

  async function decodeAndProcess(
    request: Request,
    route: Route,
    body: Uint8Array,
    context: RouteContext,
    trace: Trace,
  ): Promise<Response> {
    const { now } = context;
    let decoded: DecodedBatch | Response;
    try {
      decoded = await route.decode(request, body, context);
    } catch (error) {
      // A route walking client data recursively (nested fields) runs out of stack on a body
      // nested thousands deep: the client's doing, so a 400 the client will not retry.
      if (error instanceof RangeError && /call stack/i.test(error.message)) {
        return refuse(
          route.errorBody,
          400,
          "too_deeply_nested",
          "the body nests too deeply to be decoded",
        );
      }
      throw error;
    }
    if (decoded instanceof Response) return decoded;
    if (limiter !== undefined) {
      const waitMs = limiter.take(decoded.tenant);
      if (waitMs > 0) {
        stats.rateLimited++;
        return refuse(route.errorBody, 429, "rate_limited", "too many requests for this tenant", {
          "retry-after": retryAfterSeconds(waitMs),
        });
      }
    }
    if (decoded.records.length > maxEventsPerRequest) {
      return tooLarge(
        route,
        "too_many_events",
        `the request has ${decoded.records.length} events: at most ${maxEventsPerRequest} per request`,
      );
    }
    if (decoded.requestKey !== undefined) {
      const problem = keyTooLong(decoded.requestKey);
      if (problem !== undefined) {
        return refuse(
          route.errorBody,
          400,
          "invalid_idempotency_key",
          `X-Idempotency-Key: ${problem}`,
        );
      }
    }
    return await process(route, decoded, body, now, trace);
  }

  async function process(
    route: Route,
    batch: DecodedBatch,
    body: Uint8Array,
    now: number,
    trace: Trace,
  ): Promise<Response> {
    const timing: DedupeTiming = { now, ttlMs: keyTtlMs, leaseMs };
    const owner = crypto.randomUUID();
    const { tenant, requestKey, records } = batch;
    const fingerprint = requestKey === undefined
      ? ""
      : batch.requestFingerprint ?? await sha256Hex(body);
    const claimedKeys: string[] = [];
    /** Reports `error`, frees the keys this request took and answers 503: the client retries. */
    const unavailable = async (error: unknown, taken: string[], what: string) => {
      onError(error);
      await release(tenant, owner, requestKey, taken);
      return refuse(route.errorBody, 503, "unavailable", `${what}; retry`, { "retry-after": "1" });
    };
    try {
      const results: RecordResult[] = new Array(records.length);
      // Each event's JSON when its size had to be measured, kept for the sink.
      const jsons: (string | undefined)[] = new Array(records.length);
      const keys: string[] = [];
      const keyIndexes: number[] = [];
      records.forEach((record, index) => {
        if (record.rejected !== undefined) {
          results[index] = { status: "rejected", ...record.rejected, retryable: false };
        } else if (
          (record.jsonBytesUpperBound ?? Infinity) > maxEventBytes &&
          tooLargeJson(jsons[index] = JSON.stringify(record.event), maxEventBytes)
        ) {
          results[index] = {
            status: "rejected",
            code: "event_too_large",
            reason: `the event is larger than ${maxEventBytes} bytes`,
            retryable: false,
          };
        } else if (record.key !== undefined) {
          const problem = keyTooLong(record.key);
          if (problem === undefined) {
            keys.push(record.key);
            keyIndexes.push(index);
          } else {
            results[index] = {
              status: "rejected",
              code: "invalid_idempotency_key",
              reason: problem,
              retryable: false,
            };
          }
        } else {
          results[index] = ACCEPTED;
        }
      });
      let claim: BatchClaim;
      try {
        const request = requestKey === undefined ? undefined : { key: requestKey, fingerprint };
        claim = await claimKeys(tenant, request, keys, owner, timing);
      } catch (error) {
        // The store is away: nothing is accepted without de-duplication.
        stats.storeFailures++;
        return await unavailable(error, keys, "the idempotency keys could not be checked");
      }
      switch (claim.request?.state) {
        case "completed":
          stats.duplicateRequests++;
          if (route.duplicate !== undefined) return route.duplicate(batch, claim.request.results);
          if (route.errorBody !== undefined) {
            return refuse(
              route.errorBody,
              409,
              "duplicate",
              "this X-Idempotency-Key was completed before",
            );
          }
          return jsonResponse(409, {
            error: "duplicate",
            detail:
              "this X-Idempotency-Key was completed before; results repeat the original answer",
            results: claim.request.results,
          });
        case "in_progress":
          stats.inProgress++;
          return refuse(
            route.errorBody,
            409,
            "in_progress",
            "a request with this X-Idempotency-Key is still being processed",
            { "retry-after": retryAfterSeconds(Math.min(claim.request.retryAfterMs, 1000)) },
          );
        case "mismatch":
          stats.keyReused++;
          return refuse(
            route.errorBody,
            422,
            "idempotency_key_reused",
            "this X-Idempotency-Key was already used with a different body",
          );
      }
      claim.events.forEach((state, j) => {
        const index = keyIndexes[j]!;
        if (state === "claimed") {
          claimedKeys.push(keys[j]!);
          results[index] = ACCEPTED;
        } else {
          results[index] = state === "duplicate" ? DUPLICATE : IN_PROGRESS;
        }
      });
      const accepted: AcceptedEvent[] = [];
      const acceptedIndexes: number[] = [];
      records.forEach((record, index) => {
        if (results[index]!.status !== "accepted") return;
        const { key, event } = record;
        const json = jsons[index];
        acceptedIndexes.push(index);
        accepted.push(
          key === undefined
            ? { tenant, route: route.name, receivedAt: now, event, json }
            : { tenant, route: route.name, key, receivedAt: now, event, json },
        );
      });
      if (accepted.length > 0) {
        try {
          if (sink.writeOnce === undefined) await sink.write(accepted);
          else {
            (await sink.writeOnce(accepted)).forEach((stored, i) => {
              if (!stored) results[acceptedIndexes[i]!] = DUPLICATE;
            });
          }
        } catch (error) {
          stats.sinkFailures++;
          return await unavailable(error, claimedKeys, "the events could not be stored");
        }
      }
      try {
        // A request with records to retry must not be frozen as completed: its
        // key is freed so the same request, resent, gets fresh answers.
        const final = !results.some((result) => result.status === "rejected" && result.retryable);
        await store.commit(tenant, {
          owner,
          request: requestKey === undefined || !final
            ? undefined
            : { key: requestKey, fingerprint, results },
          eventKeys: claimedKeys,
        }, timing);
        if (requestKey !== undefined && !final) {
          await store.release(tenant, { owner, requestKey, eventKeys: [] });
        }
      } catch (error) {
        // The events are stored: answer success; the keys fall back to their lease.
        stats.storeFailures++;
        onError(error);
      }
      for (const result of results) {
        if (result.status === "accepted") stats.accepted++;
        else if (result.status === "duplicate") stats.duplicates++;
        else stats.rejected++;
      }
      trace.results = results;
      return route.respond(batch, results);
    } catch (error) {
      return await unavailable(error, claimedKeys, "the request could not be processed");
    }
  }

  async function claimKeys(
    tenant: string,
    request: { key: string; fingerprint: string } | undefined,
    keys: readonly string[],
    owner: string,
    timing: DedupeTiming,
  ): Promise<BatchClaim> {
    if (request === undefined && keys.length === 0) return { events: [] };
    if (store.claimBatch !== undefined) {
      return await store.claimBatch(tenant, request, keys, owner, timing);
    }
    if (request === undefined) {
      return { events: await store.claimEvents(tenant, keys, owner, timing) };
    }
    const claimed = await store.claimRequest(
      tenant,
      request.key,
      request.fingerprint,
      owner,
      timing,
    );
    if (claimed.state !== "claimed" || keys.length === 0) return { request: claimed, events: [] };
    return { request: claimed, events: await store.claimEvents(tenant, keys, owner, timing) };
  }

  async function release(
    tenant: string,
    owner: string,
    requestKey: string | undefined,
    eventKeys: readonly string[],
  ): Promise<void> {
    try {
      await store.release(tenant, { owner, requestKey, eventKeys });
    } catch (error) {
      stats.storeFailures++;
      onError(error);
    }
  }

  function report(request: Request, response: Response, trace: Trace, started: number): void {
    let accepted = 0;
    let duplicates = 0;
    const rejected: Record<string, number> = {};
    for (const result of trace.results ?? []) {
      if (result.status === "accepted") accepted++;
      else if (result.status === "duplicate") duplicates++;
      else rejected[result.code] = (rejected[result.code] ?? 0) + 1;
    }
    try {
      onRequest!({
        route: trace.route,
        method: request.method,
        status: response.status,
        durationMs: performance.now() - started,
        bodyBytes: trace.bodyBytes,
        accepted,
        duplicates,
        rejected,
      });
    } catch (error) {
      onError(error);
    }
  }

  async function answer(request: Request, info: ReceiverInfo | undefined): Promise<Response> {
    const started = performance.now();
    const trace: Trace = { route: undefined, bodyBytes: 0, results: undefined };
    let response: Response;
    try {
      response = await handle(request, info, trace);
    } catch (error) {
      onError(error);
      response = errorResponse(500, "internal_error", "the receiver failed on this request");
    }
    if (corsRules !== undefined) response = corsRules.decorate(request, response);
    if (onRequest !== undefined) report(request, response, trace, started);
    return response;
  }

  const receiver = (request: Request, info?: ReceiverInfo): Promise<Response> => {
    stats.requests++;
    if (closing || stats.inFlight >= maxConcurrentRequests) {
      if (!closing) stats.overloaded++;
      // Before any route is matched: in the routes' shape when they all share one.
      const refused = refuse(
        sharedErrorBody,
        503,
        "unavailable",
        closing ? "the receiver is shutting down; retry" : "too many requests in progress; retry",
        { "retry-after": "1", connection: "close" },
      );
      const response = corsRules?.decorate(request, refused) ?? refused;
      if (onRequest !== undefined) {
        const now = performance.now();
        report(request, response, { route: undefined, bodyBytes: 0, results: undefined }, now);
      }
      return Promise.resolve(response);
    }
    stats.inFlight++;
    const pending = answer(request, info).finally(() => {
      stats.inFlight--;
      inFlight.delete(pending);
    });
    inFlight.add(pending);
    return pending;
  };

  async function ping(part: Sink | DedupeStore, timeoutMs: number): Promise<string | undefined> {
    if (part.ping === undefined) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const reachable = await Promise.race([
        part.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      return reachable === false ? "not reachable" : undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      clearTimeout(timer);
    }
  }

  return Object.assign(receiver, {
    stats,
    async ready(timeoutMs = 2_000): Promise<ReadyReport> {
      const [storeProblem, sinkProblem] = await Promise.all([
        ping(store, timeoutMs),
        ping(sink, timeoutMs),
      ]);
      return {
        ready: !closing && storeProblem === undefined && sinkProblem === undefined,
        closing,
        ...(storeProblem === undefined ? {} : { store: storeProblem }),
        ...(sinkProblem === undefined ? {} : { sink: sinkProblem }),
      };
    },
    async close(): Promise<void> {
      closing = true;
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await sink.close?.();
      await store.close?.();
    },
  });
}
