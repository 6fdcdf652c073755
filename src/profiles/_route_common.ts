/**
 * Helpers shared by the routes that emulate the services in the receiver.
 *
 * @module
 */
import type { JsonObject, JsonValue } from "../event.ts";
import { type RateLimit, TokenBucket } from "../token_bucket.ts";

/** A JSON response. */
export function jsonResponse(
  status: number,
  body: JsonValue,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** Parses a request body as JSON, or `undefined` if it is not JSON. */
export function parseBody(body: Uint8Array): JsonValue | undefined {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)) as JsonValue;
  } catch {
    return undefined;
  }
}

/** True for a plain JSON object. */
export function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Most keys a limiter tracks before it forgets them all (a test server, not a gateway). */
const MAX_TRACKED_KEYS = 10_000;

/**
 * Token buckets per key (tenant, client IP) on the request's receipt time, so
 * tests drive them with `RouteContext.now` instead of sleeping.
 */
export class KeyedRateLimiter {
  readonly #limit: RateLimit;
  readonly #buckets = new Map<string, TokenBucket>();
  #now = 0;

  constructor(limit: RateLimit) {
    this.#limit = limit;
  }

  /** Takes `count` tokens for `key` at time `now`; returns 0 or the milliseconds to wait. */
  take(key: string, now: number, count = 1): number {
    this.#now = now;
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_TRACKED_KEYS) this.#buckets.clear();
      bucket = new TokenBucket({
        ratePerSecond: this.#limit.requestsPerSecond,
        burst: this.#limit.burst,
        now: () => this.#now,
      });
      this.#buckets.set(key, bucket);
    }
    // A request larger than the whole bucket could never pass: cap it at the burst.
    return bucket.take(Math.min(count, this.#limit.burst));
  }
}

/** `Retry-After` seconds for a wait in milliseconds (at least 1). */
export function retryAfterSeconds(waitMs: number): string {
  return String(Math.max(1, Math.ceil(waitMs / 1000)));
}
