import { type RateLimit, TokenBucket } from "../kit/token_bucket.ts";

// Tenants are authenticated, so few; the cap only bounds memory against a misconfiguration.
const MAX_TENANTS = 10_000;

/** One token bucket per tenant (or any other key, such as a client IP). */
export class RateLimiter {
  readonly #limit: RateLimit;
  readonly #now: () => number;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(limit: RateLimit, now: () => number) {
    // Validates the limit once, with TokenBucket's own messages.
    new TokenBucket({ ratePerSecond: limit.requestsPerSecond, burst: limit.burst, now });
    this.#limit = limit;
    this.#now = now;
  }

  /**
   * Takes `count` tokens for `tenant`: 0 if it may send now, else milliseconds
   * to wait. A request larger than the whole bucket could never pass, so
   * `count` is capped at the burst.
   */
  take(tenant: string, count = 1): number {
    let bucket = this.#buckets.get(tenant);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_TENANTS) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      bucket = new TokenBucket({
        ratePerSecond: this.#limit.requestsPerSecond,
        burst: this.#limit.burst,
        now: this.#now,
      });
      this.#buckets.set(tenant, bucket);
    }
    return bucket.take(Math.min(count, this.#limit.burst));
  }
}
