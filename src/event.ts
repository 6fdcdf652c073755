import { EventValidationError } from "./errors/event_validation_error.ts";
import { utf8ByteLength } from "./_util/utf8.ts";
import {
  generateIdempotencyKey,
  type KeyPolicy,
  STRICT_KEY_POLICY,
  validateIdempotencyKey,
} from "./idempotency_key.ts";

/** A JSON value: what event properties may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** The three kinds of call a client logs. */
export type EventType = "track" | "identify" | "alias";

/** A file attached to an event by public URL (SuprSend's `add_attachment`). */
export interface Attachment {
  /** Publicly reachable `http:` or `https:` URL. */
  url: string;
  /** File name shown to recipients; defaults to the URL's last path segment. */
  filename?: string;
  /** Ignore the attachment, rather than fail the event, when it cannot be fetched. */
  ignoreIfError?: boolean;
}

/**
 * One event as idemtrack carries it, before a profile turns it into a
 * service's wire format. Times are epoch milliseconds.
 */
export interface IdemtrackEvent {
  /** What kind of call logged it. */
  type: EventType;
  /** Event name (`$identify` / `$alias` for those calls). */
  name: string;
  /** The user's id in your application (SuprSend's `distinct_id`, GetFluxly's `user_id`). */
  userId?: string;
  /** Id of a not-yet-identified visitor. */
  anonymousId?: string;
  /** For `alias`: the id being merged into `userId`. */
  previousId?: string;
  /** Event attributes (traits for `identify`). */
  properties: JsonObject;
  /** Service-specific identifiers and context (accountId, email, visitId…). */
  context?: JsonObject;
  /** When it happened, epoch milliseconds. */
  timestamp: number;
  /** The event's own idempotency key: given, or a UUID v4. */
  idempotencyKey: string;
  /** Tenant (SuprSend `tenant_id`, Hamustro `tenant_id`). */
  tenantId?: string;
  /** Brand (SuprSend's older name for tenant). */
  brandId?: string;
  /** Attachments by public URL. */
  attachments?: Attachment[];
}

/** What a caller passes to build an event; omitted fields get defaults. */
export interface EventInput {
  /** What kind of call logs it. @default {"track"} */
  type?: EventType;
  /** Event name (`$identify` / `$alias` for those calls). */
  name: string;
  /** The user's id in your application. @default {undefined} */
  userId?: string;
  /** Id of a not-yet-identified visitor. @default {undefined} */
  anonymousId?: string;
  /** For `alias`: the id being merged into `userId`. @default {undefined} */
  previousId?: string;
  /** Event attributes (traits for `identify`). @default {{}} */
  properties?: JsonObject;
  /** Service-specific identifiers and context (accountId, email, visitId…). @default {undefined} */
  context?: JsonObject;
  /** When it happened: epoch milliseconds or a `Date`. @default {rules.now()} */
  timestamp?: number | Date;
  /** The event's own idempotency key, checked by the key policy. @default {a UUID v4} */
  idempotencyKey?: string;
  /** Tenant (SuprSend `tenant_id`, Hamustro `tenant_id`). @default {undefined} */
  tenantId?: string;
  /** Brand (SuprSend's older name for tenant). @default {undefined} */
  brandId?: string;
  /** Attachments by public URL. @default {undefined} */
  attachments?: Attachment[];
}

/** Options of {@linkcode createEvent}. */
export interface EventRules {
  /**
   * Prefixes refused for event and property names (case-insensitive).
   * @default {["$", "ss_"]}
   */
  reservedPrefixes?: readonly string[];
  /**
   * Reserved names allowed anyway (SuprSend's system events).
   * @default {["$identify", "$alias", "$notification_delivered", "$notification_dismiss",
   * "$notification_clicked", "$app_launched", "$user_login", "$user_logout"]}
   */
  allowedReservedNames?: readonly string[];
  /** Policy for event idempotency keys. @default {STRICT_KEY_POLICY} */
  keyPolicy?: KeyPolicy;
  /** Longest string id (userId, anonymousId, tenantId…), in characters. @default {255} */
  maxIdLength?: number;
  /** Clock for default timestamps. @default {Date.now} */
  now?: () => number;
}

/** Event names starting with a reserved prefix that services accept anyway. */
export const RESERVED_EVENT_NAMES_ALLOWED: readonly string[] = Object.freeze([
  "$identify",
  "$alias",
  "$notification_delivered",
  "$notification_dismiss",
  "$notification_clicked",
  "$app_launched",
  "$user_login",
  "$user_logout",
]);

/** Default event rules. */
export const DEFAULT_EVENT_RULES: Required<EventRules> = Object.freeze({
  reservedPrefixes: Object.freeze(["$", "ss_"]),
  allowedReservedNames: RESERVED_EVENT_NAMES_ALLOWED,
  keyPolicy: STRICT_KEY_POLICY,
  maxIdLength: 255,
  now: Date.now,
});

/** Case-insensitive `startsWith` without allocating when the compared part is ASCII. */
function startsWithIgnoringCase(name: string, prefix: string): boolean {
  if (name.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    const a = name.charCodeAt(i);
    const b = prefix.charCodeAt(i);
    // Non-ASCII case mapping has special cases (e.g. the Kelvin sign): defer to toLowerCase.
    if (a >= 0x80 || b >= 0x80) return name.toLowerCase().startsWith(prefix.toLowerCase());
    if (a !== b && (a | 0x20) !== (b | 0x20)) return false;
    if (a !== b && !(((a | 0x20) >= 0x61) && ((a | 0x20) <= 0x7a))) return false;
  }
  return true;
}

function reservedPrefixOf(name: string, prefixes: readonly string[]): string | undefined {
  for (const prefix of prefixes) {
    if (startsWithIgnoringCase(name, prefix)) return prefix;
  }
  return undefined;
}

function checkId(field: string, value: unknown, maxLength: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new EventValidationError(field, "type", `is a ${typeof value}`, "a string");
  }
  const trimmed = value.trim();
  if (trimmed.length === 0) {
    throw new EventValidationError(field, "required", "is empty", "a non-empty string");
  }
  return checkMaxLength(field, trimmed, maxLength);
}

function checkJson(field: string, value: unknown, depth: number): void {
  if (depth > 64) {
    throw new EventValidationError(
      field,
      "depth",
      "nests deeper than 64 levels",
      "up to 64 levels",
    );
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) {
        throw new EventValidationError(field, "type", `is ${value}`, "finite numbers");
      }
      return;
    case "object":
      if (value === null) return;
      if (Array.isArray(value)) {
        value.forEach((item, index) => checkJson(`${field}[${index}]`, item, depth + 1));
        return;
      }
      if (
        Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null
      ) {
        throw new EventValidationError(
          field,
          "type",
          `is a ${value.constructor?.name ?? "non-plain object"}`,
          "JSON values (plain objects, arrays, strings, finite numbers, booleans, null)",
        );
      }
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        const item = (value as Record<string, unknown>)[key];
        // Leaves are checked inline: no path string unless something is wrong.
        const kind = typeof item;
        if (depth < 64) {
          if (kind === "string" || kind === "boolean" || item === null) continue;
          if (kind === "number" && Number.isFinite(item)) continue;
        }
        checkJson(`${field}.${key}`, item, depth + 1);
      }
      return;
    default:
      throw new EventValidationError(
        field,
        "type",
        `is a ${typeof value}`,
        "JSON values (plain objects, arrays, strings, finite numbers, booleans, null)",
      );
  }
}

let cachedPrefixes: readonly string[] | undefined;
let cachedFirstCodes: number[] = [];

/**
 * ASCII-lowercased first character codes of the prefixes: a key whose first
 * character matches none of them cannot start with a reserved prefix (letters
 * compare equal under `| 0x20` in either case; other characters only equal
 * themselves), so the full case-insensitive check runs only for candidates.
 */
function firstCodesOf(prefixes: readonly string[]): number[] {
  if (prefixes !== cachedPrefixes) {
    cachedPrefixes = prefixes;
    cachedFirstCodes = prefixes.map((prefix) => prefix.charCodeAt(0) | 0x20);
  }
  return cachedFirstCodes;
}

function mayBeReserved(key: string, firstCodes: number[]): boolean {
  const code = key.charCodeAt(0);
  if (code >= 0x80 || key.length === 0) return true;
  const lower = code | 0x20;
  for (let i = 0; i < firstCodes.length; i++) {
    if (firstCodes[i] === lower) return true;
  }
  return false;
}

/**
 * Properties that are a plain object, in one pass: values checked as
 * `checkJson` would (flat primitives inline), keys against the reserved
 * prefixes. Returns the first reserved key, reported only once every value is
 * known to be valid (value errors come first, as in `checkOtherProperties`).
 */
function checkPlainProperties(
  properties: JsonObject,
  prefixes: readonly string[],
): string | undefined {
  const firstCodes = firstCodesOf(prefixes);
  let reservedKey: string | undefined;
  for (const key in properties) {
    if (!Object.hasOwn(properties, key)) continue;
    const item = properties[key];
    const kind = typeof item;
    if (!(kind === "string" || kind === "boolean" || item === null)) {
      if (kind !== "number" || !Number.isFinite(item)) checkJson(`properties.${key}`, item, 1);
    }
    if (
      reservedKey === undefined && mayBeReserved(key, firstCodes) &&
      reservedPrefixOf(key, prefixes) !== undefined
    ) {
      reservedKey = key;
    }
  }
  return reservedKey;
}

/** Properties that are not a plain object: the general checks (arrays, null prototypes, errors). */
function checkOtherProperties(
  properties: unknown,
  prefixes: readonly string[],
): string | undefined {
  checkJson("properties", properties, 0);
  if (typeof properties !== "object" || properties === null || Array.isArray(properties)) {
    throw new EventValidationError("properties", "type", "is not an object", "a plain object");
  }
  return Object.keys(properties).find((key) => reservedPrefixOf(key, prefixes) !== undefined);
}

function lastSegment(pathname: string): string {
  const segment = pathname.split("/").pop() ?? "";
  try {
    return decodeURIComponent(segment);
  } catch {
    // A malformed escape (`%E0%A4%A`) is still a valid URL: keep the raw segment.
    return segment;
  }
}

function checkAttachment(attachment: Attachment, index: number): Attachment {
  const field = `attachments[${index}].url`;
  let url: URL;
  try {
    url = new URL(attachment.url);
  } catch {
    throw new EventValidationError(
      field,
      "url",
      "is not an absolute URL (local paths cannot be attached)",
      "a publicly reachable http: or https: URL",
    );
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw new EventValidationError(
      field,
      "url",
      `uses the '${url.protocol}' scheme`,
      "a publicly reachable http: or https: URL",
    );
  }
  const filename = attachment.filename ?? (lastSegment(url.pathname) || url.hostname);
  return { url: url.href, filename, ignoreIfError: attachment.ignoreIfError ?? false };
}

/**
 * Validates an input and returns the complete event: trimmed ids, a timestamp,
 * an idempotency key. Internal calls (`identify`, `alias`) pass `type`, and
 * their `$`-names are allowed.
 *
 * @throws {EventValidationError} naming the field and the rule.
 * @throws {IdempotencyKeyError} if the given key breaks the key policy.
 *
 * @example Usage
 * ```ts
 * import { createEvent } from "./event.ts";
 * import assert from "node:assert/strict";
 *
 * const event = createEvent({ name: "order_paid", userId: " u1 ", properties: { total: 42 } });
 * assert.equal(event.userId, "u1");
 * assert.equal(event.type, "track");
 * assert.throws(() => createEvent({ name: "$secret", userId: "u1" }));
 * ```
 */
export function createEvent(input: EventInput, rules: EventRules = {}): IdemtrackEvent {
  const {
    reservedPrefixes = DEFAULT_EVENT_RULES.reservedPrefixes,
    allowedReservedNames = DEFAULT_EVENT_RULES.allowedReservedNames,
    maxIdLength = DEFAULT_EVENT_RULES.maxIdLength,
    keyPolicy = DEFAULT_EVENT_RULES.keyPolicy,
    now = DEFAULT_EVENT_RULES.now,
  } = rules;
  const type = input.type ?? "track";
  if (typeof input.name !== "string" || input.name.trim().length === 0) {
    throw new EventValidationError("name", "required", "is empty", "a non-empty string");
  }
  const name = checkMaxLength("name", input.name.trim(), maxIdLength);
  const prefix = reservedPrefixOf(name, reservedPrefixes);
  if (prefix !== undefined && !allowedReservedNames.includes(name)) {
    throw new EventValidationError(
      "name",
      "reserved",
      `starts with the reserved prefix '${prefix}'`,
      `names not starting with ${reservedPrefixes.map((p) => `'${p}'`).join(" or ")}`,
    );
  }
  const userId = checkId("userId", input.userId, maxIdLength);
  const anonymousId = checkId("anonymousId", input.anonymousId, maxIdLength);
  // GetFluxly identifies an event by any one of user_id, anonymous_id and external_id (seed 003).
  const externalId = input.context?.externalId;
  if (
    userId === undefined && anonymousId === undefined &&
    (typeof externalId !== "string" || externalId.trim() === "")
  ) {
    throw new EventValidationError(
      "userId",
      "required",
      "is missing",
      "a userId, an anonymousId or a context.externalId",
    );
  }
  const previousId = checkId("previousId", input.previousId, maxIdLength);
  if (type === "alias" && previousId === undefined && anonymousId === undefined) {
    throw new EventValidationError(
      "previousId",
      "required",
      "is missing",
      "a previousId or an anonymousId to merge",
    );
  }
  const properties = input.properties ?? {};
  const reservedKey = Object.getPrototypeOf(properties) === Object.prototype
    ? checkPlainProperties(properties, reservedPrefixes)
    : checkOtherProperties(properties, reservedPrefixes);
  if (reservedKey !== undefined) {
    throw new EventValidationError(
      `properties.${reservedKey}`,
      "reserved",
      `starts with the reserved prefix '${reservedPrefixOf(reservedKey, reservedPrefixes)}'`,
      `property names not starting with ${reservedPrefixes.map((p) => `'${p}'`).join(" or ")}`,
    );
  }
  if (input.context !== undefined) checkJson("context", input.context, 0);
  let timestamp: number;
  if (input.timestamp === undefined) {
    timestamp = now();
  } else {
    timestamp = input.timestamp instanceof Date ? input.timestamp.getTime() : input.timestamp;
    if (!Number.isFinite(timestamp) || timestamp < 0) {
      throw new EventValidationError(
        "timestamp",
        "type",
        `is ${String(input.timestamp)}`,
        "a Date or epoch milliseconds >= 0",
      );
    }
  }
  const idempotencyKey = input.idempotencyKey === undefined
    ? generateIdempotencyKey()
    : validateIdempotencyKey(input.idempotencyKey, keyPolicy);
  const event: IdemtrackEvent = { type, name, properties, timestamp, idempotencyKey };
  if (userId !== undefined) event.userId = userId;
  if (anonymousId !== undefined) event.anonymousId = anonymousId;
  if (previousId !== undefined) event.previousId = previousId;
  if (input.context !== undefined) event.context = input.context;
  const tenantId = checkId("tenantId", input.tenantId, 64);
  if (tenantId !== undefined) event.tenantId = tenantId;
  const brandId = checkId("brandId", input.brandId, 64);
  if (brandId !== undefined) event.brandId = brandId;
  if (input.attachments !== undefined && input.attachments.length > 0) {
    event.attachments = input.attachments.map(checkAttachment);
  }
  return event;
}

/**
 * Returns `value` if it has at most `maxLength` characters (UTF-16 code units).
 *
 * @throws {EventValidationError} with rule `maxLength`, naming `field`, when it is longer.
 */
export function checkMaxLength(field: string, value: string, maxLength: number): string {
  if (value.length > maxLength) {
    throw new EventValidationError(
      field,
      "maxLength",
      `has ${value.length} characters`,
      `at most ${maxLength}`,
    );
  }
  return value;
}

/**
 * Checks an encoded event against the size cap (the profile's or the
 * client's `maxEventBytes`) and returns its UTF-8 size.
 *
 * @throws {EventValidationError} with rule `maxBytes` when the event is too large.
 */
export function checkEncodedSize(encoded: string | Uint8Array, maxEventBytes: number): number {
  return checkEventBytes(
    typeof encoded === "string" ? utf8ByteLength(encoded) : encoded.byteLength,
    maxEventBytes,
  );
}

/**
 * Checks an encoded event's size in bytes against the per-event cap.
 *
 * @throws {EventValidationError} when `bytes` is over `maxEventBytes`.
 */
export function checkEventBytes(bytes: number, maxEventBytes: number): number {
  if (bytes > maxEventBytes) {
    throw new EventValidationError(
      "event",
      "maxBytes",
      `encodes to ${bytes} bytes`,
      `at most ${maxEventBytes} bytes per event`,
    );
  }
  return bytes;
}
