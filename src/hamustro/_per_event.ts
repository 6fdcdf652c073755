/** A value given once, asked for at each event, or `false` to leave the field out. */
export type PerEventValue = string | (() => string | undefined) | false;

/**
 * The per-event reader of a payload field: the given value or function, or
 * (when none was given) `lookup` run again once `refreshMs` have passed on
 * `now`, so a device's changing zone or address is followed without a
 * system call per event.
 */
export function perEventReader(
  value: PerEventValue | undefined,
  lookup: () => string | undefined,
  refreshMs: number,
  now: () => number,
): () => string | undefined {
  if (value === false) return () => undefined;
  if (typeof value === "function") return value;
  if (value !== undefined) return () => value;
  let cached: string | undefined;
  let validUntil = -Infinity;
  return () => {
    const time = now();
    if (time >= validUntil || time < validUntil - refreshMs) {
      cached = lookup();
      validUntil = time + refreshMs;
    }
    return cached;
  };
}
