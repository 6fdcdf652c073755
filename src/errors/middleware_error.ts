import { guardFor, IdemtrackError } from "./idemtrack_error.ts";

/**
 * An event middleware threw: the event was not queued (nothing else was
 * affected); `cause` holds what it threw.
 */
export class MiddlewareError extends IdemtrackError {
  /** The middleware's function name, or `#<index>` when it has none. */
  readonly middleware: string;
  /** Its position in the client's middleware list. */
  readonly index: number;

  /** Creates the error for the middleware at `index`, named `middleware`, which threw `cause`. */
  constructor(middleware: string, index: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `Cannot track event as middleware '${middleware}' (#${index}) threw: ${reason}`,
      { cause },
    );
    this.name = "MiddlewareError";
    this.middleware = middleware;
    this.index = index;
  }
}

/** Name-based guard for {@linkcode MiddlewareError}. */
export const isMiddlewareError: (error: unknown) => error is MiddlewareError = guardFor(
  "MiddlewareError",
  MiddlewareError,
);
