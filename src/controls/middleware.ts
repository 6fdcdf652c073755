/**
 * Event middleware: synchronous functions run in order on every `track`,
 * `identify` and `alias`, before validation and encoding.
 *
 * @module
 */
import type { EventInput } from "../event.ts";
import { MiddlewareError } from "../errors/middleware_error.ts";

/**
 * Enriches, redacts or rewrites an event (return it, changed or replaced),
 * or drops it (return `null`). Returning nothing keeps the event as it is
 * (with any changes made to it in place). Must be synchronous.
 */
export type Middleware = (event: EventInput) => EventInput | null | void;

/** How errors and reports name a middleware: its function name, else `#<index>`. */
export function middlewareName(middleware: Middleware, index: number): string {
  return middleware.name === "" ? `#${index}` : middleware.name;
}

/**
 * Runs every middleware in order; `null` when one dropped the event.
 *
 * @throws {MiddlewareError} naming the middleware that threw (or returned a promise).
 */
export function runMiddleware(
  middleware: readonly Middleware[],
  input: EventInput,
): { event: EventInput | null; by: number } {
  let event = input;
  for (let i = 0; i < middleware.length; i++) {
    const fn = middleware[i]!;
    let result: EventInput | null | void;
    try {
      result = fn(event);
    } catch (error) {
      throw new MiddlewareError(middlewareName(fn, i), i, error);
    }
    if (result === null) return { event: null, by: i };
    if (result !== undefined) {
      if (typeof (result as { then?: unknown }).then === "function") {
        (result as unknown as Promise<unknown>).then(undefined, () => {});
        throw new MiddlewareError(
          middlewareName(fn, i),
          i,
          new TypeError("it returned a promise: middleware must be synchronous"),
        );
      }
      event = result;
    }
  }
  return { event, by: -1 };
}
