import { sha256Hex } from "../../wasm/hash.ts";
import { timingSafeEqual } from "../_util/timing_safe_equal.ts";
import { errorResponse } from "./http.ts";

/**
 * Finds the tenant a request belongs to, or answers it (401). Routes take one
 * so the same credentials scheme serves every wire format.
 */
export type Authenticator = (request: Request) => string | Response;

/** Options of {@linkcode bearerAuth}. */
export interface BearerAuthOptions {
  /** Accepted tokens and the tenant each one maps to. */
  tokens: Readonly<Record<string, string>>;
}

/**
 * Authenticates `Authorization: Bearer <token>` against a token → tenant map.
 * Every known token is compared (by SHA-256, in constant time), so timing says
 * nothing about which token came close. Failures answer 401 with a short
 * reason and never echo the token.
 *
 * @example Usage
 * ```ts
 * import { bearerAuth } from "./auth.ts";
 * import assert from "node:assert/strict";
 *
 * const auth = bearerAuth({ tokens: { "s3cret-token": "acme" } });
 * const ok = new Request("http://x/", { headers: { authorization: "Bearer s3cret-token" } });
 * assert.equal(auth(ok), "acme");
 * const bad = auth(new Request("http://x/", { headers: { authorization: "Bearer nope" } }));
 * assert.equal((bad as Response).status, 401);
 * ```
 */
export function bearerAuth(options: BearerAuthOptions): Authenticator {
  const entries = Object.entries(options.tokens).map(([token, tenant]) => {
    if (token.length === 0 || typeof tenant !== "string" || tenant.length === 0) {
      throw new TypeError(
        "Cannot create bearer auth as every entry of 'tokens' must map a non-empty token to a non-empty tenant",
      );
    }
    return { digest: sha256Hex(token), tenant };
  });
  const challenge = { "www-authenticate": 'Bearer realm="idemtrack"' };
  return (request) => {
    const header = request.headers.get("authorization");
    if (header === null) {
      return errorResponse(401, "unauthorized", "missing Authorization: Bearer <token>", challenge);
    }
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (match === null) {
      return errorResponse(401, "unauthorized", "Authorization is not a Bearer token", challenge);
    }
    const digest = sha256Hex(match[1]!);
    let tenant: string | undefined;
    for (const entry of entries) {
      if (timingSafeEqual(digest, entry.digest)) tenant = entry.tenant;
    }
    return tenant ??
      errorResponse(401, "unauthorized", "the bearer token is not valid", challenge);
  };
}

/** An authenticator that lets every request in as one tenant (a collector with no credentials). */
export function openAuth(tenant = "default"): Authenticator {
  return () => tenant;
}
