import { rejectUnknownOptions } from "../_util/checks.ts";

/** Options of the retry policy (see {@linkcode planRetry}). */
export interface RetryOptions {
  /** Retries after the first send before giving up. @default {10} */
  maxRetries?: number;
  /** First backoff ceiling, milliseconds: attempt `n` waits `random(0, min(cap, base·2^n))`. @default {200} */
  backoffBaseMs?: number;
  /** Largest single backoff, milliseconds. @default {30000} */
  backoffCapMs?: number;
  /** Most time a batch may spend waiting between its sends, all waits together, milliseconds. @default {900000} */
  maxTotalBackoffMs?: number;
  /** Shortest wait when the server sends `Retry-After` (also for `Retry-After: 0`), milliseconds. @default {100} */
  retryAfterFloorMs?: number;
  /** Longest wait a `Retry-After` may impose, milliseconds. @default {300000} */
  retryAfterCapMs?: number;
  /**
   * How many answers with `Retry-After` a batch may get before they count
   * against `maxRetries`: a server that says when to come back is not failing.
   * @default {3}
   */
  freeRetryAfters?: number;
  /** Random source in `[0, 1)`, injectable for tests. @default {Math.random} */
  random?: () => number;
}

/** The retry defaults, in one place. */
export const DEFAULT_RETRY_OPTIONS: Readonly<Required<RetryOptions>> = Object.freeze({
  maxRetries: 10,
  backoffBaseMs: 200,
  backoffCapMs: 30_000,
  maxTotalBackoffMs: 900_000,
  retryAfterFloorMs: 100,
  retryAfterCapMs: 300_000,
  freeRetryAfters: 3,
  random: Math.random,
});

/** Where a batch stands in its retry budget. */
export interface RetryState {
  /** Retries counted against `maxRetries` so far. */
  readonly retries: number;
  /** `Retry-After` answers not counted against the budget so far. */
  readonly freeRetryAftersUsed: number;
  /** Milliseconds waited between sends so far. */
  readonly waitedMs: number;
}

/** A fresh batch's retry state. */
export const INITIAL_RETRY_STATE: RetryState = Object.freeze({
  retries: 0,
  freeRetryAftersUsed: 0,
  waitedMs: 0,
});

/** What {@linkcode planRetry} decided. */
export type RetryPlan =
  | { readonly retry: true; readonly delayMs: number; readonly state: RetryState }
  | { readonly retry: false; readonly reason: string };

function nonNegative(name: string, value: number, integer: boolean): void {
  if (!(value >= 0) || (integer && Number.isFinite(value) && !Number.isInteger(value))) {
    throw new RangeError(
      `Cannot retry as '${name}' must be a non-negative ${
        integer ? "integer" : "number"
      }: current value is ${value}`,
    );
  }
}

/**
 * Validates retry options and fills in defaults; a number is `maxRetries`
 * with every other default (ky's `retry: number | RetryOptions`).
 *
 * @throws {RangeError} naming the bad option.
 */
export function resolveRetryOptions(
  options: number | RetryOptions = {},
): Readonly<Required<RetryOptions>> {
  const resolved = { ...DEFAULT_RETRY_OPTIONS };
  const given = typeof options === "number" ? { maxRetries: options } : options;
  rejectUnknownOptions("retry", given, Object.keys(DEFAULT_RETRY_OPTIONS));
  for (const [key, value] of Object.entries(given)) {
    if (value !== undefined) (resolved as Record<string, unknown>)[key] = value;
  }
  nonNegative("maxRetries", resolved.maxRetries, true);
  nonNegative("backoffBaseMs", resolved.backoffBaseMs, false);
  nonNegative("backoffCapMs", resolved.backoffCapMs, false);
  nonNegative("maxTotalBackoffMs", resolved.maxTotalBackoffMs, false);
  nonNegative("retryAfterFloorMs", resolved.retryAfterFloorMs, false);
  nonNegative("retryAfterCapMs", resolved.retryAfterCapMs, false);
  nonNegative("freeRetryAfters", resolved.freeRetryAfters, true);
  if (typeof resolved.random !== "function") {
    throw new TypeError(
      `Cannot retry as 'random' must be a function: current value is ${typeof resolved.random}`,
    );
  }
  return Object.freeze(resolved);
}

/**
 * Full-jitter exponential backoff: a uniform random wait in
 * `[0, min(cap, base·2^attempt))`, so many clients retrying after one outage
 * spread out instead of arriving together.
 *
 * @example Usage
 * ```ts
 * import { backoffDelayMs } from "./retry.ts";
 * import assert from "node:assert/strict";
 *
 * const options = { backoffBaseMs: 100, backoffCapMs: 1000, random: () => 0.5 };
 * assert.equal(backoffDelayMs(0, options), 50);
 * assert.equal(backoffDelayMs(2, options), 200);
 * assert.equal(backoffDelayMs(10, options), 500); // capped at 1000, then jittered
 * ```
 */
export function backoffDelayMs(
  attempt: number,
  options: Pick<RetryOptions, "backoffBaseMs" | "backoffCapMs" | "random"> = {},
): number {
  const {
    backoffBaseMs = DEFAULT_RETRY_OPTIONS.backoffBaseMs,
    backoffCapMs = DEFAULT_RETRY_OPTIONS.backoffCapMs,
    random = DEFAULT_RETRY_OPTIONS.random,
  } = options;
  // 2^attempt overflows to Infinity for huge attempts; min() keeps it at the cap.
  const ceiling = Math.min(backoffCapMs, backoffBaseMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/**
 * Decides whether and when a batch is sent again after a retryable answer.
 *
 * With `retryAfterMs` (the server's `Retry-After`), the wait is that value
 * clamped to `[retryAfterFloorMs, retryAfterCapMs]`, and the first
 * `freeRetryAfters` such answers do not count against `maxRetries`. Without
 * it, the wait is {@linkcode backoffDelayMs}. The batch gives up when the
 * budget is spent or the total wait would pass `maxTotalBackoffMs`.
 *
 * @example Usage
 * ```ts
 * import { INITIAL_RETRY_STATE, planRetry } from "./retry.ts";
 * import assert from "node:assert/strict";
 *
 * const options = { maxRetries: 1, random: () => 0 };
 * const first = planRetry(INITIAL_RETRY_STATE, undefined, options);
 * assert.ok(first.retry);
 * assert.equal(first.delayMs, 0);
 * assert.equal(planRetry(first.state, undefined, options).retry, false);
 * // A Retry-After answer is free (the first three): the budget is untouched.
 * const polite = planRetry(first.state, 2000, options);
 * assert.ok(polite.retry);
 * assert.equal(polite.delayMs, 2000);
 * ```
 */
export function planRetry(
  state: RetryState,
  retryAfterMs: number | undefined,
  options: RetryOptions = {},
): RetryPlan {
  const {
    maxRetries = DEFAULT_RETRY_OPTIONS.maxRetries,
    maxTotalBackoffMs = DEFAULT_RETRY_OPTIONS.maxTotalBackoffMs,
    retryAfterFloorMs = DEFAULT_RETRY_OPTIONS.retryAfterFloorMs,
    retryAfterCapMs = DEFAULT_RETRY_OPTIONS.retryAfterCapMs,
    freeRetryAfters = DEFAULT_RETRY_OPTIONS.freeRetryAfters,
  } = options;
  const free = retryAfterMs !== undefined && state.freeRetryAftersUsed < freeRetryAfters;
  if (!free && state.retries >= maxRetries) {
    return { retry: false, reason: `gave up after ${state.retries} retries` };
  }
  const delayMs = retryAfterMs !== undefined
    ? Math.min(retryAfterCapMs, Math.max(retryAfterFloorMs, retryAfterMs))
    : backoffDelayMs(state.retries, options);
  if (state.waitedMs + delayMs > maxTotalBackoffMs) {
    return {
      retry: false,
      reason:
        `gave up as waiting ${delayMs} ms more would pass the ${maxTotalBackoffMs} ms backoff ceiling`,
    };
  }
  return {
    retry: true,
    delayMs,
    state: {
      retries: free ? state.retries : state.retries + 1,
      freeRetryAftersUsed: free ? state.freeRetryAftersUsed + 1 : state.freeRetryAftersUsed,
      waitedMs: state.waitedMs + delayMs,
    },
  };
}
