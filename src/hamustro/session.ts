import { md5Hex, sha256Hex } from "../../wasm/hash.ts";
import { type EnvironmentValue, wireEnvironmentNumber } from "./environment.ts";

/** The fields a Hamustro session id is computed from. */
export interface SessionFields {
  /** Device id as sent on the wire: sha256 hex of the raw device id (see {@linkcode hashDeviceId}). */
  deviceId: string;
  /** The application's client id. */
  clientId: string;
  /** Operating system version. */
  systemVersion: string;
  /** The application's version. */
  productVersion: string;
  /**
   * Environment, by name or number (any int32, as the reference collector
   * takes numbers outside the enum); the formula uses the number.
   */
  env: EnvironmentValue | number;
}

/**
 * The wire form of a device id: lowercase sha256 hex of the raw id.
 *
 * @example Usage
 * ```ts
 * import { hashDeviceId } from "./session.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(hashDeviceId("abc").length, 64);
 * ```
 */
export function hashDeviceId(rawDeviceId: string): string {
  return sha256Hex(rawDeviceId);
}

/**
 * Hamustro's session id as the reference collector computes it:
 * `md5hex(device_id:client_id:system_version:product_version:env_number)`,
 * where `device_id` is already the sha256 hex of the raw id.
 *
 * @example Usage
 * ```ts
 * import { hamustroSession, hashDeviceId } from "./session.ts";
 * import assert from "node:assert/strict";
 *
 * const session = hamustroSession({
 *   deviceId: hashDeviceId("device-1"),
 *   clientId: "c1",
 *   systemVersion: "14.1",
 *   productVersion: "2.3",
 *   env: "PRODUCTION",
 * });
 * assert.match(session, /^[0-9a-f]{32}$/);
 * ```
 */
export function hamustroSession(fields: SessionFields): string {
  const env = wireEnvironmentNumber(fields.env);
  return md5Hex(
    `${fields.deviceId}:${fields.clientId}:${fields.systemVersion}:${fields.productVersion}:${env}`,
  );
}
