import { EventValidationError } from "../errors/event_validation_error.ts";
import type { IdemtrackEvent, JsonValue } from "../event.ts";
import type { PayloadFields } from "./codec.ts";

const MAX_UINT32 = 0xffff_ffff;

function contextString(event: IdemtrackEvent, key: string): string | undefined {
  const value: JsonValue | undefined = event.context?.[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    throw new EventValidationError(`context.${key}`, "type", `is a ${typeof value}`, "a string");
  }
  return value;
}

/**
 * How an idemtrack event becomes a Hamustro `Payload`:
 *
 * | Payload | from |
 * |---|---|
 * | `at` | `timestamp` in whole seconds (rounded down) |
 * | `event` | `name` |
 * | `nr` | `context.nr` (required: an integer in 0…2^32 - 1, the serial number in the session) |
 * | `timezone` | `context.timezone`, else `defaultTimezone` |
 * | `tenant_id`, `user_id` | `tenantId`, `userId` |
 * | `ip`, `country` | `context.ip`, `context.country` |
 * | `parameters` | `properties`, in key order; strings as-is, other values as JSON text |
 *
 * Other fields (`anonymousId`, `previousId`, other `context` keys, attachments)
 * have no place in a Hamustro payload and are not sent.
 *
 * @throws {EventValidationError} when `context.nr` is missing or out of range,
 * or a `context` string field is not a string.
 *
 * @example Usage
 * ```ts
 * import { createEvent } from "../event.ts";
 * import { payloadFieldsOf } from "./event_payload.ts";
 * import assert from "node:assert/strict";
 *
 * const event = createEvent({
 *   name: "App.Open", userId: "u1", timestamp: 1454514088_500,
 *   properties: { screen: "home", count: 2 }, context: { nr: 7, ip: "10.0.0.1" },
 * });
 * const payload = payloadFieldsOf(event, "Europe/Budapest");
 * assert.equal(payload.at, 1454514088);
 * assert.equal(payload.nr, 7);
 * assert.equal(payload.timezone, "Europe/Budapest");
 * ```
 */
export function payloadFieldsOf(event: IdemtrackEvent, defaultTimezone?: string): PayloadFields {
  const nr = event.context?.nr;
  if (nr === undefined) {
    throw new EventValidationError(
      "context.nr",
      "required",
      "is missing",
      "an integer from 0 to 4294967295 (the event's serial number in its session)",
    );
  }
  if (typeof nr !== "number" || !Number.isInteger(nr) || nr < 0 || nr > MAX_UINT32) {
    throw new EventValidationError(
      "context.nr",
      "type",
      `is ${JSON.stringify(nr)}`,
      "an integer from 0 to 4294967295",
    );
  }
  const payload: PayloadFields = {
    at: Math.floor(event.timestamp / 1000),
    event: event.name,
    nr,
    parameters: event.properties,
  };
  const timezone = contextString(event, "timezone") ?? defaultTimezone;
  if (timezone) payload.timezone = timezone;
  if (event.tenantId) payload.tenantId = event.tenantId;
  if (event.userId) payload.userId = event.userId;
  const ip = contextString(event, "ip");
  if (ip) payload.ip = ip;
  const country = contextString(event, "country");
  if (country) payload.country = country;
  return payload;
}
