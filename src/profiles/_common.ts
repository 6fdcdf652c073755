/**
 * Helpers shared by the service profiles. Generic ones (status verdicts,
 * `Retry-After`) are candidates for `src/response.ts` once it lands on main.
 *
 * @module
 */
import type { JsonObject, JsonValue } from "../event.ts";
import type { BatchOutcome, RecordOutcome } from "../profile.ts";
import type { TransportResponse } from "../transport.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 JSON bytes of a value (no ASCII escaping, as the services measure it). */
export function encodeJson(value: JsonValue): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses the UTF-8 JSON bytes of a stored record. */
export function decodeJson(bytes: Uint8Array): JsonValue {
  return JSON.parse(decoder.decode(bytes)) as JsonValue;
}

/** Joins pre-encoded items into `prefix item,item,… suffix` without re-encoding them. */
export function joinBody(prefix: string, items: readonly Uint8Array[], suffix: string): Uint8Array {
  const head = encoder.encode(prefix);
  const tail = encoder.encode(suffix);
  let length = head.byteLength + tail.byteLength + Math.max(0, items.length - 1);
  for (const item of items) length += item.byteLength;
  const body = new Uint8Array(length);
  body.set(head, 0);
  let offset = head.byteLength;
  items.forEach((item, index) => {
    if (index > 0) body[offset++] = 0x2c; // ","
    body.set(item, offset);
    offset += item.byteLength;
  });
  body.set(tail, offset);
  return body;
}

/** What a status means for the records of a request. */
export type StatusVerdict = "delivered" | "duplicate" | "retry" | "failed" | "split";

/**
 * A service's status table: exact statuses first, then classes (`"2xx"`,
 * `"4xx"`, `"5xx"`). Anything not listed falls back to {@linkcode DEFAULT_STATUS_TABLE}.
 */
export type StatusTable = Readonly<Record<string, StatusVerdict>>;

/** HTTP semantics every service shares unless its table says otherwise. */
export const DEFAULT_STATUS_TABLE: StatusTable = Object.freeze({
  "2xx": "delivered",
  408: "retry",
  413: "split",
  425: "retry",
  429: "retry",
  "4xx": "failed",
  "5xx": "retry",
});

/** Looks a status up in a service table, then in the default table; unknown → `failed`. */
export function classifyStatus(status: number, table: StatusTable = {}): StatusVerdict {
  const group = `${Math.floor(status / 100)}xx`;
  return table[status] ?? table[group] ?? DEFAULT_STATUS_TABLE[status] ??
    DEFAULT_STATUS_TABLE[group] ?? "failed";
}

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date (relative to
 * `now`). `undefined` when absent or unreadable.
 */
export function parseRetryAfterMs(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Turns a verdict into one record outcome, with the reason and code given. */
export function outcomeOf(
  verdict: Exclude<StatusVerdict, "split">,
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
        ? { status: "retry", reason, code }
        : { status: "retry", reason, code, retryAfterMs };
    case "failed":
      return { status: "failed", reason, code };
  }
}

/** One outcome for the whole batch from its status, with the reason read from the body. */
export function wholeBatchOutcome(
  response: TransportResponse,
  table: StatusTable,
  reason: string,
  code: number | string = response.status,
): BatchOutcome {
  const verdict = classifyStatus(response.status, table);
  if (verdict === "split") return { kind: "split", reason };
  const retryAfterMs = verdict === "retry"
    ? parseRetryAfterMs(response.headers.get("retry-after"))
    : undefined;
  return { kind: "all", outcome: outcomeOf(verdict, reason, code, retryAfterMs) };
}

/** Parses a response body as a JSON object, or `undefined` if it is not one. */
export function parseJsonObject(text: string): JsonObject | undefined {
  if (text === "") return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as JsonObject
      : undefined;
  } catch {
    return undefined;
  }
}

/** A short reason for a failed request: the body's message, else the status. */
export function reasonOf(message: JsonValue | undefined, status: number, body: string): string {
  if (typeof message === "string" && message !== "") return message;
  const text = body.trim();
  return text === "" ? `HTTP ${status}` : text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Reads a string from an event's context, or `undefined`. */
export function contextString(context: JsonObject | undefined, key: string): string | undefined {
  const value = context?.[key];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** Checks a required string option, in std's error form, never echoing secrets. */
export function requireString(
  profile: string,
  name: string,
  value: unknown,
  secret = false,
): string {
  if (typeof value !== "string" || value.trim() === "") {
    const shown = secret
      ? (typeof value === "string" ? "empty" : typeof value)
      : JSON.stringify(value) ?? String(value);
    throw new TypeError(
      `Cannot create ${profile} profile as '${name}' must be a non-empty string: current value is ${shown}`,
    );
  }
  return value;
}

/** Removes a trailing slash so paths can be appended. */
export function trimBaseUrl(profile: string, baseUrl: string): string {
  try {
    new URL(baseUrl);
  } catch {
    throw new TypeError(
      `Cannot create ${profile} profile as 'baseUrl' must be an absolute URL: current value is ${
        JSON.stringify(baseUrl)
      }`,
    );
  }
  return baseUrl.replace(/\/+$/, "");
}
