import { guardFor, IdemtrackError } from "./idemtrack_error.ts";

/** A storage driver failed (locked by another process, unwritable, corrupt beyond recovery). */
export class StorageError extends IdemtrackError {
  /** The driver that failed, e.g. `"file"`. */
  readonly driver: string;

  /** Creates the error of storage `driver` with `message` and, in `options.cause`, the underlying error. */
  constructor(driver: string, message: string, options?: ErrorOptions) {
    super(`Storage '${driver}' failed: ${message}`, options);
    this.name = "StorageError";
    this.driver = driver;
  }
}

/** Name-based guard for {@linkcode StorageError}. */
export const isStorageError: (error: unknown) => error is StorageError = guardFor(
  "StorageError",
  StorageError,
);
