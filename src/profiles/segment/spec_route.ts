/**
 * A receiver route for Segment-Spec batch APIs (Segment's and RudderStack's
 * `POST /v1/batch`), de-duplicating every call on its `messageId`.
 *
 * @module
 */
import type { JsonObject, JsonValue } from "../../event.ts";
import type { DecodedBatch, DecodedRecord, RecordResult, Route } from "../../receiver/route.ts";
import { utf8ByteLength } from "../../_util/utf8.ts";
import { errorResponse, isObject, jsonResponse, parseBody } from "../_route_common.ts";
import { basicAuth, tenantOfKey } from "./keys.ts";

/** How one Segment-Spec service answers. */
export interface SpecRouteService {
  /** Route name. */
  readonly name: string;
  /** Write key → tenant. */
  readonly writeKeys: Readonly<Record<string, string>>;
  /** Largest body, bytes. */
  readonly maxBatchBytes: number;
  /** Largest call, bytes. */
  readonly maxEventBytes: number;
  /** Status for a body over `maxBatchBytes` (Segment: 400, RudderStack: 413). */
  readonly tooLargeStatus: number;
  /** Whether a `writeKey` in the body authenticates too (Segment: yes). */
  readonly bodyWriteKey: boolean;
  /** The success answer. */
  accepted(): Response;
}

const CALL_TYPES = new Set(["track", "identify", "alias", "page", "screen", "group"]);

function callProblem(item: JsonValue, maxEventBytes: number): string | undefined {
  if (!isObject(item)) return "a call must be an object";
  if (typeof item.type !== "string" || !CALL_TYPES.has(item.type)) {
    return "type must be one of track, identify, alias, page, screen, group";
  }
  if (item.type === "track" && (typeof item.event !== "string" || item.event === "")) {
    return "track needs an event name";
  }
  if (typeof item.userId !== "string" && typeof item.anonymousId !== "string") {
    return "userId or anonymousId is required";
  }
  if (item.type === "alias" && typeof item.previousId !== "string") {
    return "alias needs a previousId";
  }
  if (utf8ByteLength(JSON.stringify(item)) > maxEventBytes) {
    return `a call is limited to ${maxEventBytes} bytes`;
  }
  return undefined;
}

/**
 * A route for `{"batch":[…]}` bodies: authenticates the write key (Basic
 * auth, or the body's `writeKey` where the service allows it), keys every
 * call by its `messageId` (a repeated one is stored once and still answered
 * as success, as the vendor does), and answers 5xx when the sink could not
 * take a call, so the sender retries.
 */
export function specRoute(service: SpecRouteService): Route {
  const { name, writeKeys, maxBatchBytes, maxEventBytes, tooLargeStatus, bodyWriteKey } = service;
  return {
    name,
    method: "POST",
    path: "/v1/batch",

    decode(request: Request, body: Uint8Array): DecodedBatch | Response {
      const json = parseBody(body);
      const presented = basicAuth(request)?.user ??
        (bodyWriteKey && isObject(json) ? json.writeKey : undefined);
      const tenant = tenantOfKey(writeKeys, presented);
      if (tenant === undefined) {
        return jsonResponse(401, { success: false, message: "Invalid write key" });
      }
      if (body.byteLength > maxBatchBytes) {
        return jsonResponse(tooLargeStatus, {
          success: false,
          message: `Request size over ${maxBatchBytes} bytes`,
        });
      }
      if (!isObject(json) || !Array.isArray(json.batch)) {
        return jsonResponse(400, { success: false, message: 'body must be {"batch":[...]}' });
      }
      const records = json.batch.map((item): DecodedRecord => {
        const event: JsonObject = isObject(item) ? item : { value: item };
        const problem = callProblem(item, maxEventBytes);
        const key = typeof event.messageId === "string" && event.messageId !== ""
          ? event.messageId
          : undefined;
        return {
          ...(key === undefined ? {} : { key }),
          event,
          ...(problem === undefined ? {} : { rejected: { code: "invalid_call", reason: problem } }),
        };
      });
      return { tenant, records };
    },

    respond(_batch: DecodedBatch, results: readonly RecordResult[]): Response {
      const unstored = results.find((result) => result.status === "rejected" && result.retryable);
      return unstored?.status === "rejected"
        ? errorResponse(503, "unavailable", unstored.reason)
        : service.accepted();
    },
  };
}
