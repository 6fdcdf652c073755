/** Options of {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second (the sustained rate). */
  ratePerSecond: number;
  /** Bucket size: how many may be taken at once after an idle period. */
  burst: number;
  /** Clock, epoch milliseconds. @default {Date.now} */
  now?: () => number;
}

export type { RateLimit } from "../ports/profile.ts";

/**
 * A token bucket, shared by the client's send-rate limit and the receiver's
 * per-tenant limit. It starts full.
 *
 * @example Usage
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 * import assert from "node:assert/strict";
 *
 * let now = 0;
 * const bucket = new TokenBucket({ ratePerSecond: 10, burst: 2, now: () => now });
 * assert.equal(bucket.take(), 0);
 * assert.equal(bucket.take(), 0);
 * assert.equal(bucket.take(), 100); // empty: the next token comes in 100 ms
 * now += 100;
 * assert.equal(bucket.take(), 0);
 * ```
 */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  /** Creates a full bucket. */
  constructor(options: TokenBucketOptions) {
    const { ratePerSecond, burst, now = Date.now } = options;
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new RangeError(
        `Cannot create token bucket as 'ratePerSecond' must be a positive number: current value is ${ratePerSecond}`,
      );
    }
    if (!Number.isInteger(burst) || burst < 1) {
      throw new RangeError(
        `Cannot create token bucket as 'burst' must be a positive integer: current value is ${burst}`,
      );
    }
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#updatedAt = now();
  }

  #refill(): void {
    const now = this.#now();
    if (now > this.#updatedAt) {
      this.#tokens = Math.min(
        this.#burst,
        this.#tokens + (now - this.#updatedAt) * this.#ratePerMs,
      );
      this.#updatedAt = now;
    }
  }

  /**
   * Takes `count` tokens if available and returns 0; otherwise takes nothing
   * and returns the milliseconds until they will be.
   *
   * @throws {RangeError} when `count` is negative, not a number or above `burst`.
   */
  take(count = 1): number {
    if (!(count >= 0 && count <= this.#burst)) {
      // More than the bucket holds could never be granted: the wait would repeat forever.
      throw new RangeError(
        `Cannot take tokens as 'count' must be between 0 and 'burst' (${this.#burst}): current value is ${count}`,
      );
    }
    this.#refill();
    if (this.#tokens >= count) {
      this.#tokens -= count;
      return 0;
    }
    return Math.ceil((count - this.#tokens) / this.#ratePerMs);
  }

  /** Tokens available now (fractional). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }
}
