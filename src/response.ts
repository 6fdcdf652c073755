import type { BatchOutcome, RecordOutcome } from "./profile.ts";
import type { TransportResponse } from "./transport.ts";

/**
 * Reads a `Retry-After` header: delay-seconds or an HTTP date. Returns
 * milliseconds from `now` (never negative), or `undefined` when absent or
 * unreadable.
 *
 * @example Usage
 * ```ts
 * import { parseRetryAfter } from "./response.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseRetryAfter("120", 0), 120_000);
 * const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
 * assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), 30_000);
 * assert.equal(parseRetryAfter("soon", now), undefined);
 * ```
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP date always names its month; this keeps "-3" from parsing as a year.
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** An error body as services send them: `{"error":"<code>","detail":"<text>"}` and variants. */
export interface ErrorBody {
  /** Machine-readable code (`error`, `code`), when present. */
  readonly error?: string;
  /** Human-readable reason: `detail`, `message`, `reason` or `error`, or the raw body (shortened). */
  readonly reason: string;
}

/**
 * Reads the reason out of an error body, JSON or text, for reports.
 *
 * @example Usage
 * ```ts
 * import { readErrorBody } from "./response.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(readErrorBody('{"error":"bad_request","detail":"name is empty"}'), {
 *   error: "bad_request",
 *   reason: "bad_request: name is empty",
 * });
 * assert.deepEqual(readErrorBody("upstream down"), { reason: "upstream down" });
 * ```
 */
export function readErrorBody(body: string): ErrorBody {
  const raw = body.length > 500 ? `${body.slice(0, 500)}…` : body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { reason: raw.trim() };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { reason: raw.trim() };
  }
  const fields = parsed as Record<string, unknown>;
  const text = (value: unknown) => typeof value === "string" && value !== "" ? value : undefined;
  const error = text(fields.error) ?? text(fields.code);
  const detail = text(fields.detail) ?? text(fields.message) ?? text(fields.reason);
  const reason = error && detail ? `${error}: ${detail}` : detail ?? error ?? raw.trim();
  return error === undefined ? { reason } : { error, reason };
}

/**
 * True when a 409 body means "this key is still being processed" (the IETF
 * Idempotency-Key draft's meaning: retry later) rather than "already done"
 * (the first seed's meaning: delivered).
 */
export function isInProgressConflict(body: string): boolean {
  const { error, reason } = readErrorBody(body);
  return /in[ _-]?progress|processing|concurrent/i.test(error ?? reason);
}

/** HTTP statuses worth retrying: timeouts, too early, rate limits, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * Classifies an HTTP answer that needs no per-record reading, so profiles share
 * one reading of status codes:
 *
 * - 2xx: `undefined` (the profile reads its per-record body);
 * - 409: duplicate (delivered) or, when the body says in progress, retry with `Retry-After`;
 * - 413: split the batch;
 * - 408, 425, 429, 5xx: retry, with the server's `Retry-After` when given;
 * - anything else: permanent failure with the server's reason.
 *
 * @example Usage
 * ```ts
 * import { classifyResponse } from "./response.ts";
 * import assert from "node:assert/strict";
 *
 * const answer = (status: number, body = "", headers: HeadersInit = {}) =>
 *   ({ status, body, headers: new Headers(headers) });
 * assert.equal(classifyResponse(answer(200), 0), undefined);
 * assert.deepEqual(classifyResponse(answer(413), 0), { kind: "split", reason: "HTTP 413" });
 * assert.deepEqual(classifyResponse(answer(429, "", { "retry-after": "2" }), 0), {
 *   kind: "all",
 *   outcome: { status: "retry", code: 429, reason: "HTTP 429", retryAfterMs: 2000 },
 * });
 * assert.deepEqual(classifyResponse(answer(409, '{"error":"duplicate"}'), 0), {
 *   kind: "all",
 *   outcome: { status: "duplicate" },
 * });
 * ```
 */
export function classifyResponse(
  response: TransportResponse,
  now: number,
): BatchOutcome | undefined {
  const { status, body } = response;
  if (status >= 200 && status < 300) return undefined;
  const { reason: bodyReason } = readErrorBody(body);
  const reason = bodyReason === "" ? `HTTP ${status}` : bodyReason;
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), now);
  const all = (outcome: RecordOutcome): BatchOutcome => ({ kind: "all", outcome });
  if (status === 409) {
    if (!isInProgressConflict(body)) return all({ status: "duplicate" });
    return all(retryOutcome(status, reason, retryAfterMs));
  }
  if (status === 413) return { kind: "split", reason };
  if (isRetryableStatus(status)) return all(retryOutcome(status, reason, retryAfterMs));
  return all({ status: "failed", code: status, reason });
}

function retryOutcome(
  code: number,
  reason: string,
  retryAfterMs: number | undefined,
): RecordOutcome {
  return retryAfterMs === undefined
    ? { status: "retry", code, reason }
    : { status: "retry", code, reason, retryAfterMs };
}
