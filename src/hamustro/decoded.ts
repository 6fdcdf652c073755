/** One `Parameter` of a decoded payload. */
export interface DecodedParameter {
  /** Parameter name. */
  readonly name: string;
  /** Parameter value, as text. */
  readonly value: string;
}

/** One `Payload` of a decoded Collection; optional strings that are unset read `""`. */
export interface DecodedPayload {
  /** Epoch seconds: a number up to `Number.MAX_SAFE_INTEGER`, a bigint beyond. */
  readonly at: number | bigint;
  /** Event name. */
  readonly event: string;
  /** Serial number of the event in its session. */
  readonly nr: number;
  /** Time zone of the event. */
  readonly timezone: string;
  /** Tenant of the event. */
  readonly tenantId: string;
  /** The user's id. */
  readonly userId: string;
  /** The user's IP address. */
  readonly ip: string;
  /** The user's country. */
  readonly country: string;
  /** The event's parameters. */
  readonly parameters: readonly DecodedParameter[];
  /**
   * Bytes of the body this payload was read from (protobuf bodies only): every
   * string of the payload lies within them, so they bound its size without
   * re-encoding it.
   */
  readonly byteLength?: number;
}

/** A decoded Collection's own fields (all but its payloads). */
export type DecodedCollectionFields = Omit<DecodedCollection, "payloads">;

/**
 * A decoded Collection, as plain data with the generated `Collection`'s field
 * names (a protobuf-es `Collection` fits this type too); optional strings
 * that are unset read `""`.
 */
export interface DecodedCollection {
  /** Device id: sha256 hex of the raw device id. */
  readonly deviceId: string;
  /** The application's client id. */
  readonly clientId: string;
  /** Session id (see `hamustroSession`). */
  readonly session: string;
  /** Operating system version. */
  readonly systemVersion: string;
  /** The application's version. */
  readonly productVersion: string;
  /**
   * Environment, as its wire number: any int32, as the reference collector
   * stores a number outside the declared enum as it is.
   */
  readonly env: number;
  /** Device maker. */
  readonly deviceMake: string;
  /** Device model. */
  readonly deviceModel: string;
  /** Operating system. */
  readonly system: string;
  /** Operating system language. */
  readonly systemLanguage: string;
  /** Browser name. */
  readonly browser: string;
  /** Browser version. */
  readonly browserVersion: string;
  /** Git hash of the application's build. */
  readonly productGitHash: string;
  /** The application's language. */
  readonly productLanguage: string;
  /** The events of the Collection. */
  readonly payloads: readonly DecodedPayload[];
}
