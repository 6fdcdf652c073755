import { utf8ByteLength } from "../_util/utf8.ts";
import type { JsonObject } from "../event.ts";
import { forwardedClientIpv4 } from "./_client_address.ts";
import { environmentLabel } from "./environment.ts";
import type {
  DecodedBatch,
  DecodedRecord,
  RecordResult,
  Route,
  RouteContext,
} from "../receiver/route.ts";
import { hamustroSession } from "./session.ts";
import { verifyHamustro } from "./signature.ts";
import {
  type DecodedCollectionFields,
  type DecodedPayload,
  formatOfContentType,
  type HamustroFormat,
  type PayloadBuilder,
  readCollectionWith,
} from "./decode.ts";
import { HAMUSTRO_TRACK_PATH } from "./profile.ts";

/** Options of {@linkcode hamustroRoute}. */
export interface HamustroRouteOptions {
  /** The secret shared with the trackers. */
  sharedSecretKey: string;
  /**
   * `"required"`: every request must be signed. `"optional"`: only requests
   * carrying either Hamustro header are checked (the reference collector's
   * two modes).
   * @default {"required"}
   */
  signature?: "required" | "optional";
  /**
   * Largest distance between `X-Hamustro-Time` and the receipt time; older or
   * later requests are refused as replays. `false` turns the window off, as
   * in the reference collector, which never compares the time with its clock
   * (then any non-empty `X-Hamustro-Time` is signed as it is).
   * @default {300000}
   */
  maxClockSkewMs?: number | false;
  /**
   * How many `session:nr` pairs the route remembers (in memory, oldest
   * forgotten first) to notice a different payload sent under a number
   * already used, across requests. Within one request every conflict is
   * noticed. `0` remembers none.
   * @default {65536}
   */
  conflictMemory?: number;
  /** Tenant that scopes the payloads' dedupe keys. @default {"hamustro"} */
  tenant?: string;
  /** Route path. @default {"/api/v1/track"} */
  path?: string;
}

/** Defaults of {@linkcode HamustroRouteOptions}. */
export const DEFAULT_HAMUSTRO_ROUTE_OPTIONS: Readonly<
  Required<Omit<HamustroRouteOptions, "sharedSecretKey">>
> = Object.freeze({
  signature: "required" as "required" | "optional",
  maxClockSkewMs: 5 * 60 * 1000 as number | false,
  conflictMemory: 65_536,
  tenant: "hamustro",
  path: HAMUSTRO_TRACK_PATH,
});

const EPOCH_SECONDS = /^\d{1,15}$/;

function answer(status: number, error: string, detail: string): Response {
  return new Response(JSON.stringify({ error, detail }), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function uint64Json(value: number | bigint): number | string {
  if (typeof value === "number") return value;
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** The Collection's own fields as the sink sees them (proto names, env by name). */
function collectionJson(collection: Readonly<DecodedCollectionFields>): JsonObject {
  const out: JsonObject = {
    device_id: collection.deviceId,
    client_id: collection.clientId,
    session: collection.session,
    system_version: collection.systemVersion,
    product_version: collection.productVersion,
    env: environmentLabel(collection.env),
  };
  if (collection.deviceMake) out.device_make = collection.deviceMake;
  if (collection.deviceModel) out.device_model = collection.deviceModel;
  if (collection.system) out.system = collection.system;
  if (collection.systemLanguage) out.system_language = collection.systemLanguage;
  if (collection.browser) out.browser = collection.browser;
  if (collection.browserVersion) out.browser_version = collection.browserVersion;
  if (collection.productGitHash) out.product_git_hash = collection.productGitHash;
  if (collection.productLanguage) out.product_language = collection.productLanguage;
  return out;
}

/** A payload's event: `base` (its Collection's fields), then the payload's (`parameters` kept). */
function payloadJson(base: JsonObject, payload: DecodedPayload, clientIp?: string): JsonObject {
  const out: JsonObject = {
    ...base,
    at: uint64Json(payload.at),
    event: payload.event,
    nr: payload.nr,
  };
  if (payload.timezone) out.timezone = payload.timezone;
  if (payload.tenantId) out.tenant_id = payload.tenantId;
  if (payload.userId) out.user_id = payload.userId;
  // As the reference collector does, an empty ip is filled in from the proxy headers.
  const ip = payload.ip || clientIp;
  if (ip) out.ip = ip;
  if (payload.country) out.country = payload.country;
  // Plain `{name, value}` objects, fresh for each payload (see readCollectionWith).
  out.parameters = payload.parameters as unknown as JsonObject[];
  return out;
}

/** A Collection's payloads as events, with their digests and size bounds (in body order). */
interface CollectionEvents {
  readonly collection: DecodedCollectionFields;
  /** The Collection's fields as every event starts with them (undefined: no payloads). */
  readonly base: JsonObject | undefined;
  readonly baseJson: string;
  readonly events: JsonObject[];
  readonly digests: string[];
  readonly bounds: (number | undefined)[];
}

/**
 * Reads a Collection straight into its events. Each event starts with the
 * Collection's fields read before its first payload (all of them, as encoders
 * write them first), or with `base` when given.
 *
 * @throws {SyntaxError} as {@linkcode readCollectionWith}.
 */
function readEvents(
  body: Uint8Array,
  format: HamustroFormat,
  clientIp: string | undefined,
  base?: JsonObject,
): CollectionEvents {
  let baseJson = base === undefined ? "" : JSON.stringify(base);
  let baseBytes = utf8ByteLength(baseJson);
  const digests: string[] = [];
  const bounds: (number | undefined)[] = [];
  const build: PayloadBuilder<JsonObject> = (collection, payload) => {
    if (base === undefined) {
      base = collectionJson(collection);
      baseJson = JSON.stringify(base);
      baseBytes = utf8ByteLength(baseJson);
    }
    digests.push(payloadDigest(payload));
    bounds.push(
      payload.byteLength === undefined
        ? undefined
        : jsonBytesUpperBound(baseBytes, payload.byteLength, clientIp),
    );
    return payloadJson(base, payload, clientIp);
  };
  const { collection, payloads } = readCollectionWith(body, format, build);
  return { collection, base, baseJson, events: payloads, digests, bounds };
}

/**
 * An upper bound of a payload event's JSON size, from the wire bytes it was
 * read from, so the receiver need not encode it to check `maxEventBytes`.
 * JSON escapes each byte of a string into at most 6 bytes (`\u00XX`; a bad
 * byte becomes U+FFFD, 3 bytes); every string and parameter took at least 2
 * wire bytes (tag, length), so 8 × the wire bytes covers their contents,
 * quotes and parameter braces; the keys, `at` (≤ 22 characters) and `nr`
 * take under 256 bytes; `ip` may be the client's address.
 */
function jsonBytesUpperBound(baseBytes: number, wireBytes: number, clientIp?: string): number {
  return baseBytes + 256 + 8 * wireBytes + 18 * (clientIp?.length ?? 0) + CONFLICT_FLAG_BYTES;
}

/** `,"nr_conflict":true`, which a payload's event may carry. */
const CONFLICT_FLAG_BYTES = 20;

// The two 32-bit lanes of the payload digest being computed (one at a time, synchronously).
let lane1 = 0;
let lane2 = 0;

/** Mixes a string, then its length (so field boundaries cannot shift), into the lanes. */
function mixDigest(text: string): void {
  let h1 = lane1;
  let h2 = lane2;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ unit, 2654435761);
    h2 = Math.imul(h2 ^ unit, 1597334677);
  }
  lane1 = Math.imul(h1 ^ text.length ^ 0x9e3779b9, 2654435761);
  lane2 = Math.imul(h2 ^ text.length ^ 0x85ebca6b, 1597334677);
}

// Decimal digits of a number being mixed, least significant first (one at a time, synchronously).
const digits = new Uint8Array(16);

/**
 * Mixes `String(value)` as {@linkcode mixDigest} does, without building the string when `value`
 * is a safe non-negative integer (a timestamp: the usual case).
 */
function mixIntegerDigest(value: number | bigint): void {
  if (typeof value !== "number" || !(value >= 0) || !Number.isSafeInteger(value)) {
    mixDigest(String(value));
    return;
  }
  let count = 0;
  let rest = value;
  do {
    const next = Math.floor(rest / 10);
    digits[count++] = rest - next * 10;
    rest = next;
  } while (rest > 0);
  let h1 = lane1;
  let h2 = lane2;
  for (let i = count - 1; i >= 0; i--) {
    const unit = 48 + digits[i]!;
    h1 = Math.imul(h1 ^ unit, 2654435761);
    h2 = Math.imul(h2 ^ unit, 1597334677);
  }
  lane1 = Math.imul(h1 ^ count ^ 0x9e3779b9, 2654435761);
  lane2 = Math.imul(h2 ^ count ^ 0x85ebca6b, 1597334677);
}

/** Character codes of the lowercase hexadecimal digits. */
const HEX_CODES = Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0));

/** `high` then `low` as 8 lowercase hexadecimal digits each, built as one string. */
function hex64(high: number, low: number): string {
  const h = (word: number, shift: number) => HEX_CODES[(word >>> shift) & 15]!;
  return String.fromCharCode(
    h(high, 28),
    h(high, 24),
    h(high, 20),
    h(high, 16),
    h(high, 12),
    h(high, 8),
    h(high, 4),
    h(high, 0),
    h(low, 28),
    h(low, 24),
    h(low, 20),
    h(low, 16),
    h(low, 12),
    h(low, 8),
    h(low, 4),
    h(low, 0),
  );
}

/**
 * A 64-bit digest of what a payload says (not the `ip` the route fills in),
 * so a resend of the same payload has the same dedupe key and a different
 * payload under the same `session:nr` does not. It only tells apart payloads
 * sharing a `session:nr`, so a fast non-cryptographic hash is enough: an
 * accidental collision between two of them is about 1 in 2^64, and a client
 * that crafts one only drops its own event.
 */
function payloadDigest(payload: DecodedPayload): string {
  lane1 = 0xdeadbeef ^ payload.nr;
  lane2 = 0x41c6ce57 ^ payload.nr;
  mixIntegerDigest(payload.at);
  mixDigest(payload.event);
  mixDigest(payload.timezone);
  mixDigest(payload.tenantId);
  mixDigest(payload.userId);
  mixDigest(payload.ip);
  mixDigest(payload.country);
  for (const { name, value } of payload.parameters) {
    mixDigest(name);
    mixDigest(value);
  }
  mixIntegerDigest(payload.parameters.length);
  const h1 = Math.imul(lane1 ^ (lane1 >>> 16), 2246822507) ^
    Math.imul(lane2 ^ (lane2 >>> 13), 3266489909);
  const h2 = Math.imul(lane2 ^ (lane2 >>> 16), 2246822507) ^
    Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return hex64(h2, h1);
}

/** Counters of a {@linkcode HamustroRoute}. */
export interface HamustroRouteStats {
  /**
   * Payloads stored under a `session:nr` another, different payload
   * was seen with (in the same request, or in the remembered recent ones):
   * both are stored, and the later one's event carries `nr_conflict: true`.
   */
  nrConflicts: number;
}

/** The Hamustro route, with its counters. */
export interface HamustroRoute extends Route {
  /** Live counters. */
  readonly stats: Readonly<HamustroRouteStats>;
}

/**
 * The receiver's Hamustro endpoint, `POST /api/v1/track`: checks the
 * signature (constant time) and the replay window, decodes protobuf or JSON
 * Collections with the generated schema as the reference collector does
 * (required fields, session, `env` numbers outside the enum, jsonpb's JSON
 * rules), and de-duplicates each payload on `session:nr` plus a digest of
 * the payload, so a resend after a lost 200 is not counted twice while a
 * different payload reusing a number (the reference stores both) is stored
 * too, flagged `nr_conflict: true` and counted in `stats.nrConflicts`. A
 * payload without `ip` gets the first public IPv4 address of
 * `X-Forwarded-For`, else `X-Real-Ip` (never the socket's).
 *
 * Answers: 401 bad or missing signature headers, stale time (the reference
 * answers 405: a refused signature is an authentication failure, and 405
 * would tell clients and proxies that POST is not allowed); 400 bad
 * Content-Type, undecodable body, missing required field, session mismatch;
 * 204 no payloads; 200 every payload accepted or a duplicate; 503 when the
 * sink asked for a retry; 400 when it refused a payload for good. Error
 * bodies are `{"error":code,"detail":text}`.
 *
 * @example Usage
 * ```ts
 * import { hamustroRoute } from "./route.ts";
 * import assert from "node:assert/strict";
 *
 * const route = hamustroRoute({ sharedSecretKey: "s3cret" });
 * const request = new Request("http://127.0.0.1/api/v1/track", { method: "POST", body: "{}" });
 * const answer = await route.decode(request, new Uint8Array(), { now: Date.now(), params: {} });
 * assert.ok(answer instanceof Response);
 * assert.equal(answer.status, 401);
 * ```
 */
export function hamustroRoute(options: HamustroRouteOptions): HamustroRoute {
  const {
    signature = DEFAULT_HAMUSTRO_ROUTE_OPTIONS.signature,
    maxClockSkewMs = DEFAULT_HAMUSTRO_ROUTE_OPTIONS.maxClockSkewMs,
    conflictMemory = DEFAULT_HAMUSTRO_ROUTE_OPTIONS.conflictMemory,
    tenant = DEFAULT_HAMUSTRO_ROUTE_OPTIONS.tenant,
    path = DEFAULT_HAMUSTRO_ROUTE_OPTIONS.path,
  } = options;
  const secret = options.sharedSecretKey;
  if (typeof secret !== "string" || secret.length === 0) {
    throw new TypeError(
      `Cannot create the Hamustro route as 'sharedSecretKey' must be a non-empty string: current value is ${
        typeof secret === "string" ? "empty" : typeof secret
      }`,
    );
  }
  if (signature !== "required" && signature !== "optional") {
    throw new TypeError(
      `Cannot create the Hamustro route as 'signature' must be "required" or "optional": current value is ${
        JSON.stringify(signature)
      }`,
    );
  }
  if (maxClockSkewMs !== false && !(maxClockSkewMs >= 0)) {
    throw new RangeError(
      `Cannot create the Hamustro route as 'maxClockSkewMs' must be a non-negative number or false: current value is ${maxClockSkewMs}`,
    );
  }
  if (!Number.isInteger(conflictMemory) || conflictMemory < 0) {
    throw new RangeError(
      `Cannot create the Hamustro route as 'conflictMemory' must be a non-negative integer: current value is ${conflictMemory}`,
    );
  }
  const stats: HamustroRouteStats = { nrConflicts: 0 };
  /** session → nr → digest of the payload first seen with that `session:nr`. */
  const recent = new Map<string, Map<number, string>>();
  // What `recent` holds, oldest at `oldest` once full. Forgetting the oldest through a map's own
  // order (`keys().next()`) would walk past every deleted slot V8 has not compacted yet: time
  // proportional to the memory for each payload once it is full. Each slot keeps its session's
  // map too, so forgetting it looks nothing up.
  const agedSessions: string[] = [];
  const agedMaps: Map<number, string>[] = [];
  const agedNumbers: number[] = [];
  let oldest = 0;

  function forgetOldest(): void {
    const numbers = agedMaps[oldest]!;
    numbers.delete(agedNumbers[oldest]!);
    if (numbers.size === 0) recent.delete(agedSessions[oldest]!);
  }

  /**
   * Remembers `digest` under `session:nr`; `numbers` is the session's map as last seen (undefined
   * or emptied: looked up again). Returns the session's map.
   */
  function remember(
    session: string,
    numbers: Map<number, string> | undefined,
    nr: number,
    digest: string,
  ): Map<number, string> {
    const full = agedNumbers.length === conflictMemory;
    if (full) forgetOldest();
    // An emptied map has left `recent` (possibly just now, forgetting this session's oldest).
    if (numbers === undefined || numbers.size === 0) {
      numbers = recent.get(session);
      if (numbers === undefined) recent.set(session, numbers = new Map());
    }
    numbers.set(nr, digest);
    if (full) {
      agedSessions[oldest] = session;
      agedMaps[oldest] = numbers;
      agedNumbers[oldest] = nr;
      oldest = (oldest + 1) % conflictMemory;
    } else {
      agedSessions.push(session);
      agedMaps.push(numbers);
      agedNumbers.push(nr);
    }
    return numbers;
  }

  /**
   * Flags the events whose `session:nr` another payload was seen under (keyed by number: no string
   * is built per lookup), and remembers the others' digests. A tracker numbers its events in
   * order: while the numbers of a request rise, none can repeat within it, so the request's own
   * map is built only at the first one that does not; and a session the memory did not know
   * before the request has nothing to look up there.
   */
  function flagConflicts(session: string, events: JsonObject[], digests: string[]): void {
    let numbers = recent.get(session);
    const known = numbers !== undefined;
    /** The digest each event's number was first seen with (in the request or the memory). */
    const firsts: string[] = new Array(events.length);
    let inRequest: Map<number, string> | undefined;
    let highest = -1;
    for (let i = 0; i < events.length; i++) {
      const nr = events[i]!.nr as number;
      const digest = digests[i]!;
      if (inRequest === undefined && nr <= highest) {
        inRequest = new Map();
        for (let j = 0; j < i; j++) inRequest.set(events[j]!.nr as number, firsts[j]!);
      }
      highest = nr;
      const seen = inRequest?.get(nr) ?? (known ? numbers?.get(nr) : undefined);
      const first = seen ?? digest;
      firsts[i] = first;
      inRequest?.set(nr, first);
      if (seen !== undefined) {
        if (seen !== digest) events[i]!.nr_conflict = true;
      } else if (conflictMemory > 0) {
        numbers = remember(session, numbers, nr, digest);
      }
    }
  }

  function authenticate(request: Request, body: Uint8Array, now: number): Response | undefined {
    const time = request.headers.get("x-hamustro-time") ?? "";
    const signed = request.headers.get("x-hamustro-signature") ?? "";
    if (signature === "optional" && time === "" && signed === "") return undefined;
    if (time === "") {
      return answer(401, "missing_time", "X-Hamustro-Time header is missing");
    }
    if (signed === "") {
      return answer(401, "missing_signature", "X-Hamustro-Signature header is missing");
    }
    if (maxClockSkewMs !== false && !EPOCH_SECONDS.test(time)) {
      return answer(401, "invalid_time", "X-Hamustro-Time must be epoch seconds");
    }
    const skewMs = Math.abs(now - Number(time) * 1000);
    if (maxClockSkewMs !== false && skewMs > maxClockSkewMs) {
      return answer(
        401,
        "stale_time",
        `X-Hamustro-Time is ${
          Math.round(skewMs / 1000)
        } s away from the receiver's clock (allowed: ${maxClockSkewMs / 1000} s)`,
      );
    }
    if (!verifyHamustro(time, body, secret, signed)) {
      return answer(401, "invalid_signature", "X-Hamustro-Signature does not match the body");
    }
    return undefined;
  }

  return {
    name: "hamustro",
    method: "POST",
    path,
    stats,

    decode(request: Request, body: Uint8Array, context: RouteContext): DecodedBatch | Response {
      const refused = authenticate(request, body, context.now);
      if (refused !== undefined) return refused;
      const contentType = request.headers.get("content-type");
      const format = formatOfContentType(contentType);
      if (format === undefined) {
        return answer(
          400,
          "unsupported_content_type",
          `Content-Type must be application/protobuf or application/json: current value is ${
            JSON.stringify(contentType)
          }`,
        );
      }
      const clientIp = forwardedClientIpv4(request.headers);
      let read: CollectionEvents;
      try {
        read = readEvents(body, format, clientIp);
        // Collection fields written after a payload: the events are built again with all of them.
        const base = collectionJson(read.collection);
        if (read.base !== undefined && JSON.stringify(base) !== read.baseJson) {
          read = readEvents(body, format, clientIp, base);
        }
      } catch (error) {
        return answer(400, "invalid_body", (error as Error).message);
      }
      const { collection, events, digests, bounds } = read;
      if (hamustroSession(collection) !== collection.session) {
        return answer(
          400,
          "invalid_session",
          "session does not match md5(device_id:client_id:system_version:product_version:env)",
        );
      }
      if (events.length === 0) return new Response(null, { status: 204 });
      const { session } = collection;
      flagConflicts(session, events, digests);
      const records: DecodedRecord[] = new Array(events.length);
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        records[i] = {
          key: `${session}:${event.nr}:${digests[i]}`,
          event,
          jsonBytesUpperBound: bounds[i],
        };
      }
      return { tenant, records };
    },

    respond(batch: DecodedBatch, results: readonly RecordResult[]): Response {
      let permanent: RecordResult | undefined;
      let retry: RecordResult | undefined;
      for (let i = 0; i < results.length; i++) {
        const result = results[i]!;
        if (result.status === "accepted") {
          if (batch.records[i]?.event.nr_conflict === true) stats.nrConflicts++;
        } else if (result.status === "rejected") {
          if (result.retryable) retry ??= result;
          else permanent ??= result;
        }
      }
      // Hamustro answers for the whole collection: one retryable refusal asks for a resend,
      // in which the accepted payloads come back as duplicates of `session:nr`.
      if (retry?.status === "rejected") return answer(503, retry.code, retry.reason);
      if (permanent?.status === "rejected") {
        return answer(400, permanent.code, permanent.reason);
      }
      return new Response(null, { status: 200 });
    },
  };
}
