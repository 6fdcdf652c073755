import type { BatchOutcome, RecordOutcome } from "../ports/profile.ts";
import type { TransportResponse } from "../ports/transport.ts";

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

/** Longest body text quoted in a reason, in characters. */
const MAX_REASON_CHARS = 500;

/** The body as a reason: trimmed and shortened, or `HTTP <status>` when empty. */
function bodyText(body: string): string {
  const text = body.trim();
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text;
}

/**
 * A reason for a failed answer: the service's own message when it gave one,
 * else the body (shortened), else `HTTP <status>`.
 *
 * @example Usage
 * ```ts
 * import { reasonOf } from "./response.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(reasonOf("Rate limit exceeded", 429, "{}"), "Rate limit exceeded");
 * assert.equal(reasonOf(undefined, 502, " <html>bad gateway</html> "), "<html>bad gateway</html>");
 * assert.equal(reasonOf(undefined, 503, ""), "HTTP 503");
 * ```
 */
export function reasonOf(message: unknown, status: number, body: string): string {
  if (typeof message === "string" && message !== "") return message;
  return bodyText(body) || `HTTP ${status}`;
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
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { reason: bodyText(body) };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { reason: bodyText(body) };
  }
  const fields = parsed as Record<string, unknown>;
  const text = (value: unknown) => typeof value === "string" && value !== "" ? value : undefined;
  const error = text(fields.error) ?? text(fields.code);
  const detail = text(fields.detail) ?? text(fields.message) ?? text(fields.reason);
  const reason = error && detail ? `${error}: ${detail}` : detail ?? error ?? bodyText(body);
  return error === undefined ? { reason } : { error, reason };
}

/**
 * True when a 409 body means "this key is still being processed" (the IETF
 * Idempotency-Key draft's meaning: retry later) rather than "already done"
 * (SaaSquatch's meaning: delivered).
 */
export function isInProgressConflict(body: string): boolean {
  const { error, reason } = readErrorBody(body);
  return /in[ _-]?progress|processing|concurrent/i.test(error ?? reason);
}

/**
 * What a status means for the records of a request. `conflict` is a 409 read
 * by its body: retry when it says the key is in progress, else duplicate.
 */
export type StatusVerdict = "delivered" | "duplicate" | "conflict" | "retry" | "failed" | "split";

/**
 * A service's status table: exact statuses first, then classes (`"2xx"`,
 * `"4xx"`, `"5xx"`). Anything not listed falls back to {@linkcode DEFAULT_STATUS_TABLE}.
 */
export type StatusTable = Readonly<Record<string, StatusVerdict>>;

/**
 * idemtrack's reading of HTTP statuses: timeouts, too early, rate limits and
 * server errors are retried, 409 is a repeated key, 413 splits the batch,
 * other 4xx fail for good.
 */
export const DEFAULT_STATUS_TABLE: StatusTable = Object.freeze({
  "2xx": "delivered",
  408: "retry",
  409: "conflict",
  413: "split",
  425: "retry",
  429: "retry",
  "4xx": "failed",
  "5xx": "retry",
});

/**
 * Looks a status up in a service table, then in {@linkcode DEFAULT_STATUS_TABLE};
 * unknown → `failed`.
 *
 * @example Usage
 * ```ts
 * import { classifyStatus } from "./response.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(classifyStatus(503), "retry");
 * assert.equal(classifyStatus(409), "conflict");
 * assert.equal(classifyStatus(409, { 409: "failed" }), "failed");
 * assert.equal(classifyStatus(204, { 200: "delivered", "2xx": "retry" }), "retry");
 * ```
 */
export function classifyStatus(status: number, table: StatusTable = {}): StatusVerdict {
  const group = `${Math.floor(status / 100)}xx`;
  return table[status] ?? table[group] ?? DEFAULT_STATUS_TABLE[status] ??
    DEFAULT_STATUS_TABLE[group] ?? "failed";
}

/** Turns a settled verdict into one record outcome, with the reason and code given. */
export function outcomeOf(
  verdict: Exclude<StatusVerdict, "split" | "conflict">,
  reason: string,
  code: number | string,
  retryAfterMs?: number,
): RecordOutcome {
  switch (verdict) {
    case "delivered":
      return { status: "delivered" };
    case "duplicate":
      return { status: "duplicate" };
    case "retry":
      return retryAfterMs === undefined
        ? { status: "retry", code, reason }
        : { status: "retry", code, reason, retryAfterMs };
    case "failed":
      return { status: "failed", code, reason };
  }
}

/** How {@linkcode classifyResponse} reads one service's answers. */
export interface ClassifyOptions {
  /** The service's statuses. @default {{}} (only {@linkcode DEFAULT_STATUS_TABLE}) */
  table?: StatusTable;
  /** Reason for a failure or retry. @default {the error body's reason, else "HTTP <status>"} */
  reason?: string;
  /** Code for a failure or retry. @default {the status} */
  code?: number | string;
}

/** One outcome for a whole batch whose records all went through. */
export const ALL_DELIVERED: BatchOutcome = Object.freeze({
  kind: "all",
  outcome: Object.freeze({ status: "delivered" }),
});

/**
 * Reads an HTTP answer by its status, so every profile shares one reading of
 * status codes and `Retry-After` (its table says where a service differs):
 *
 * - `delivered` (2xx by default): `undefined`: the profile reads its
 *   per-record body, or counts the batch {@linkcode ALL_DELIVERED};
 * - `conflict` (409 by default): duplicate (delivered) or, when the body says
 *   in progress, retry with `Retry-After`;
 * - `split` (413): split the batch;
 * - `retry` (408, 425, 429, 5xx): retry, with the server's `Retry-After` when given;
 * - `failed` (other statuses): permanent failure with the server's reason.
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
 * assert.deepEqual(classifyResponse(answer(409, "taken"), 0, { table: { 409: "failed" } }), {
 *   kind: "all",
 *   outcome: { status: "failed", code: 409, reason: "taken" },
 * });
 * ```
 */
export function classifyResponse(
  response: TransportResponse,
  now: number,
  options: ClassifyOptions = {},
): BatchOutcome | undefined {
  const { status, body } = response;
  const {
    table = {},
    reason = reasonOf(readErrorBody(body).reason, status, ""),
    code = status,
  } = options;
  let verdict = classifyStatus(status, table);
  if (verdict === "delivered") return undefined;
  if (verdict === "split") return { kind: "split", reason };
  if (verdict === "conflict") verdict = isInProgressConflict(body) ? "retry" : "duplicate";
  const retryAfterMs = verdict === "retry"
    ? parseRetryAfter(response.headers.get("retry-after"), now)
    : undefined;
  return { kind: "all", outcome: outcomeOf(verdict, reason, code, retryAfterMs) };
}
