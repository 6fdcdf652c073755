import type { Environment } from "./gen/hamustro_pb.ts";

/** One `Parameter` of a decoded payload. */
export interface DecodedParameter {
  readonly name: string;
  readonly value: string;
}

/** One `Payload` of a decoded Collection; optional strings that are unset read `""`. */
export interface DecodedPayload {
  /** Epoch seconds: a number up to `Number.MAX_SAFE_INTEGER`, a bigint beyond. */
  readonly at: number | bigint;
  readonly event: string;
  readonly nr: number;
  readonly timezone: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly ip: string;
  readonly country: string;
  readonly parameters: readonly DecodedParameter[];
  /**
   * Bytes of the body this payload was read from (protobuf bodies only): every
   * string of the payload lies within them, so they bound its size without
   * re-encoding it.
   */
  readonly byteLength?: number;
}

/**
 * A decoded Collection, as plain data with the generated `Collection`'s field
 * names (a protobuf-es `Collection` fits this type too); optional strings
 * that are unset read `""`.
 */
export interface DecodedCollection {
  readonly deviceId: string;
  readonly clientId: string;
  readonly session: string;
  readonly systemVersion: string;
  readonly productVersion: string;
  readonly env: Environment;
  readonly deviceMake: string;
  readonly deviceModel: string;
  readonly system: string;
  readonly systemLanguage: string;
  readonly browser: string;
  readonly browserVersion: string;
  readonly productGitHash: string;
  readonly productLanguage: string;
  readonly payloads: readonly DecodedPayload[];
}
