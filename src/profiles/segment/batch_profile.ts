/**
 * What the five vendor profiles share: one JSON body `prefix item,item,… suffix`
 * to one URL, every event encoded once, and answers read by status (with the
 * vendor's table) after any per-record reading of the body the vendor has.
 *
 * @module
 */
import { jsonArrayFraming } from "../../kit/chunk.ts";
import { checkEncodedSize, type IdemtrackEvent, type JsonObject } from "../../event.ts";
import { STRICT_KEY_POLICY } from "../../idempotency_key.ts";
import type {
  BatchOutcome,
  EncodedBytes,
  OutgoingBatch,
  PreparedRequest,
  Profile,
  ProfileLimits,
} from "../../ports/profile.ts";
import type { RateLimit } from "../../kit/token_bucket.ts";
import type { TransportResponse } from "../../ports/transport.ts";
import { ALL_DELIVERED, classifyResponse, reasonOf, type StatusTable } from "../../kit/response.ts";
import { encodeJson, joinBody, parseJsonObject } from "../_common.ts";

/** One vendor's batch API, as {@linkcode vendorBatchProfile} builds it. */
export interface VendorBatchApi {
  /** Profile name. */
  readonly name: string;
  readonly limits: ProfileLimits;
  /** Full request URL. */
  readonly url: string;
  /** Request headers (`Content-Type: application/json` is added). */
  readonly headers: Readonly<Record<string, string>>;
  /** Body before the first event, e.g. `{"batch":[`. */
  readonly prefix: string;
  /** Body after the last event, e.g. `]}`. */
  readonly suffix: string;
  /** Statuses that differ from idemtrack's defaults. */
  readonly table?: StatusTable;
  readonly rateLimit?: RateLimit;
  /** The vendor's JSON for one event; throws `EventValidationError` for what it cannot take. */
  encodeEvent(event: IdemtrackEvent): JsonObject;
  /** The status the vendor means (Amplitude's body `code`). @default {the HTTP status} */
  statusOf?(json: JsonObject | undefined, response: TransportResponse): number;
  /** The vendor's reason in an error body. @default {`message`, `detail` or `error`} */
  reasonIn?(json: JsonObject | undefined): unknown;
  /** Per-record reading of an answer the status alone does not settle, or `undefined`. */
  readRecords?(
    status: number,
    json: JsonObject | undefined,
    batch: OutgoingBatch,
    reason: string,
  ): BatchOutcome | undefined;
}

/** A profile for a vendor's JSON batch API. */
export function vendorBatchProfile(api: VendorBatchApi): Profile<EncodedBytes> {
  const { name, limits, url, prefix, suffix, table = {}, rateLimit } = api;
  const headers = { "Content-Type": "application/json", ...api.headers };
  const encoder = new TextEncoder();
  const head = encoder.encode(prefix);
  const tail = encoder.encode(suffix);
  return {
    name,
    limits,
    framing: jsonArrayFraming(prefix, suffix),
    keyPolicy: STRICT_KEY_POLICY,
    ...(rateLimit === undefined ? {} : { rateLimit }),

    encode(event: IdemtrackEvent): EncodedBytes {
      const data = encodeJson(api.encodeEvent(event));
      checkEncodedSize(data, limits.maxEventBytes);
      return { data, group: event.type, stream: "" };
    },

    buildRequest(batch: OutgoingBatch): PreparedRequest {
      return { method: "POST", url, headers, body: joinBody(head, batch, tail) };
    },

    readResponse(response: TransportResponse, batch: OutgoingBatch): BatchOutcome {
      const json = parseJsonObject(response.body);
      const status = api.statusOf?.(json, response) ?? response.status;
      const message = api.reasonIn
        ? api.reasonIn(json)
        : json?.message ?? json?.detail ?? json?.error;
      const reason = reasonOf(message, status, response.body);
      return api.readRecords?.(status, json, batch, reason) ??
        classifyResponse({ ...response, status }, Date.now(), { table, reason }) ??
        ALL_DELIVERED;
    },
  };
}
