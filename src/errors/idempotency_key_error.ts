import { guardFor, IdemtrackError, preview } from "./idemtrack_error.ts";

/** Which rule of a key policy a rejected idempotency key broke. */
export type IdempotencyKeyRule = "type" | "minLength" | "maxLength" | "pattern";

/** An idempotency key was rejected by the key policy in force. */
export class IdempotencyKeyError extends IdemtrackError {
  /** The rule that failed. */
  readonly rule: IdempotencyKeyRule;
  /** Name of the policy ("strict", "lenient" or a custom name). */
  readonly policy: string;
  /** Human-readable description of the allowed form. */
  readonly allowed: string;

  /** Creates the error for a `key` that broke `rule` of the named `policy`; the message shows only a short prefix of the key. */
  constructor(rule: IdempotencyKeyRule, policy: string, allowed: string, key: unknown) {
    const shown = typeof key === "string" ? `${preview(key)} (${key.length} chars)` : typeof key;
    super(
      `Cannot use idempotency key ${shown}: it breaks the '${rule}' rule of the '${policy}' policy, which allows ${allowed}`,
    );
    this.name = "IdempotencyKeyError";
    this.rule = rule;
    this.policy = policy;
    this.allowed = allowed;
  }
}

/** Name-based guard for {@linkcode IdempotencyKeyError}. */
export const isIdempotencyKeyError: (error: unknown) => error is IdempotencyKeyError = guardFor(
  "IdempotencyKeyError",
  IdempotencyKeyError,
);
