import {
  create,
  type DescMessage,
  fromJson,
  isFieldSet,
  mergeFromBinary,
  type Message,
} from "@bufbuild/protobuf";
import {
  type PayloadBuilder,
  type ReadCollection,
  readCollectionBinary,
} from "./_collection_reader.ts";
import { scanJsonObject } from "./_json_value.ts";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { type Collection, CollectionSchema, Environment } from "./gen/hamustro_pb.ts";
import type { DecodedCollection, DecodedPayload } from "./decoded.ts";
import { errorMessage } from "../_util/error_message.ts";

export type {
  DecodedCollection,
  DecodedCollectionFields,
  DecodedParameter,
  DecodedPayload,
} from "./decoded.ts";
export type { PayloadBuilder, ReadCollection };

/** A Hamustro body format, named after its content type. */
export type HamustroFormat = "protobuf" | "json";

/** `FieldPresence.LEGACY_REQUIRED`: how protobuf-es marks a proto2 `required` field. */
const LEGACY_REQUIRED = 3;

/**
 * `ignoreBOM`: a byte-order mark is not taken away (Go's JSON decoder refuses
 * one). Not fatal: Go's encoding/json turns invalid UTF-8 inside strings into
 * U+FFFD (outside strings U+FFFD is not JSON, so such a body is refused
 * either way).
 */
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const ENV_FIELD = 6;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * The body format of a `Content-Type` header (parameters such as
 * `; charset=utf-8` ignored, as `mime.ParseMediaType` does), or undefined
 * when it is missing or neither protobuf nor JSON.
 *
 * @example Usage
 * ```ts
 * import { formatOfContentType } from "./decode.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatOfContentType("Application/JSON; charset=utf-8"), "json");
 * assert.equal(formatOfContentType("text/plain"), undefined);
 * ```
 */
export function formatOfContentType(contentType: string | null): HamustroFormat | undefined {
  if (contentType === null) return undefined;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim()
    .toLowerCase();
  if (type === "application/protobuf") return "protobuf";
  if (type === "application/json") return "json";
  return undefined;
}

/**
 * The path of the first proto2 `required` field that is not set (e.g.
 * `payloads[2].nr`), or undefined when all are: protobuf-es does not check
 * them when decoding, the reference collector does.
 *
 * @example Usage
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { missingRequiredField } from "./decode.ts";
 * import { CollectionSchema } from "./gen/hamustro_pb.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(missingRequiredField(CollectionSchema, create(CollectionSchema)), "device_id");
 * ```
 */
export function missingRequiredField(schema: DescMessage, message: Message): string | undefined {
  for (const field of schema.fields) {
    if (field.fieldKind === "list" && field.listKind === "message") {
      const items = (message as unknown as Record<string, Message[]>)[field.localName] ?? [];
      for (let i = 0; i < items.length; i++) {
        const missing = missingRequiredField(field.message, items[i]!);
        if (missing !== undefined) return `${field.name}[${i}].${missing}`;
      }
    } else if (field.presence === LEGACY_REQUIRED && !isFieldSet(message, field)) {
      return field.name;
    }
  }
  return undefined;
}

/**
 * Decodes a Collection body with the generated schema, like the reference
 * collector: unknown JSON keys and unknown enum names are errors, and every
 * `required` field must be set.
 *
 * @throws {SyntaxError} naming what was wrong (bad bytes, bad JSON, missing field).
 *
 * @example Usage
 * ```ts
 * import { decodeCollection } from "./decode.ts";
 * import assert from "node:assert/strict";
 *
 * const body = new TextEncoder().encode(JSON.stringify({
 *   device_id: "d", client_id: "c", session: "s", system_version: "1", product_version: "2",
 *   env: "STAGING", payloads: [{ at: 1, event: "e", nr: 1 }],
 * }));
 * assert.equal(decodeCollection(body, "json").payloads[0]?.event, "e");
 * assert.throws(() => decodeCollection(new TextEncoder().encode("{}"), "json"), /device_id/);
 * ```
 */
export function decodeCollection(body: Uint8Array, format: HamustroFormat): Collection {
  return checkRequired(decodeWithSchema(body, format));
}

function decodeError(format: HamustroFormat, error: unknown): SyntaxError {
  return new SyntaxError(
    `Cannot decode the ${format} collection: ${errorMessage(error)}`,
  );
}

function missingFieldError(missing: string): SyntaxError {
  return new SyntaxError(`Cannot accept the collection as required field '${missing}' is missing`);
}

function checkRequired(collection: Collection): Collection {
  const missing = missingRequiredField(CollectionSchema, collection);
  if (missing !== undefined) throw missingFieldError(missing);
  return collection;
}

function decodeWithSchema(body: Uint8Array, format: HamustroFormat): Collection {
  try {
    return format === "protobuf" ? fromBinaryKeepingEnv(body) : fromJsonLikeJsonpb(body);
  } catch (error) {
    throw decodeError(format, error);
  }
}

/**
 * `fromBinary`, then an `env` outside the enum taken as the value, as
 * golang/protobuf's proto2 decoding does. protobuf-es keeps such a value of a
 * closed enum as an unknown field, and loses it when the message has other
 * unknown fields unless the message already has its `$unknown` list. Which of
 * a declared and an undeclared `env` came last is not kept: the undeclared
 * one is taken (a body with two `env` fields is not one any client sends).
 */
function fromBinaryKeepingEnv(body: Uint8Array): Collection {
  const collection = create(CollectionSchema);
  collection.$unknown = [];
  mergeFromBinary(CollectionSchema, collection, body);
  const unknownEnv = collection.$unknown.findLast((field) => field.no === ENV_FIELD);
  if (unknownEnv !== undefined) collection.env = new BinaryReader(unknownEnv.data).int32();
  if (collection.$unknown.length === 0) delete collection.$unknown;
  return collection;
}

/** A quoted integer as jsonpb takes one: JSON whitespace around a JSON integer literal, unsigned. */
const QUOTED_UINT = /^[ \t\n\r]*(?:0|[1-9][0-9]*)[ \t\n\r]*$/;

/**
 * jsonpb takes `at` and `nr` quoted too, but then parses what is between the
 * quotes as a JSON number into an unsigned integer: `"1.0"`, `"1e3"`, `"+1"`
 * or `"0x1"` are errors there, while protobuf-es would take some of them
 * (and would refuse `" 1"`, which jsonpb takes).
 */
function checkQuotedIntegers(payloads: unknown): void {
  if (!Array.isArray(payloads)) return;
  payloads.forEach((payload, index) => {
    for (const field of ["at", "nr"]) {
      const fields = payload as Record<string, unknown> | null;
      const value = fields?.[field];
      if (typeof value !== "string") continue;
      if (!QUOTED_UINT.test(value)) {
        throw new SyntaxError(
          `payloads[${index}].${field} must be an unsigned integer: current value is ${
            JSON.stringify(value.slice(0, 40))
          }`,
        );
      }
      // Whitespace inside the quotes is fine for jsonpb, not for protobuf-es.
      fields![field] = value.trim();
    }
  });
}

/**
 * Reads a JSON Collection as the reference collector's jsonpb does: the
 * first object in the body, whatever follows it; no byte-order mark; every
 * number an integer, `at` and `nr` also as quoted unsigned integers; `env` a
 * declared name or any int32 number.
 */
function fromJsonLikeJsonpb(body: Uint8Array): Collection {
  const scanned = scanJsonObject(body);
  if (scanned === undefined) {
    throw new SyntaxError("the body does not start with a JSON object");
  }
  if (scanned.nonInteger !== undefined) {
    throw new SyntaxError(
      `numbers must be integers (at, nr and env are integer fields): found ${scanned.nonInteger}`,
    );
  }
  const json = JSON.parse(utf8.decode(body.subarray(0, scanned.end)));
  checkQuotedIntegers(json?.payloads);
  const env = json?.env;
  const undeclaredEnv = typeof env === "number" && Number.isInteger(env) && env >= INT32_MIN &&
    env <= INT32_MAX && !Object.hasOwn(Environment, env);
  if (undeclaredEnv) json.env = 0;
  const collection = fromJson(CollectionSchema, json);
  if (undeclaredEnv) collection.env = env;
  return collection;
}

/**
 * Decodes a Collection body into plain data, accepting and refusing exactly
 * what {@linkcode decodeCollection} does with the same messages. Protobuf
 * bodies are read by a hand-written decoder for the fixed schema (several
 * times faster than protobuf-es reflection, and each payload carries the
 * `byteLength` it was read from); JSON bodies go through protobuf-es
 * `fromJson`.
 *
 * @throws {SyntaxError} naming what was wrong (bad bytes, bad JSON, missing field).
 *
 * @example Usage
 * ```ts
 * import { readCollection } from "./decode.ts";
 * import { encodeCollectionFields, encodePayload, frameCollection } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * const header = encodeCollectionFields({
 *   deviceId: "d", clientId: "c", session: "s", systemVersion: "1", productVersion: "2",
 *   env: "STAGING",
 * });
 * const body = frameCollection(header, [encodePayload({ at: 1, event: "e", nr: 7 })]);
 * const collection = readCollection(body, "protobuf");
 * assert.equal(collection.env, 8);
 * assert.equal(collection.payloads[0]?.nr, 7);
 * assert.throws(() => readCollection(body.subarray(0, body.length - 1), "protobuf"), /premature end/);
 * ```
 */
export function readCollection(body: Uint8Array, format: HamustroFormat): DecodedCollection {
  if (format === "json") return checkRequired(decodeWithSchema(body, format));
  const { collection, payloads } = readCollectionWith(body, format, copyPayload);
  return { ...collection, payloads };
}

const copyPayload: PayloadBuilder<DecodedPayload> = (_, payload) => ({ ...payload });

/**
 * Decodes a Collection body as {@linkcode readCollection} does, handing each
 * payload, as it is read, to `build` (so no intermediate payload object need
 * be kept). The payload `build` gets is refilled for the next one, except its
 * `parameters`: a fresh array of plain `{name, value}` objects.
 *
 * @throws {SyntaxError} naming what was wrong (bad bytes, bad JSON, missing field).
 *
 * @example Usage
 * ```ts
 * import { readCollectionWith } from "./decode.ts";
 * import { encodeCollectionFields, encodePayload, frameCollection } from "./codec.ts";
 * import assert from "node:assert/strict";
 *
 * const header = encodeCollectionFields({
 *   deviceId: "d", clientId: "c", session: "s", systemVersion: "1", productVersion: "2",
 *   env: "STAGING",
 * });
 * const body = frameCollection(header, [encodePayload({ at: 1, event: "e", nr: 7 })]);
 * const read = readCollectionWith(body, "protobuf", (collection, payload) =>
 *   `${collection.session}:${payload.nr}`);
 * assert.deepEqual(read.payloads, ["s:7"]);
 * ```
 */
export function readCollectionWith<T>(
  body: Uint8Array,
  format: HamustroFormat,
  build: PayloadBuilder<T>,
): ReadCollection<T> {
  if (format === "json") {
    const collection = checkRequired(decodeWithSchema(body, format));
    return {
      collection,
      payloads: collection.payloads.map((payload) =>
        build(collection, {
          at: payload.at,
          event: payload.event,
          nr: payload.nr,
          timezone: payload.timezone,
          tenantId: payload.tenantId,
          userId: payload.userId,
          ip: payload.ip,
          country: payload.country,
          // protobuf-es messages carry their type name: plain copies, as the protobuf reader makes.
          parameters: payload.parameters.map(({ name, value }) => ({ name, value })),
        })
      ),
    };
  }
  let read: ReadCollection<T> | string;
  try {
    read = readCollectionBinary(body, build);
  } catch (error) {
    throw decodeError(format, error);
  }
  if (typeof read === "string") throw missingFieldError(read);
  return read;
}
