/**
 * Base class of every error idemtrack throws or reports, so callers can catch
 * the library's errors with one `instanceof` or {@linkcode isIdemtrackError}.
 */
export class IdemtrackError extends Error {
  /** Creates an error with `message` and, in `options.cause`, the error that caused it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdemtrackError";
  }
}

/**
 * Name-based guard: true for errors from any copy of idemtrack (two bundled
 * copies do not share classes, so `instanceof` alone can miss).
 */
export function isIdemtrackError(error: unknown): error is IdemtrackError {
  return error instanceof IdemtrackError ||
    (error instanceof Error && errorNames.has(error.name));
}

/** Names of all idemtrack error classes; each class file registers its own. */
export const errorNames: Set<string> = new Set(["IdemtrackError"]);

/** Builds a name-based type guard for one error class. */
export function guardFor<T extends Error>(
  name: string,
  // deno-lint-ignore no-explicit-any
  ctor: abstract new (...args: any[]) => T,
): (error: unknown) => error is T {
  errorNames.add(name);
  return (error: unknown): error is T =>
    error instanceof ctor || (error instanceof Error && error.name === name);
}

/**
 * Shortens an untrusted value for an error message: never echoes more than a
 * short prefix, so a secret pasted into the wrong field is not logged whole.
 */
export function preview(value: string, max = 12): string {
  return value.length <= max ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, max))}…`;
}
