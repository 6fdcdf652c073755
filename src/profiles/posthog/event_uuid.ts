/**
 * A vendor's event UUID from idemtrack's event key, for vendors whose
 * de-duplication id must be a UUID (PostHog's `uuid`) or a short
 * `[A-Za-z0-9-]` id (Mixpanel's 36-character `$insert_id`).
 *
 * @module
 */
import { v5 as uuidV5 } from "uuid";

/**
 * idemtrack's UUIDv5 namespace (RFC 9562 §5.5): the UUIDv5 of
 * `https://github.com/idemtrack/idemtrack` under the URL namespace, fixed so
 * every process and release derives the same id from the same key.
 */
export const IDEMTRACK_UUID_NAMESPACE = "b0e14878-0d01-5b7b-acf9-2c8e00273cbf";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The event key itself when it already is a UUID (idemtrack's default keys
 * are UUID v4), lower-cased; otherwise its UUIDv5 under
 * {@linkcode IDEMTRACK_UUID_NAMESPACE}. Deterministic: a resend from any
 * process carries the same id, so the vendor de-duplicates it.
 *
 * @example Usage
 * ```ts
 * import { eventUuid } from "./event_uuid.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(eventUuid("F650F058-192C-4E52-B72D-9634116F59EB"), "f650f058-192c-4e52-b72d-9634116f59eb");
 * assert.equal(eventUuid("order-1234"), eventUuid("order-1234"));
 * assert.match(eventUuid("order-1234"), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
 * ```
 */
export function eventUuid(key: string): string {
  return UUID.test(key) ? key.toLowerCase() : uuidV5(key, IDEMTRACK_UUID_NAMESPACE);
}
