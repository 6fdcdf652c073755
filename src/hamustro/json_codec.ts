import { SlabWriter } from "../_util/slab_writer.ts";
import { joinJsonArray } from "../_util/json_array.ts";
import { type Framing, jsonArrayFraming } from "../kit/chunk.ts";
import { environmentNumber } from "./environment.ts";
import {
  checkAt,
  checkNr,
  type CollectionFields,
  OPTIONAL_COLLECTION_FIELDS,
  parameterValue,
  type PayloadFields,
} from "./codec.ts";

const textEncoder = new TextEncoder();
/** Payloads are small and encoded once each: written into shared slabs, not allocated one by one. */
const payloadSlabs = new SlabWriter();

/**
 * The parts of a JSON Collection body around its payloads:
 * `prefix + payload,payload,… + suffix`.
 */
export interface JsonCollectionFrame {
  /** `{"device_id":…,"env":0,"payloads":[` as UTF-8. */
  readonly prefix: Uint8Array;
  /** `]}`. */
  readonly suffix: Uint8Array;
}

const quote = JSON.stringify;

/**
 * Encodes one `Payload` as a JSON object with the proto field names, as the
 * reference collector's jsonpb reads it: `at` and `nr` as numbers,
 * `parameters` as `[{"name":…,"value":…}]`.
 *
 * @throws {RangeError} when `at` or `nr` is out of range.
 *
 * @example Usage
 * ```ts
 * import { encodePayloadJson } from "./json_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodePayloadJson({ at: 1454514088, event: "App.Open", nr: 1, parameters: { k: "v" } });
 * assert.equal(
 *   new TextDecoder().decode(bytes),
 *   '{"at":1454514088,"event":"App.Open","nr":1,"parameters":[{"name":"k","value":"v"}]}',
 * );
 * ```
 */
export function encodePayloadJson(payload: PayloadFields): Uint8Array {
  const at = checkAt(payload.at);
  const nr = checkNr(payload.nr);
  let json = `{"at":${at},"event":${quote(payload.event)},"nr":${nr}`;
  if (payload.timezone) json += `,"timezone":${quote(payload.timezone)}`;
  if (payload.tenantId) json += `,"tenant_id":${quote(payload.tenantId)}`;
  if (payload.userId) json += `,"user_id":${quote(payload.userId)}`;
  if (payload.ip) json += `,"ip":${quote(payload.ip)}`;
  if (payload.country) json += `,"country":${quote(payload.country)}`;
  const parameters = payload.parameters;
  if (parameters !== undefined) {
    let separator = `,"parameters":[`;
    for (const name in parameters) {
      json += `${separator}{"name":${quote(name)},"value":${
        quote(parameterValue(parameters[name]!))
      }}`;
      separator = ",";
    }
    if (separator === ",") json += "]";
  }
  return payloadSlabs.write(json + "}");
}

/**
 * The JSON body parts of a session's Collections. `env` is written as its
 * number, which jsonpb accepts like the name (the reference `utils/message.py`
 * does the same).
 *
 * @example Usage
 * ```ts
 * import { encodeCollectionFieldsJson } from "./json_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const frame = encodeCollectionFieldsJson({
 *   deviceId: "d", clientId: "c", session: "s", systemVersion: "1", productVersion: "2",
 *   env: "BETA",
 * });
 * assert.equal(
 *   new TextDecoder().decode(frame.prefix),
 *   '{"device_id":"d","client_id":"c","session":"s","system_version":"1","product_version":"2","env":4,"payloads":[',
 * );
 * ```
 */
export function encodeCollectionFieldsJson(fields: CollectionFields): JsonCollectionFrame {
  let json = `{"device_id":${quote(fields.deviceId)},"client_id":${quote(fields.clientId)}` +
    `,"session":${quote(fields.session)},"system_version":${quote(fields.systemVersion)}` +
    `,"product_version":${quote(fields.productVersion)},"env":${environmentNumber(fields.env)}`;
  for (const [key, , name] of OPTIONAL_COLLECTION_FIELDS) {
    const value = fields[key];
    if (value) json += `,"${name}":${quote(value)}`;
  }
  return { prefix: textEncoder.encode(json + `,"payloads":[`), suffix: textEncoder.encode("]}") };
}

/**
 * Exact framing of JSON Collection bodies for `chunkBySize`. Every payload
 * must be in one group (the Hamustro profile uses `"payload"`), since a comma
 * precedes every payload but the body's first.
 */
export function jsonCollectionFraming(frame: JsonCollectionFrame): Framing {
  const decoder = new TextDecoder();
  return jsonArrayFraming(decoder.decode(frame.prefix), decoder.decode(frame.suffix));
}

/**
 * Frames a JSON Collection from its parts and payloads already encoded as
 * JSON objects, copying the bytes without re-encoding.
 *
 * @example Usage
 * ```ts
 * import { encodeCollectionFieldsJson, encodePayloadJson, frameCollectionJson } from "./json_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const frame = encodeCollectionFieldsJson({
 *   deviceId: "d", clientId: "c", session: "s", systemVersion: "1", productVersion: "2", env: 0,
 * });
 * const body = frameCollectionJson(frame, [encodePayloadJson({ at: 1, event: "e", nr: 1 })]);
 * assert.equal(JSON.parse(new TextDecoder().decode(body)).payloads[0].event, "e");
 * ```
 */
export function frameCollectionJson(
  frame: JsonCollectionFrame,
  payloads: readonly Uint8Array[],
): Uint8Array {
  return joinJsonArray(frame.prefix, payloads, frame.suffix);
}
