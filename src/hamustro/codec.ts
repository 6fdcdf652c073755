import type { Framing } from "../kit/chunk.ts";
import type { JsonValue } from "../event.ts";
import { environmentNumber, type EnvironmentValue } from "./environment.ts";
import { ProtoWriter, varintLength } from "./_proto_writer.ts";

export { varintLength };

/** The optional strings of a Hamustro `Collection` (fields 7–14); absent or empty ones are not written. */
export interface OptionalCollectionFields {
  /** Device maker. @default {undefined} */
  deviceMake?: string;
  /** Device model. @default {undefined} */
  deviceModel?: string;
  /** Operating system. @default {undefined} */
  system?: string;
  /** Operating system language. @default {undefined} */
  systemLanguage?: string;
  /** Browser name. @default {undefined} */
  browser?: string;
  /** Browser version. @default {undefined} */
  browserVersion?: string;
  /** Git hash of the application's build. @default {undefined} */
  productGitHash?: string;
  /** The application's language. @default {undefined} */
  productLanguage?: string;
}

/**
 * A Hamustro `Collection`'s own fields (everything but its payloads), as
 * they go on the wire: `deviceId` is already the sha256 hex of the raw id and
 * `session` already computed (see `hamustroSession`).
 */
export interface CollectionFields extends OptionalCollectionFields {
  /** Device id: sha256 hex of the raw device id. */
  deviceId: string;
  /** The application's client id. */
  clientId: string;
  /** Session id (see `hamustroSession`). */
  session: string;
  /** Operating system version. */
  systemVersion: string;
  /** The application's version. */
  productVersion: string;
  /** By name or number; the protobuf and JSON bodies carry the number. */
  env: EnvironmentValue;
}

/** One Hamustro `Payload`. Optional strings that are absent or empty are not written. */
export interface PayloadFields {
  /** Epoch seconds, an integer in 0…2^64 - 1. */
  at: number | bigint;
  /** Event name. */
  event: string;
  /** Serial number of the event in its session, an integer in 0…2^32 - 1. */
  nr: number;
  /** Time zone of the event. @default {undefined} */
  timezone?: string;
  /** Tenant of the event. @default {undefined} */
  tenantId?: string;
  /** The user's id. @default {undefined} */
  userId?: string;
  /** The user's IP address. @default {undefined} */
  ip?: string;
  /** The user's country. @default {undefined} */
  country?: string;
  /**
   * `Parameter`s in key order: a string value is sent as-is, any other JSON
   * value as its JSON text (`42`, `true`, `{"a":1}`).
   */
  parameters?: Readonly<Record<string, JsonValue>>;
}

/** The optional string fields of a Collection, with their protobuf tags and JSON names. */
export const OPTIONAL_COLLECTION_FIELDS = [
  ["deviceMake", 0x3a, "device_make"],
  ["deviceModel", 0x42, "device_model"],
  ["system", 0x4a, "system"],
  ["systemLanguage", 0x52, "system_language"],
  ["browser", 0x5a, "browser"],
  ["browserVersion", 0x62, "browser_version"],
  ["productGitHash", 0x6a, "product_git_hash"],
  ["productLanguage", 0x72, "product_language"],
] as const;

/** Tag of `Collection.payloads` (field 15, wire type 2). */
export const PAYLOADS_TAG = 0x7a;
const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;

/** Payloads are small and encoded once each: written straight into shared slabs. */
const writer = new ProtoWriter();

/** A parameter value as a string: strings as-is, other JSON values as JSON text. */
export function parameterValue(value: JsonValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Checks `at` and returns it as a number when exactly representable, else a bigint. */
export function checkAt(at: number | bigint): number | bigint {
  if (typeof at === "bigint") {
    if (at < 0n || at > MAX_UINT64) {
      throw new RangeError(
        `Cannot encode payload as 'at' must be an integer from 0 to 2^64 - 1: current value is ${at}`,
      );
    }
    return at <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(at) : at;
  }
  if (!Number.isSafeInteger(at) || at < 0) {
    throw new RangeError(
      `Cannot encode payload as 'at' must be a non-negative safe integer or a bigint: current value is ${at}`,
    );
  }
  return at;
}

/** Checks `nr` (a uint32). */
export function checkNr(nr: number): number {
  if (!Number.isInteger(nr) || nr < 0 || nr > 0xffff_ffff) {
    throw new RangeError(
      `Cannot encode payload as 'nr' must be an integer from 0 to 4294967295: current value is ${nr}`,
    );
  }
  return nr;
}

/**
 * Encodes one `Payload` message to protobuf bytes, by hand for this fixed
 * schema (the generated schema decodes it). Done once per event, at track
 * time; {@linkcode frameCollection} then frames the stored bytes as they are.
 *
 * @throws {RangeError} when `at` or `nr` is out of range.
 *
 * @example Usage
 * ```ts
 * import { encodePayload } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodePayload({ at: 1454514088, event: "App.Open", nr: 1 });
 * assert.equal(bytes[0], 0x08); // field 1 (at), varint
 * ```
 */
export function encodePayload(payload: PayloadFields): Uint8Array {
  const at = checkAt(payload.at);
  const nr = checkNr(payload.nr);
  writer.reset();
  writer.uint(0x08, at);
  writer.string(0x12, payload.event);
  writer.uint(0x18, nr);
  if (payload.timezone) writer.string(0x22, payload.timezone);
  if (payload.tenantId) writer.string(0x2a, payload.tenantId);
  if (payload.userId) writer.string(0x32, payload.userId);
  if (payload.ip) writer.string(0x3a, payload.ip);
  if (payload.country) writer.string(0x42, payload.country);
  const parameters = payload.parameters;
  if (parameters !== undefined) {
    for (const name in parameters) {
      writer.pair(0x4a, name, parameterValue(parameters[name]!));
    }
  }
  return writer.view();
}

/**
 * Encodes a Collection's own fields (1–14): a body with no payloads, and the
 * prefix of every body of that session.
 *
 * @example Usage
 * ```ts
 * import { encodeCollectionFields } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * const header = encodeCollectionFields({
 *   deviceId: "d", clientId: "c", session: "s", systemVersion: "1", productVersion: "2",
 *   env: "PRODUCTION",
 * });
 * assert.equal(header.length, 5 * 3 + 2);
 * ```
 */
export function encodeCollectionFields(fields: CollectionFields): Uint8Array {
  writer.reset();
  writer.string(0x0a, fields.deviceId);
  writer.string(0x12, fields.clientId);
  writer.string(0x1a, fields.session);
  writer.string(0x22, fields.systemVersion);
  writer.string(0x2a, fields.productVersion);
  writer.uint(0x30, environmentNumber(fields.env));
  for (const [key, tag] of OPTIONAL_COLLECTION_FIELDS) {
    const value = fields[key];
    if (value) writer.string(tag, value);
  }
  return writer.finish();
}

/** Bytes an encoded payload of `size` bytes takes inside a Collection (tag, length, bytes). */
export function framedPayloadBytes(size: number): number {
  return 1 + varintLength(size) + size;
}

/**
 * Exact framing of protobuf Collection bodies, for `chunkBySize`: the empty
 * body is the encoded Collection fields, each payload adds its tag and length.
 *
 * @example Usage
 * ```ts
 * import { protobufFraming } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * const framing = protobufFraming(new Uint8Array(120));
 * assert.equal(framing.emptyBytes, 120);
 * assert.equal(framing.itemBytes(200, true, "payload"), 1 + 2 + 200);
 * ```
 */
export function protobufFraming(collectionFields: Uint8Array): Framing {
  return { emptyBytes: collectionFields.length, itemBytes: framedPayloadBytes };
}

/**
 * Frames a protobuf Collection from its encoded fields and payloads that are
 * already encoded: each payload is copied after its tag and length, never
 * re-encoded.
 *
 * @example Usage
 * ```ts
 * import { encodeCollectionFields, encodePayload, frameCollection, protobufFraming } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * const header = encodeCollectionFields({
 *   deviceId: "d", clientId: "c", session: "s", systemVersion: "1", productVersion: "2",
 *   env: 0,
 * });
 * const payload = encodePayload({ at: 1, event: "e", nr: 1 });
 * const body = frameCollection(header, [payload, payload]);
 * const framing = protobufFraming(header);
 * assert.equal(body.length, framing.emptyBytes + 2 * framing.itemBytes(payload.length, true, ""));
 * ```
 */
export function frameCollection(
  collectionFields: Uint8Array,
  /** The events of the Collection. */
  payloads: readonly Uint8Array[],
): Uint8Array {
  let size = collectionFields.length;
  for (const payload of payloads) size += framedPayloadBytes(payload.length);
  const body = new Uint8Array(size);
  body.set(collectionFields, 0);
  let pos = collectionFields.length;
  for (const payload of payloads) {
    body[pos++] = PAYLOADS_TAG;
    let length = payload.length;
    while (length > 127) {
      body[pos++] = (length & 127) | 128;
      length >>>= 7;
    }
    body[pos++] = length;
    body.set(payload, pos);
    pos += payload.length;
  }
  return body;
}
