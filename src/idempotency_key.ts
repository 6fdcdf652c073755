import { optionChecks } from "./_util/checks.ts";
import { IdempotencyKeyError } from "./errors/idempotency_key_error.ts";

/** Rules an idempotency key must satisfy; one policy per destination service. */
export interface KeyPolicy {
  /** Name shown in errors. */
  readonly name: string;
  /** Minimum length in characters, after trimming when `trim` is set. */
  readonly minLength: number;
  /** Maximum length in characters, after trimming when `trim` is set. */
  readonly maxLength: number;
  /** Pattern every key must match in full, or `undefined` for any characters. */
  readonly pattern?: RegExp;
  /** Human description of the allowed characters. */
  readonly charset: string;
  /** Whether surrounding whitespace is trimmed before checking (the service trims it too). */
  readonly trim: boolean;
}

/**
 * SaaSquatch's rule: 8–64 characters of `[A-Za-z0-9._-]`. The
 * default, because a key valid here is valid everywhere else too.
 */
export const STRICT_KEY_POLICY: KeyPolicy = Object.freeze({
  name: "strict",
  minLength: 8,
  maxLength: 64,
  pattern: /^[A-Za-z0-9._-]+$/,
  charset: "letters, digits, '.', '_' and '-'",
  trim: false,
});

/** SuprSend's rule: any string of 1–255 characters after trimming. */
export const LENIENT_KEY_POLICY: KeyPolicy = Object.freeze({
  name: "lenient",
  minLength: 1,
  maxLength: 255,
  charset: "any characters",
  trim: true,
});

/** Options of {@linkcode createKeyPolicy}. */
export interface KeyPolicyOptions {
  /** Name shown in errors. @default {"custom"} */
  name?: string;
  /** Minimum length. @default {1} */
  minLength?: number;
  /** Maximum length. @default {255} */
  maxLength?: number;
  /** Pattern each key must match in full. @default {undefined} */
  pattern?: RegExp;
  /** Description of the allowed characters, for errors. @default {pattern.source or "any characters"} */
  charset?: string;
  /** Trim surrounding whitespace first. @default {false} */
  trim?: boolean;
}

/**
 * Builds a custom key policy.
 *
 * @example Usage
 * ```ts
 * import { createKeyPolicy, validateIdempotencyKey } from "./idempotency_key.ts";
 * import assert from "node:assert/strict";
 *
 * const hexOnly = createKeyPolicy({ name: "hex", minLength: 16, maxLength: 16, pattern: /^[0-9a-f]+$/ });
 * assert.equal(validateIdempotencyKey("9c915a48e71cdd42", hexOnly), "9c915a48e71cdd42");
 * assert.throws(() => validateIdempotencyKey("not-hex-at-all!!", hexOnly));
 * ```
 */
export function createKeyPolicy(options: KeyPolicyOptions = {}): KeyPolicy {
  const {
    name = "custom",
    minLength = 1,
    maxLength = 255,
    pattern,
    charset = pattern ? `characters matching ${pattern.source}` : "any characters",
    trim = false,
  } = options;
  optionChecks("create key policy").positiveInteger("minLength", minLength);
  if (!Number.isInteger(maxLength) || maxLength < minLength) {
    throw new RangeError(
      `Cannot create key policy as 'maxLength' must be an integer >= 'minLength' (${minLength}): current value is ${maxLength}`,
    );
  }
  const anchored = pattern === undefined ? undefined : anchor(pattern);
  return Object.freeze({ name, minLength, maxLength, pattern: anchored, charset, trim });
}

/**
 * Makes a pattern match whole keys only. Always wraps, because a source that
 * merely starts with `^` and ends with `$` (`^a|b$`) is not anchored; drops
 * `g`/`y` (stateful `test`) and `m` (`^`/`$` would match at line breaks).
 */
function anchor(pattern: RegExp): RegExp {
  return new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace(/[gym]/g, ""));
}

function describe(policy: KeyPolicy): string {
  return `${policy.minLength}–${policy.maxLength} characters of ${policy.charset}`;
}

/**
 * Checks a key against a policy and returns it (trimmed if the policy trims).
 *
 * @throws {IdempotencyKeyError} naming the rule that failed; the message shows
 * at most a short prefix of the key.
 *
 * @example Usage
 * ```ts
 * import { validateIdempotencyKey, STRICT_KEY_POLICY } from "./idempotency_key.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(validateIdempotencyKey("order-1234", STRICT_KEY_POLICY), "order-1234");
 * assert.throws(() => validateIdempotencyKey("short", STRICT_KEY_POLICY));
 * ```
 */
export function validateIdempotencyKey(
  key: unknown,
  policy: KeyPolicy = STRICT_KEY_POLICY,
): string {
  if (typeof key !== "string") {
    throw new IdempotencyKeyError("type", policy.name, `a string of ${describe(policy)}`, key);
  }
  const value = policy.trim ? key.trim() : key;
  if (value.length < policy.minLength) {
    throw new IdempotencyKeyError("minLength", policy.name, describe(policy), key);
  }
  if (value.length > policy.maxLength) {
    throw new IdempotencyKeyError("maxLength", policy.name, describe(policy), key);
  }
  if (policy.pattern !== undefined && !policy.pattern.test(value)) {
    throw new IdempotencyKeyError("pattern", policy.name, describe(policy), key);
  }
  return value;
}

/** True when the key satisfies the policy. */
export function isValidIdempotencyKey(
  key: unknown,
  policy: KeyPolicy = STRICT_KEY_POLICY,
): boolean {
  try {
    validateIdempotencyKey(key, policy);
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh random key (UUID v4): valid under the strict and lenient policies.
 *
 * @example Usage
 * ```ts
 * import { generateIdempotencyKey } from "./idempotency_key.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(generateIdempotencyKey(), /^[0-9a-f-]{36}$/);
 * ```
 */
export function generateIdempotencyKey(): string {
  return crypto.randomUUID();
}
