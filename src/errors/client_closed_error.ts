import { guardFor, IdemtrackError } from "./idemtrack_error.ts";

/** The client was closed; it accepts no more events. */
export class ClientClosedError extends IdemtrackError {
  /** Creates the error for an `operation` (e.g. `"track"`) attempted after `close()`. */
  constructor(operation: string) {
    super(`Cannot ${operation} as the client is closed`);
    this.name = "ClientClosedError";
  }
}

/** Name-based guard for {@linkcode ClientClosedError}. */
export const isClientClosedError: (error: unknown) => error is ClientClosedError = guardFor(
  "ClientClosedError",
  ClientClosedError,
);
