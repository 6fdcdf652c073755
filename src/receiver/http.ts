/**
 * Builds a JSON answer. Shared by the receiver core and the routes so every
 * error body has the same `{"error":"<code>","detail":"<text>"}` shape.
 */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** An error answer: `{"error": code, "detail": detail}`. */
export function errorResponse(
  status: number,
  code: string,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  return jsonResponse(status, { error: code, detail }, headers);
}

/** `Retry-After` in whole seconds (at least 1) for a wait in milliseconds. */
export function retryAfterSeconds(waitMs: number): string {
  return String(Math.max(1, Math.ceil(waitMs / 1000)));
}
