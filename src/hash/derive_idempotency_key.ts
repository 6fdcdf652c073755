import { sha256Hex } from "../../wasm/hash.ts";
import { type KeyPolicy, STRICT_KEY_POLICY, validateIdempotencyKey } from "../idempotency_key.ts";

/** Longest part kept verbatim in a derived key; longer parts are hashed down. */
const MAX_VERBATIM_PART = 40;
const SAFE_PART = /^[A-Za-z0-9._]+$/;
const HASH_CHARS = 16;

/**
 * Builds a deterministic key from meaningful parts, as SuprSend's
 * documentation suggests (`user147-new-comment-1687437670`), made valid for the strict policy.
 *
 * Parts are joined with `-`. A part that is empty, contains a character outside
 * `[A-Za-z0-9._]` (including `-`, which would make two different part lists
 * collide) or is longer than 40 characters is replaced by 16 hex characters of
 * its SHA-256. If the result is still longer than `policy.maxLength` its tail is
 * replaced by a hash of the whole; if shorter than `minLength` a hash is appended.
 * The same parts always give the same key.
 *
 * @example Usage
 * ```ts
 * import { deriveIdempotencyKey } from "./derive_idempotency_key.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(deriveIdempotencyKey(["user147", "new_comment", 1687437670]), "user147-new_comment-1687437670");
 * assert.match(deriveIdempotencyKey(["user@example.com", "signup"]), /^[0-9a-f]{16}-signup$/);
 * ```
 */
export function deriveIdempotencyKey(
  parts: ReadonlyArray<string | number | bigint>,
  policy: KeyPolicy = STRICT_KEY_POLICY,
): string {
  if (parts.length === 0) {
    throw new RangeError(
      "Cannot derive idempotency key as 'parts' must not be empty: current length is 0",
    );
  }
  const safe = parts.map((part) => {
    const text = String(part);
    return text.length > 0 && text.length <= MAX_VERBATIM_PART && SAFE_PART.test(text)
      ? text
      : sha256Hex(text).slice(0, HASH_CHARS);
  });
  let key = safe.join("-");
  if (key.length > policy.maxLength) {
    const digest = sha256Hex(JSON.stringify(parts.map(String))).slice(0, HASH_CHARS);
    const keep = Math.max(0, policy.maxLength - HASH_CHARS - 1);
    key = keep > 0 ? `${key.slice(0, keep)}-${digest}` : digest.slice(0, policy.maxLength);
  }
  if (key.length < policy.minLength) {
    key = `${key}-${sha256Hex(key).slice(0, Math.max(HASH_CHARS, policy.minLength))}`.slice(
      0,
      Math.min(policy.maxLength, Math.max(policy.minLength, key.length + 1 + HASH_CHARS)),
    );
  }
  return validateIdempotencyKey(key, policy);
}
