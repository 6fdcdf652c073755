import { errorResponse } from "./http.ts";

/** Options of the receiver's CORS support (`createReceiver({ cors })`). */
export interface CorsOptions {
  /**
   * Origins whose pages may send events (`https://app.example.com`, exactly as
   * browsers send `Origin`), or `"*"` for any. Others get no CORS headers (and
   * 403 to a preflight), so their browsers refuse to send.
   */
  allowedOrigins: readonly string[] | "*";
  /** How long a browser may cache a preflight answer, seconds. @default {600} */
  maxAgeSeconds?: number;
}

/** Defaults of {@linkcode CorsOptions}. */
export const DEFAULT_CORS_OPTIONS: Readonly<{ maxAgeSeconds: number }> = Object.freeze({
  maxAgeSeconds: 600,
});

/** Response headers a page may read: the retry hint and the idempotency keys. */
const EXPOSED_HEADERS = "retry-after, x-idempotency-key, idempotency-key";
// A comma-separated list of header names (RFC 9110 tokens; \x27 and \x60 are ' and `).
const HEADER_LIST =
  /^[!#$%&\x27*+.^_\x60|~0-9A-Za-z-]+(?:\s*,\s*[!#$%&\x27*+.^_\x60|~0-9A-Za-z-]+)*$/;

/** What the receiver does with CORS: answer preflights, and mark answers to allowed origins. */
export interface CorsPolicy {
  /**
   * The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`)
   * for a path served with `methods`, or undefined when `request` is not one.
   */
  preflight(request: Request, methods: readonly string[]): Response | undefined;
  /** Adds the CORS headers to an answer when the request's `Origin` is allowed. */
  decorate(request: Request, response: Response): Response;
}

/**
 * Builds the CORS policy of a receiver: preflights from allowed origins are
 * answered 204 with the route's methods and the headers asked for; answers
 * to allowed origins carry `Access-Control-Allow-Origin` and expose
 * `Retry-After` and the idempotency-key headers.
 *
 * @example Usage
 * ```ts
 * import { corsPolicy } from "./cors.ts";
 * import assert from "node:assert/strict";
 *
 * const cors = corsPolicy({ allowedOrigins: ["https://app.example"] });
 * const preflight = cors.preflight(new Request("http://x/v1/events/batch", {
 *   method: "OPTIONS",
 *   headers: { origin: "https://app.example", "access-control-request-method": "POST" },
 * }), ["POST"]);
 * assert.equal(preflight?.status, 204);
 * assert.equal(preflight?.headers.get("access-control-allow-origin"), "https://app.example");
 * ```
 */
export function corsPolicy(options: CorsOptions): CorsPolicy {
  const { allowedOrigins, maxAgeSeconds = DEFAULT_CORS_OPTIONS.maxAgeSeconds } = options;
  if (allowedOrigins !== "*" && !Array.isArray(allowedOrigins)) {
    throw new TypeError(
      `Cannot create CORS policy as 'allowedOrigins' must be an array of origins or "*": current value is ${
        JSON.stringify(allowedOrigins)
      }`,
    );
  }
  const origins = new Set(allowedOrigins === "*" ? [] : allowedOrigins);
  for (const origin of origins) {
    if (typeof origin !== "string" || !/^https?:\/\/[^/]+$/.test(origin)) {
      throw new TypeError(
        `Cannot create CORS policy as every allowed origin must look like "https://host[:port]" (no path): current value is ${
          JSON.stringify(origin)
        }`,
      );
    }
  }
  if (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 0) {
    throw new RangeError(
      `Cannot create CORS policy as 'maxAgeSeconds' must be a non-negative integer: current value is ${maxAgeSeconds}`,
    );
  }
  const allowed = (origin: string | null): origin is string =>
    origin !== null && (allowedOrigins === "*" || origins.has(origin));

  return {
    preflight(request, methods) {
      const method = request.headers.get("access-control-request-method");
      if (request.method !== "OPTIONS" || method === null) return undefined;
      const origin = request.headers.get("origin");
      if (!allowed(origin)) {
        return errorResponse(403, "origin_not_allowed", "this origin may not send events here", {
          vary: "origin",
        });
      }
      const headers: Record<string, string> = {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": methods.join(", "),
        "access-control-max-age": String(maxAgeSeconds),
        vary: "origin, access-control-request-method, access-control-request-headers",
      };
      const asked = request.headers.get("access-control-request-headers");
      // The origin is trusted: the headers it asks for are allowed (a route may read its own).
      if (asked !== null && HEADER_LIST.test(asked)) {
        headers["access-control-allow-headers"] = asked;
      }
      return new Response(null, { status: 204, headers });
    },
    decorate(request, response) {
      const origin = request.headers.get("origin");
      if (!allowed(origin)) return response;
      try {
        response.headers.set("access-control-allow-origin", origin);
        response.headers.set("access-control-expose-headers", EXPOSED_HEADERS);
        response.headers.append("vary", "origin");
        return response;
      } catch {
        // Immutable headers (a Response a route got from fetch()): copy it.
        const copy = new Response(response.body, response);
        return this.decorate(request, copy);
      }
    },
  };
}
