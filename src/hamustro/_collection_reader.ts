import { ProtoReader, WireError } from "./_proto_reader.ts";
import type { DecodedCollectionFields, DecodedParameter, DecodedPayload } from "./decoded.ts";

export { WireError };

/** protobuf-es's default recursion limit; skipped groups may nest up to it minus the depth. */
const RECURSION_LIMIT = 100;
/** Collection's required fields (1–6) in declaration order, as bits of `seen`. */
const COLLECTION_REQUIRED = [
  "device_id",
  "client_id",
  "session",
  "system_version",
  "product_version",
  "env",
] as const;
const ALL_COLLECTION_REQUIRED = 0b11_1111;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A payload's parameters as they are read, one payload at a time; each payload gets an exact
 * copy (`slice`: grown by `push`, a short array would keep room for 16).
 */
const readParameters: DecodedParameter[] = [];

/** Reads one `Parameter` into `readParameters[index]`, returns its first missing required field. */
function readParameter(r: ProtoReader, index: number): string | undefined {
  const end = r.end();
  let name = "";
  let value = "";
  let seen = 0;
  while (r.pos < end) {
    r.tag();
    // Known fields are read as their declared type whatever the wire type, as protobuf-es does.
    switch (r.field) {
      case 1:
        name = r.string();
        seen |= 1;
        break;
      case 2:
        value = r.string();
        seen |= 2;
        break;
      default:
        r.skip(r.wireType, r.field, RECURSION_LIMIT - 3);
    }
  }
  readParameters[index] = { name, value };
  return (seen & 1) === 0 ? "name" : (seen & 2) === 0 ? "value" : undefined;
}

/**
 * Turns one payload into what the caller keeps. `payload` is one object the reader refills for
 * each payload (only its `parameters` array is fresh): copy what outlives the call.
 * `collection` holds the fields read so far (usually all of them: encoders write them first).
 */
export type PayloadBuilder<T> = (
  collection: Readonly<DecodedCollectionFields>,
  payload: Readonly<DecodedPayload>,
) => T;

/** Reads one `Payload`, appends what `build` makes of it, returns its first missing required field. */
function readPayload<T>(
  r: ProtoReader,
  payload: Mutable<DecodedPayload>,
  collection: DecodedCollectionFields,
  build: PayloadBuilder<T>,
  into: T[],
): string | undefined {
  const end = r.end();
  const start = r.pos;
  let at: number | bigint = 0;
  let event = "";
  let nr = 0;
  let timezone = "";
  let tenantId = "";
  let userId = "";
  let ip = "";
  let country = "";
  let parameterCount = 0;
  let seen = 0;
  let parameterMissing: string | undefined;
  while (r.pos < end) {
    r.tag();
    switch (r.field) {
      case 1:
        at = r.uint64();
        seen |= 1;
        break;
      case 2:
        event = r.string();
        seen |= 2;
        break;
      case 3:
        nr = r.uint32();
        seen |= 4;
        break;
      case 4:
        timezone = r.string();
        break;
      case 5:
        tenantId = r.string();
        break;
      case 6:
        userId = r.string();
        break;
      case 7:
        ip = r.string();
        break;
      case 8:
        country = r.string();
        break;
      case 9: {
        const missing = readParameter(r, parameterCount++);
        if (missing !== undefined && parameterMissing === undefined) {
          parameterMissing = `parameters[${parameterCount - 1}].${missing}`;
        }
        break;
      }
      default:
        r.skip(r.wireType, r.field, RECURSION_LIMIT - 2);
    }
  }
  payload.at = at;
  payload.event = event;
  payload.nr = nr;
  payload.timezone = timezone;
  payload.tenantId = tenantId;
  payload.userId = userId;
  payload.ip = ip;
  payload.country = country;
  payload.parameters = parameterCount === 0 ? [] : readParameters.slice(0, parameterCount);
  // A payload with many parameters must not keep them (and their strings) for good.
  if (readParameters.length > 64) readParameters.length = 0;
  // A nested field may run past the declared end (protobuf-es reads on): count what was read.
  payload.byteLength = r.pos - start;
  into.push(build(collection, payload));
  if ((seen & 1) === 0) return "at";
  if ((seen & 2) === 0) return "event";
  if ((seen & 4) === 0) return "nr";
  return parameterMissing;
}

/** A protobuf `Collection` as {@linkcode readCollectionBinary} read it. */
export interface ReadCollection<T> {
  /** The Collection's own fields. */
  readonly collection: DecodedCollectionFields;
  /** What the builder made of each payload, in body order. */
  readonly payloads: T[];
}

/**
 * Decodes a protobuf `Collection` body by hand for the fixed Hamustro
 * schema, with the result and the errors of protobuf-es `fromBinary`
 * followed by a check of the proto2 `required` fields.
 *
 * @throws {WireError} when the bytes are not a valid message.
 * @returns The collection's fields and what `build` made of each payload, or
 * the path of the first missing required field
 * (e.g. `payloads[2].nr`) in declaration order.
 */
export function readCollectionBinary<T>(
  body: Uint8Array,
  build: PayloadBuilder<T>,
): ReadCollection<T> | string {
  const r = new ProtoReader(body);
  const end = body.length;
  const payloads: T[] = [];
  const out: Mutable<DecodedCollectionFields> = {
    deviceId: "",
    clientId: "",
    session: "",
    systemVersion: "",
    productVersion: "",
    env: 0,
    deviceMake: "",
    deviceModel: "",
    system: "",
    systemLanguage: "",
    browser: "",
    browserVersion: "",
    productGitHash: "",
    productLanguage: "",
  };
  const payload: Mutable<DecodedPayload> = {
    at: 0,
    event: "",
    nr: 0,
    timezone: "",
    tenantId: "",
    userId: "",
    ip: "",
    country: "",
    parameters: [],
    byteLength: 0,
  };
  let seen = 0;
  let payloadMissing: string | undefined;
  while (r.pos < end) {
    r.tag();
    switch (r.field) {
      case 1:
        out.deviceId = r.string();
        seen |= 1;
        break;
      case 2:
        out.clientId = r.string();
        seen |= 2;
        break;
      case 3:
        out.session = r.string();
        seen |= 4;
        break;
      case 4:
        out.systemVersion = r.string();
        seen |= 8;
        break;
      case 5:
        out.productVersion = r.string();
        seen |= 16;
        break;
      case 6:
        // Any int32, as golang/protobuf's proto2 decoding keeps enum numbers outside the enum.
        out.env = r.uint32() | 0;
        seen |= 32;
        break;
      case 7:
        out.deviceMake = r.string();
        break;
      case 8:
        out.deviceModel = r.string();
        break;
      case 9:
        out.system = r.string();
        break;
      case 10:
        out.systemLanguage = r.string();
        break;
      case 11:
        out.browser = r.string();
        break;
      case 12:
        out.browserVersion = r.string();
        break;
      case 13:
        out.productGitHash = r.string();
        break;
      case 14:
        out.productLanguage = r.string();
        break;
      case 15: {
        const missing = readPayload(r, payload, out, build, payloads);
        if (missing !== undefined && payloadMissing === undefined) {
          payloadMissing = `payloads[${payloads.length - 1}].${missing}`;
        }
        break;
      }
      default:
        r.skip(r.wireType, r.field, RECURSION_LIMIT - 1);
    }
  }
  if (seen !== ALL_COLLECTION_REQUIRED) {
    for (let bit = 0; bit < COLLECTION_REQUIRED.length; bit++) {
      if ((seen & (1 << bit)) === 0) return COLLECTION_REQUIRED[bit]!;
    }
  }
  return payloadMissing ?? { collection: out, payloads };
}
