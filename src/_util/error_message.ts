/** The message of anything thrown, for error texts (`String(value)` when it is not an `Error`). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
