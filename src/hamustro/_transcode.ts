import { fromBinary, fromJson } from "@bufbuild/protobuf";
import { encodePayload, type PayloadFields } from "./codec.ts";
import type { HamustroFormat } from "./decode.ts";
import { type Payload, PayloadSchema } from "./gen/hamustro_pb.ts";
import { encodePayloadJson } from "./json_codec.ts";

const OPEN_BRACE = 0x7b;
const utf8 = new TextDecoder();

function fieldsOf(payload: Payload): PayloadFields {
  const parameters: Record<string, string> = {};
  for (const { name, value } of payload.parameters) parameters[name] = value;
  const fields: PayloadFields = {
    at: payload.at,
    event: payload.event,
    nr: payload.nr,
    parameters,
  };
  if (payload.timezone) fields.timezone = payload.timezone;
  if (payload.tenantId) fields.tenantId = payload.tenantId;
  if (payload.userId) fields.userId = payload.userId;
  if (payload.ip) fields.ip = payload.ip;
  if (payload.country) fields.country = payload.country;
  return fields;
}

/**
 * A stored payload in the given format. Payloads are stored in the format
 * of the profile that queued them; after the app switches format, the old
 * ones are converted here (a JSON payload starts with `{`, a protobuf one
 * with the tag of `at`, 0x08). The usual case returns `data` untouched.
 */
export function transcodePayload(data: Uint8Array, format: HamustroFormat): Uint8Array {
  const isJson = data[0] === OPEN_BRACE;
  if (isJson === (format === "json")) return data;
  return isJson
    ? encodePayload(fieldsOf(fromJson(PayloadSchema, JSON.parse(utf8.decode(data)))))
    : encodePayloadJson(fieldsOf(fromBinary(PayloadSchema, data)));
}
