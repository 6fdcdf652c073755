import { type RateLimit, TokenBucket } from "../token_bucket.ts";

// Tenants are authenticated, so few; the cap only bounds memory against a misconfiguration.
const MAX_TENANTS = 10_000;

/** One token bucket per tenant. */
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

  /** 0 if the tenant may send now, else milliseconds to wait. */
  take(tenant: string): number {
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
    return bucket.take();
  }
}
