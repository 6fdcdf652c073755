import { md5Hex, sha256Bytes } from "../../wasm/hash.ts";
import { encodeBase64 } from "../_util/base64.ts";
import { timingSafeEqual } from "../_util/timing_safe_equal.ts";

/**
 * Hamustro's request signature:
 * `base64(sha256_raw(time + "|" + md5hex(body) + "|" + secret))` — the raw
 * 32-byte digest, so the result is 44 characters.
 *
 * @param time The `X-Hamustro-Time` header value (epoch seconds).
 * @param body The exact request body bytes (a string is hashed as UTF-8).
 * @param secret The shared secret; it never appears in errors or logs.
 *
 * @example Usage
 * ```ts
 * import { signHamustro } from "./signature.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(signHamustro(1454514088, "{}", "s3cret").length, 44);
 * ```
 */
export function signHamustro(
  time: number | string,
  body: string | Uint8Array,
  secret: string,
): string {
  return encodeBase64(sha256Bytes(`${time}|${md5Hex(body)}|${secret}`));
}

/**
 * Checks a Hamustro signature in constant time.
 *
 * @example Usage
 * ```ts
 * import { signHamustro, verifyHamustro } from "./signature.ts";
 * import assert from "node:assert/strict";
 *
 * const signature = signHamustro(1454514088, "{}", "s3cret");
 * assert.equal(verifyHamustro(1454514088, "{}", "s3cret", signature), true);
 * assert.equal(verifyHamustro(1454514088, "{ }", "s3cret", signature), false);
 * ```
 */
export function verifyHamustro(
  time: number | string,
  body: string | Uint8Array,
  secret: string,
  signature: string,
): boolean {
  return timingSafeEqual(signHamustro(time, body, secret), signature);
}
