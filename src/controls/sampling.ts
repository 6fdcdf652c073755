/**
 * Sampling by user: an event is kept when a hash of its user's id falls
 * under its name's rate, so a user's events are all kept or all dropped (and
 * a user kept at rate r is kept at every rate above r).
 *
 * @module
 */

/** Event name → the share of users whose events are kept, 0–1; `"*"` for names not listed. */
export type SamplingRates = Readonly<Record<string, number>>;

/** The context field stamped on kept events of a sampled name: the rate (re-weight by 1/rate). */
export const SAMPLE_RATE_FIELD = "$sample_rate";

/**
 * Checks the rates (each a number from 0 to 1).
 *
 * @throws {RangeError} naming the event whose rate is out of range.
 */
export function checkSamplingRates(rates: SamplingRates): void {
  if (typeof rates !== "object" || rates === null) {
    throw new TypeError(
      `Cannot create client as 'sampling' must be an object of event name to rate: current value is ${rates}`,
    );
  }
  for (const [name, rate] of Object.entries(rates)) {
    if (typeof rate !== "number" || !(rate >= 0 && rate <= 1)) {
      throw new RangeError(
        `Cannot create client as 'sampling["${name}"]' must be a number from 0 to 1: current value is ${rate}`,
      );
    }
  }
}

/**
 * A number in [0, 1) from the id: FNV-1a (32 bits) over its UTF-16 code
 * units, then MurmurHash3's finalizer so that ids differing only in their
 * last characters (`user-1`, `user-2`) spread over the whole range.
 */
export function userHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
