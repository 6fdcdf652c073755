import { optionChecks } from "../_util/checks.ts";
import { compilePathPattern, type PathPattern } from "./_path_pattern.ts";
import { sha256Hex } from "../../wasm/hash.ts";
import { utf8ByteLength } from "../_util/utf8.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import type { RateLimit } from "../kit/token_bucket.ts";
import { readBody } from "./_body.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { errorResponse, jsonResponse, retryAfterSeconds } from "./http.ts";
import type { BatchClaim, DedupeStore, DedupeTiming } from "./dedupe_store.ts";
import { createJsonRoute } from "./json_route.ts";
import { MemoryDedupeStore } from "./memory_dedupe_store.ts";
import type { DecodedBatch, RecordResult, Route } from "./route.ts";
import type { AcceptedEvent, Sink } from "./sink.ts";

const { positiveInteger } = optionChecks("create receiver");

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
}

/** Defaults of {@linkcode ReceiverOptions} (the store and routes are created per receiver). */
export const DEFAULT_RECEIVER_OPTIONS: Readonly<{
  keyTtlMs: number;
  leaseMs: number;
  maxBodyBytes: number;
  maxEventsPerRequest: number;
  maxEventBytes: number;
  rateLimit: false;
  clock: Pick<Clock, "now">;
  onError: (error: unknown) => void;
}> = Object.freeze({
  keyTtlMs: 24 * 60 * 60 * 1000,
  leaseMs: 60_000,
  maxBodyBytes: 512 * 1024,
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
  /** Closes the sink and the store. */
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

interface CompiledRoute {
  readonly route: Route;
  readonly pattern: PathPattern;
}

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
  const {
    sink,
    routes = [createJsonRoute()],
    store = new MemoryDedupeStore() as DedupeStore,
    keyTtlMs = DEFAULT_RECEIVER_OPTIONS.keyTtlMs,
    leaseMs = DEFAULT_RECEIVER_OPTIONS.leaseMs,
    maxBodyBytes = DEFAULT_RECEIVER_OPTIONS.maxBodyBytes,
    maxEventsPerRequest = DEFAULT_RECEIVER_OPTIONS.maxEventsPerRequest,
    maxEventBytes = DEFAULT_RECEIVER_OPTIONS.maxEventBytes,
    rateLimit = DEFAULT_RECEIVER_OPTIONS.rateLimit,
    clock = DEFAULT_RECEIVER_OPTIONS.clock,
    onError = DEFAULT_RECEIVER_OPTIONS.onError,
  } = options;
  if (typeof sink?.write !== "function") {
    throw new TypeError("Cannot create receiver as 'sink' must have a write() method");
  }
  positiveInteger("keyTtlMs", keyTtlMs);
  positiveInteger("leaseMs", leaseMs);
  positiveInteger("maxBodyBytes", maxBodyBytes);
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
  };

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

  function tooLarge(route: Route, code: string, detail: string): Response {
    stats.tooLarge++;
    return refuse(route.errorBody, 413, code, detail);
  }

  async function handle(request: Request, info?: ReceiverInfo): Promise<Response> {
    stats.requests++;
    const matched = match(request);
    if (matched instanceof Response) return matched;
    const { route, params } = matched;
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
    const read = await readBody(request, route.maxBodyBytes ?? maxBodyBytes);
    if ("problem" in read) {
      const problem = read.problem;
      if (problem.kind === "too_large") {
        return tooLarge(
          route,
          "payload_too_large",
          `the body is larger than ${problem.limit} bytes`,
        );
      }
      if (problem.kind === "unsupported_encoding") {
        return refuse(
          route.errorBody,
          415,
          "unsupported_encoding",
          `Content-Encoding ${
            JSON.stringify(problem.encoding.slice(0, 40))
          } is not supported: use gzip, deflate or identity`,
        );
      }
      return refuse(route.errorBody, 400, "malformed_body", problem.detail);
    }
    const body = read.bytes;
    const now = clock.now();
    const decoded = await route.decode(request, body, {
      now,
      params,
      remoteAddr: remoteAddrOf(info),
    });
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
    return await process(route, decoded, body, now);
  }

  async function process(
    route: Route,
    batch: DecodedBatch,
    body: Uint8Array,
    now: number,
  ): Promise<Response> {
    const timing: DedupeTiming = { now, ttlMs: keyTtlMs, leaseMs };
    const owner = crypto.randomUUID();
    const { tenant, requestKey, records } = batch;
    const fingerprint = requestKey === undefined ? "" : batch.requestFingerprint ?? sha256Hex(body);
    const claimedKeys: string[] = [];
    try {
      const results: RecordResult[] = new Array(records.length);
      const keys: string[] = [];
      const keyIndexes: number[] = [];
      records.forEach((record, index) => {
        if (record.rejected !== undefined) {
          results[index] = { status: "rejected", ...record.rejected, retryable: false };
        } else if (
          (record.jsonBytesUpperBound ?? Infinity) > maxEventBytes &&
          utf8ByteLength(JSON.stringify(record.event)) > maxEventBytes
        ) {
          results[index] = {
            status: "rejected",
            code: "event_too_large",
            reason: `the event is larger than ${maxEventBytes} bytes`,
            retryable: false,
          };
        } else if (record.key !== undefined) {
          keys.push(record.key);
          keyIndexes.push(index);
        } else {
          results[index] = { status: "accepted" };
        }
      });
      let claim: BatchClaim;
      try {
        const request = requestKey === undefined ? undefined : { key: requestKey, fingerprint };
        claim = await claimKeys(tenant, request, keys, owner, timing);
      } catch (error) {
        // The store is away: nothing is accepted without de-duplication.
        onError(error);
        await release(tenant, owner, requestKey, keys);
        return refuse(
          route.errorBody,
          503,
          "unavailable",
          "the idempotency keys could not be checked; retry",
          {
            "retry-after": "1",
          },
        );
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
          results[index] = { status: "accepted" };
        } else {
          results[index] = state === "duplicate" ? { status: "duplicate" } : IN_PROGRESS;
        }
      });
      const accepted: AcceptedEvent[] = [];
      const acceptedIndexes: number[] = [];
      records.forEach((record, index) => {
        if (results[index]!.status !== "accepted") return;
        const { key, event } = record;
        acceptedIndexes.push(index);
        accepted.push(
          key === undefined
            ? { tenant, route: route.name, receivedAt: now, event }
            : { tenant, route: route.name, key, receivedAt: now, event },
        );
      });
      if (accepted.length > 0) {
        try {
          if (sink.writeOnce === undefined) await sink.write(accepted);
          else {
            (await sink.writeOnce(accepted)).forEach((stored, i) => {
              if (!stored) results[acceptedIndexes[i]!] = { status: "duplicate" };
            });
          }
        } catch (error) {
          stats.sinkFailures++;
          onError(error);
          await release(tenant, owner, requestKey, claimedKeys);
          return refuse(
            route.errorBody,
            503,
            "unavailable",
            "the events could not be stored; retry",
            {
              "retry-after": "1",
            },
          );
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
        onError(error);
      }
      for (const result of results) {
        if (result.status === "accepted") stats.accepted++;
        else if (result.status === "duplicate") stats.duplicates++;
        else stats.rejected++;
      }
      return route.respond(batch, results);
    } catch (error) {
      onError(error);
      await release(tenant, owner, requestKey, claimedKeys);
      return refuse(
        route.errorBody,
        503,
        "unavailable",
        "the request could not be processed; retry",
        {
          "retry-after": "1",
        },
      );
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
      onError(error);
    }
  }

  const receiver = async (request: Request, info?: ReceiverInfo): Promise<Response> => {
    try {
      return await handle(request, info);
    } catch (error) {
      onError(error);
      return errorResponse(500, "internal_error", "the receiver failed on this request");
    }
  };
  return Object.assign(receiver, {
    stats,
    async close(): Promise<void> {
      await sink.close?.();
      await store.close?.();
    },
  });
}
