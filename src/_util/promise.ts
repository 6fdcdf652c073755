/**
 * Whether a value is a promise (any thenable). Calls that may answer at once
 * are awaited only when they did not: an `await` always yields, and a batch
 * formed during a synchronous burst must reach its transport before the
 * burst ends.
 */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === "function";
}
