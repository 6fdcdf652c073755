import { optionChecks } from "../_util/checks.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import { currentTimezone } from "./device.ts";
import { perEventReader, type PerEventValue } from "./_per_event.ts";
import { recordBytes } from "../_util/internal.ts";
import type { Framing } from "../kit/chunk.ts";
import { environmentNumber, type EnvironmentValue } from "./environment.ts";
import { checkEncodedSize, type IdemtrackEvent } from "../event.ts";
import { STRICT_KEY_POLICY } from "../idempotency_key.ts";
import type {
  EncodedBytes,
  OutgoingBatch,
  PreparedRequest,
  Profile,
  ProfileLimits,
} from "../ports/profile.ts";
import { hamustroSession, hashDeviceId } from "./session.ts";
import { signHamustro } from "./signature.ts";
import type { TransportResponse } from "../ports/transport.ts";
import { hamustroStatusTable, readHamustroResponse } from "./_response.ts";
import { transcodePayload } from "./_transcode.ts";
import {
  type CollectionFields,
  encodeCollectionFields,
  encodePayload,
  frameCollection,
  OPTIONAL_COLLECTION_FIELDS,
  type OptionalCollectionFields,
  protobufFraming,
} from "./codec.ts";
import type { HamustroFormat } from "./decode.ts";
import { payloadFieldsOf } from "./event_payload.ts";
import {
  encodeCollectionFieldsJson,
  encodePayloadJson,
  frameCollectionJson,
  type JsonCollectionFrame,
  jsonCollectionFraming,
} from "./json_codec.ts";

const { positiveInteger } = optionChecks("create the Hamustro profile");

/** The collector's track endpoint, relative to `collectorUrl`. */
export const HAMUSTRO_TRACK_PATH = "/api/v1/track";

/**
 * The seed's `ClientTracker` attributes: where to send, the secret, and the
 * Collection fields. Shared by {@linkcode HamustroProfileOptions} and the
 * tracker's options.
 */
export interface HamustroTrackerAttributes extends OptionalCollectionFields {
  /** Collector base URL; requests go to `{collectorUrl}/api/v1/track`. */
  collectorUrl: string;
  /** Shared secret for `X-Hamustro-Signature`; never logged or echoed. */
  sharedSecretKey: string;
  /** The raw device id; the wire carries its sha256 hex. */
  deviceId: string;
  /** The application's client id (`client_id`). */
  clientId: string;
  /** Operating system version (`system_version`). */
  systemVersion: string;
  /** The application's version (`product_version`). */
  productVersion: string;
  /** Environment by name (`"PRODUCTION"`) or number. */
  env: EnvironmentValue;
  /** Body format. @default {"protobuf"} */
  format?: HamustroFormat;
}

/** Options of {@linkcode hamustroProfile}: the seed's `ClientTracker` attributes plus limits. */
export interface HamustroProfileOptions extends HamustroTrackerAttributes {
  /** Extra request headers (the seed's `SetHeaders`). @default {{}} */
  headers?: Record<string, string>;
  /**
   * `timezone` of payloads whose event has no `context.timezone`: a fixed
   * value, a function asked per event, or `false` to leave it out.
   * @default {the device's current zone ({@linkcode currentTimezone}), looked up again each second}
   */
  timezone?: PerEventValue;
  /** Time for the zone lookups and `Retry-After` dates. @default {systemClock} */
  clock?: Pick<Clock, "now">;
  /** Largest request body in bytes. @default {512000} */
  maxBatchBytes?: number;
  /** Most payloads per Collection. @default {10000} */
  maxBatchEvents?: number;
  /** Largest encoded payload in bytes. @default {102400} */
  maxEventBytes?: number;
  /**
   * Statuses after which resending the same body cannot succeed, so the
   * batch fails (counted and reported) instead of blocking its session. Every
   * other status but 200 and 413 keeps the payloads for a retry (the seed
   * deletes payloads only after a 200).
   * @default {[400]}
   */
  permanentStatuses?: readonly number[];
}

/** Defaults of {@linkcode HamustroProfileOptions}. */
export const DEFAULT_HAMUSTRO_PROFILE_OPTIONS: Readonly<
  Required<
    Pick<
      HamustroProfileOptions,
      | "format"
      | "maxBatchBytes"
      | "maxBatchEvents"
      | "maxEventBytes"
      | "permanentStatuses"
      | "clock"
    >
  >
> = Object.freeze({
  format: "protobuf" as HamustroFormat,
  maxBatchBytes: 512_000,
  maxBatchEvents: 10_000,
  maxEventBytes: 100 * 1024,
  permanentStatuses: Object.freeze([400]) as readonly number[],
  clock: systemClock as Pick<Clock, "now">,
});

/** The Hamustro profile, with the session bookkeeping a tracker needs. */
export interface HamustroProfile extends Profile {
  /** The body format requests are sent in. */
  readonly format: HamustroFormat;
  /** Session of the tracker's current attributes: the stream of every event it encodes. */
  readonly session: string;
  /** Payloads are bytes (protobuf, or JSON in the Collection's form). */
  encode(event: IdemtrackEvent): EncodedBytes;
  /** The current Collection fields (wire form), for persisting with the queue. */
  readonly collection: Readonly<CollectionFields>;
  /**
   * Registers the Collection fields of an earlier session (restored from
   * storage) so its unsent payloads can still be sent under it.
   *
   * @throws {RangeError} when `fields.session` does not match the other fields.
   * @returns The session id.
   */
  addCollection(fields: CollectionFields): string;
  /** Replaces the extra request headers (the seed's `SetHeaders`). */
  setHeaders(headers: Record<string, string>): void;
}

interface SessionEncoding {
  readonly fields: Readonly<CollectionFields>;
  readonly protobuf: Uint8Array;
  readonly json: JsonCollectionFrame;
  readonly framing: Framing;
}

const OWN_HEADERS = new Set(["content-type", "x-hamustro-time", "x-hamustro-signature"]);

function requireString(name: string, value: unknown, secret = false): string {
  if (typeof value !== "string" || value.length === 0) {
    const shown = secret ? (typeof value === "string" ? "empty" : typeof value) : JSON.stringify(
      value,
    );
    throw new TypeError(
      `Cannot create the Hamustro profile as '${name}' must be a non-empty string: current value is ${shown}`,
    );
  }
  return value;
}

/** The environment as its wire number, still typed as an environment. */
function wireEnv(env: EnvironmentValue): EnvironmentValue {
  return environmentNumber(env) as EnvironmentValue;
}

function userHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!OWN_HEADERS.has(name.toLowerCase())) kept[name] = value;
  }
  return kept;
}

function collectorEndpoint(collectorUrl: string): string {
  let url: URL;
  try {
    url = new URL(collectorUrl);
  } catch {
    throw new TypeError(
      `Cannot create the Hamustro profile as 'collectorUrl' must be an absolute http: or https: URL: current value is ${
        JSON.stringify(collectorUrl)
      }`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `Cannot create the Hamustro profile as 'collectorUrl' must be an absolute http: or https: URL: current value is ${
        JSON.stringify(collectorUrl)
      }`,
    );
  }
  return url.origin + url.pathname.replace(/\/+$/, "") + HAMUSTRO_TRACK_PATH;
}

/** How often the device's time zone is looked up again, ms. */
const TIMEZONE_REFRESH_MS = 1_000;

/**
 * A `Profile` that speaks Hamustro's collector protocol (`POST
 * /api/v1/track`, protobuf or JSON `Collection`s, signed). Each event is
 * encoded to its `Payload` bytes once; a batch's body is the session's
 * encoded Collection fields followed by those bytes, framed without
 * re-encoding. The stream of a record is its session, so records of two
 * sessions never share a Collection.
 *
 * Answers: 200 delivers the whole batch (only a 200: the seed deletes
 * payloads after nothing else), 413 splits it, statuses in
 * `permanentStatuses` (400: the collector cannot decode this body) fail it,
 * every other status keeps it for a retry (honouring `Retry-After`).
 *
 * @example Usage
 * ```ts
 * import { hamustroProfile } from "./profile.ts";
 * import { createEvent } from "../event.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = hamustroProfile({
 *   collectorUrl: "http://127.0.0.1:8080",
 *   sharedSecretKey: "s3cret",
 *   deviceId: "device-1",
 *   clientId: "c1",
 *   systemVersion: "14.1",
 *   productVersion: "2.3",
 *   env: "PRODUCTION",
 * });
 * const event = createEvent({ name: "App.Open", userId: "u1", context: { nr: 1 } });
 * const encoded = profile.encode(event);
 * assert.equal(encoded.stream, profile.session);
 * const request = await profile.buildRequest({
 *   id: "batch-0001",
 *   stream: encoded.stream,
 *   attempt: 0,
 *   records: [{ id: "1", key: event.idempotencyKey, queuedAt: 0, ...encoded }],
 * }, 1454514088_000);
 * assert.equal(request.url, "http://127.0.0.1:8080/api/v1/track");
 * assert.equal(request.headers["X-Hamustro-Time"], "1454514088");
 * assert.equal(request.headers["X-Hamustro-Signature"]?.length, 44);
 * ```
 */
export function hamustroProfile(options: HamustroProfileOptions): HamustroProfile {
  const {
    format = DEFAULT_HAMUSTRO_PROFILE_OPTIONS.format,
    headers = {},
    timezone,
    clock = DEFAULT_HAMUSTRO_PROFILE_OPTIONS.clock,
    maxBatchBytes = DEFAULT_HAMUSTRO_PROFILE_OPTIONS.maxBatchBytes,
    maxBatchEvents = DEFAULT_HAMUSTRO_PROFILE_OPTIONS.maxBatchEvents,
    maxEventBytes = DEFAULT_HAMUSTRO_PROFILE_OPTIONS.maxEventBytes,
    permanentStatuses = DEFAULT_HAMUSTRO_PROFILE_OPTIONS.permanentStatuses,
  } = options;
  if (format !== "protobuf" && format !== "json") {
    throw new TypeError(
      `Cannot create the Hamustro profile as 'format' must be "protobuf" or "json": current value is ${
        JSON.stringify(format)
      }`,
    );
  }
  const url = collectorEndpoint(options.collectorUrl);
  const secret = requireString("sharedSecretKey", options.sharedSecretKey, true);
  const limits: ProfileLimits = Object.freeze({
    maxBatchBytes: positiveInteger("maxBatchBytes", maxBatchBytes),
    maxBatchEvents: positiveInteger("maxBatchEvents", maxBatchEvents),
    maxItemsPerGroup: Infinity,
    maxEventBytes: positiveInteger("maxEventBytes", maxEventBytes),
  });
  const statusTable = hamustroStatusTable(permanentStatuses);
  const now = () => clock.now();
  const defaultTimezone = perEventReader(timezone, currentTimezone, TIMEZONE_REFRESH_MS, now);
  const contentType = format === "protobuf" ? "application/protobuf" : "application/json";
  let extraHeaders = userHeaders(headers);

  const sessions = new Map<string, SessionEncoding>();
  let largestFraming: Framing | undefined;

  function register(fields: CollectionFields): SessionEncoding {
    const frozen = Object.freeze({ ...fields, env: wireEnv(fields.env) });
    const protobuf = encodeCollectionFields(frozen);
    const json = encodeCollectionFieldsJson(frozen);
    const encoding: SessionEncoding = {
      fields: frozen,
      protobuf,
      json,
      framing: format === "protobuf" ? protobufFraming(protobuf) : jsonCollectionFraming(json),
    };
    sessions.set(frozen.session, encoding);
    // One framing serves every stream: the largest header keeps every body under the cap
    // (exact for the usual single session).
    if (largestFraming === undefined || encoding.framing.emptyBytes > largestFraming.emptyBytes) {
      largestFraming = encoding.framing;
    }
    return encoding;
  }

  const base = {
    deviceId: hashDeviceId(requireString("deviceId", options.deviceId)),
    clientId: requireString("clientId", options.clientId),
    systemVersion: requireString("systemVersion", options.systemVersion),
    productVersion: requireString("productVersion", options.productVersion),
    env: wireEnv(options.env),
  };
  const current: CollectionFields = { ...base, session: hamustroSession(base) };
  for (const [key] of OPTIONAL_COLLECTION_FIELDS) {
    const value = options[key];
    if (value !== undefined) current[key] = requireString(key, value);
  }
  const session = register(current).fields.session;

  return {
    name: "hamustro",
    format,
    session,
    collection: sessions.get(session)!.fields,
    limits,
    get framing(): Framing {
      return largestFraming!;
    },
    keyPolicy: STRICT_KEY_POLICY,

    addCollection(fields: CollectionFields): string {
      const expected = hamustroSession(fields);
      if (fields.session !== expected) {
        throw new RangeError(
          `Cannot add the collection as 'session' must be ${expected} for its fields: current value is ${
            JSON.stringify(fields.session)
          }`,
        );
      }
      return register(fields).fields.session;
    },

    setHeaders(next: Record<string, string>): void {
      extraHeaders = userHeaders(next);
    },

    encode(event: IdemtrackEvent): EncodedBytes {
      const payload = payloadFieldsOf(event, defaultTimezone());
      const data = format === "protobuf" ? encodePayload(payload) : encodePayloadJson(payload);
      checkEncodedSize(data, maxEventBytes);
      return { data, group: "payload", stream: session };
    },

    buildRequest(batch: OutgoingBatch, now: number): PreparedRequest {
      const encoding = sessions.get(batch.stream);
      if (encoding === undefined) {
        throw new RangeError(
          `Cannot build a Hamustro request as session '${batch.stream}' is unknown: register its fields with addCollection()`,
        );
      }
      const payloads = recordBytes(batch).map((data) => transcodePayload(data, format));
      const body = format === "protobuf"
        ? frameCollection(encoding.protobuf, payloads)
        : frameCollectionJson(encoding.json, payloads);
      const time = String(Math.floor(now / 1000));
      return {
        url,
        method: "POST",
        headers: {
          ...extraHeaders,
          "Content-Type": contentType,
          "X-Hamustro-Time": time,
          "X-Hamustro-Signature": signHamustro(time, body, secret),
        },
        body,
      };
    },

    readResponse(response: TransportResponse): ReturnType<Profile["readResponse"]> {
      return readHamustroResponse(response, statusTable, clock.now());
    },
  };
}
