/**
 * Helpers shared by the routes that emulate the services in the receiver.
 *
 * @module
 */
import type { JsonObject, JsonValue } from "../event.ts";
import { RateLimiter } from "../receiver/rate_limiter.ts";
import type { RateLimit } from "../kit/token_bucket.ts";

export { errorResponse, jsonResponse, retryAfterSeconds } from "../receiver/http.ts";

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

/**
 * Token buckets per key (tenant, client IP) on the request's receipt time, so
 * tests drive them with `RouteContext.now` instead of sleeping. Returns 0 or
 * the milliseconds to wait.
 */
export function keyedRateLimiter(
  limit: RateLimit,
): (key: string, now: number, count?: number) => number {
  let receivedAt = 0;
  const limiter = new RateLimiter(limit, () => receivedAt);
  return (key, now, count = 1) => {
    receivedAt = now;
    return limiter.take(key, count);
  };
}
