import type { JsonObject, JsonValue } from "../event.ts";
import type { CollectionFields } from "./codec.ts";

/**
 * Names of the tracker's entries in the storage key-value area. `nr` is kept
 * per session so a session that comes back (an app downgrade) never reuses
 * its numbers.
 */
export const TRACKER_KEYS = Object.freeze({
  /** `{ [session]: CollectionFields }`: every session with events queued in this store. */
  collections: "hamustro.collections",
  /** Highest `nr` handed out in a session: `hamustro.nr.<session>`. */
  nrPrefix: "hamustro.nr.",
  /** Epoch milliseconds of the last 200 answer (or of the first start). */
  lastSyncTime: "hamustro.lastSyncTime",
  /** `{ tenantId, userId }`. */
  user: "hamustro.user",
});

/** The user events are attributed to (the seed's `SetUser`). */
export interface TrackerUser {
  /** `tenant_id` of the payloads. @default {undefined} */
  tenantId?: string;
  /** `user_id` of the payloads. @default {undefined} */
  userId?: string;
}

const REQUIRED = ["deviceId", "clientId", "session", "systemVersion", "productVersion"] as const;
/** The Collection's optional device fields (tracker options of the same names). */
export const OPTIONAL_COLLECTION_FIELDS = [
  "deviceMake",
  "deviceModel",
  "system",
  "systemLanguage",
  "browser",
  "browserVersion",
  "productGitHash",
  "productLanguage",
] as const;

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Collection fields as stored (JSON) back to their typed form; undefined when malformed. */
export function collectionFromJson(value: JsonValue | undefined): CollectionFields | undefined {
  if (!isObject(value)) return undefined;
  for (const key of REQUIRED) if (typeof value[key] !== "string") return undefined;
  if (typeof value.env !== "number" && typeof value.env !== "string") return undefined;
  const fields = { ...value } as unknown as CollectionFields;
  for (const key of OPTIONAL_COLLECTION_FIELDS) {
    if (value[key] !== undefined && typeof value[key] !== "string") return undefined;
  }
  return fields;
}

/** Collection fields as a JSON object for the key-value area (absent optionals left out). */
export function collectionToJson(fields: Readonly<CollectionFields>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) out[key] = value as string | number;
  }
  return out;
}

/** The stored user, tolerating a missing or malformed entry. */
export function userFromJson(value: JsonValue | undefined): TrackerUser {
  if (!isObject(value)) return {};
  const user: TrackerUser = {};
  if (typeof value.tenantId === "string" && value.tenantId) user.tenantId = value.tenantId;
  if (typeof value.userId === "string" && value.userId) user.userId = value.userId;
  return user;
}

/** A stored counter or timestamp: a non-negative safe integer, else undefined. */
export function countFromJson(value: JsonValue | undefined): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
