/**
 * Helpers shared by the service profiles (status codes and `Retry-After` are
 * read by `src/kit/response.ts`, shared with every profile).
 *
 * @module
 */
import type { JsonObject, JsonValue } from "../event.ts";
import { batchBody } from "../_util/internal.ts";
import { joinJsonArray } from "../_util/json_array.ts";
import type { OutgoingBatch } from "../ports/profile.ts";

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

/**
 * Joins a batch's encoded records into `prefix item,item,… suffix` in one
 * allocation, without re-encoding them (straight from the client's queue,
 * without a record object per event, when the client built the batch).
 */
export function joinBody(
  prefix: string | Uint8Array,
  batch: OutgoingBatch,
  suffix: string | Uint8Array,
): Uint8Array {
  const head = typeof prefix === "string" ? encoder.encode(prefix) : prefix;
  const tail = typeof suffix === "string" ? encoder.encode(suffix) : suffix;
  return batchBody(batch)?.joinJson(head, tail) ??
    joinJsonArray(head, batch.records.map((record) => record.data), tail);
}

/** How many records a batch has (without making them, when the client built the batch). */
export function recordCount(batch: OutgoingBatch): number {
  return batchBody(batch)?.size ?? batch.records.length;
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

/**
 * Checks headers sent on every request as `fetch` will (with the platform's
 * `Headers`), so that one that can never be sent fails at construction
 * rather than on every retry. Values are never echoed: they often hold secrets.
 *
 * @param option The option the headers came from (`token` for a header built from it).
 */
export function requireHeaders(
  profile: string,
  option: string,
  headers: Readonly<Record<string, string>>,
): void {
  for (const [name, value] of Object.entries(headers)) {
    try {
      new Headers([[name, "x"]]);
    } catch {
      throw new TypeError(
        `Cannot create ${profile} profile as '${option}' must hold valid HTTP header names: current value has ${
          JSON.stringify(name)
        }`,
      );
    }
    try {
      new Headers([[name, value]]);
    } catch {
      throw new TypeError(
        `Cannot create ${profile} profile as '${option}' must be a valid HTTP header value ` +
          `(Latin-1 characters, no CR, LF or NUL): the value of '${name}' is not (not shown)`,
      );
    }
  }
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
