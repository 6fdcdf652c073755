import type { JsonObject, JsonValue } from "../event.ts";

/** Facts about the request that are not in it. */
export interface RouteContext {
  /** Receipt time, epoch milliseconds. */
  readonly now: number;
  /** Client address, when the server knows it. */
  readonly remoteAddr?: string;
  /** Path parameters matched by the route's pattern. */
  readonly params: Readonly<Record<string, string | undefined>>;
  /** The tenant {@linkcode Route.authenticate} returned, when the route has that step. */
  readonly tenant?: string;
}

/** One event a route decoded from a request body. */
export interface DecodedRecord {
  /**
   * Event-level idempotency key (event key, SuprSend `$idempotency_key`,
   * Skalin `eventId`, Hamustro `session:nr`); undefined = no per-event dedupe.
   */
  readonly key?: string;
  /** The event as the sink receives it. */
  readonly event: JsonObject;
  /**
   * An upper bound of `event`'s size as JSON (UTF-8 bytes) that the route
   * knows without encoding it (e.g. from the wire bytes it was read from).
   * When it is within the receiver's `maxEventBytes` the core does not
   * measure the event; when absent or larger, it does.
   */
  readonly jsonBytesUpperBound?: number;
  /** Set when the route already refused this record (bad field, too large). */
  readonly rejected?: { readonly code: string; readonly reason: string };
}

/** What a route decoded and authenticated. */
export interface DecodedBatch {
  /** Tenant the request belongs to: every dedupe key is scoped to it. */
  readonly tenant: string;
  /** Request-level idempotency key (`X-Idempotency-Key`, body `idempotencyKey`), if any. */
  readonly requestKey?: string;
  /**
   * What a repeat of `requestKey` must match to count as the same request;
   * a repeat that does not gets 422. Omitted: the body's SHA-256. A constant
   * makes every repeat within the TTL a duplicate, whatever its body (what
   * SaaSquatch does).
   */
  readonly requestFingerprint?: string;
  /** Events in body order. */
  readonly records: readonly DecodedRecord[];
}

/** The receiver's verdict on one record. */
export type RecordResult =
  | { readonly status: "accepted" }
  | { readonly status: "duplicate" }
  | {
    readonly status: "rejected";
    readonly code: string;
    readonly reason: string;
    readonly retryable: boolean;
  };

/**
 * One endpoint of the receiver, speaking one wire format. The receiver core
 * does method/path matching, body limits, rate limits and de-duplication; a
 * route only decodes (and authenticates) and renders its service's answers.
 */
export interface Route {
  /** Route name, e.g. `"json"`, `"hamustro"`. */
  readonly name: string;
  /** HTTP method, usually `"POST"`. */
  readonly method: string;
  /** Pathname pattern (`:name` matches one segment), e.g. `/v1/events/batch` or `/api/v1/:tenant/graphql`. */
  readonly path: string;
  /**
   * Media types the route decodes (parameters such as `charset` are ignored).
   * When set, the core answers a missing `Content-Type` with 400 and any other
   * type with 415 before reading the body; when omitted, `decode` checks it.
   */
  readonly contentTypes?: readonly string[];
  /**
   * Largest request body this route takes (after decompression too), bytes;
   * larger → 413. Omitted: the receiver's `maxBodyBytes`.
   */
  readonly maxBodyBytes?: number;
  /**
   * The body of the receiver's own refusals (404, 405, 400/415 content type,
   * 413, 429, 409/422 on request keys, 503) in the emulated service's shape;
   * the receiver adds the status and headers (`Allow`, `Retry-After`).
   * Omitted: `{"error":"<code>","detail":"<text>"}`. A 404 (no route
   * matched) uses it when every route of the receiver has the same one.
   */
  errorBody?(status: number, message: string): JsonValue;
  /**
   * Authenticates from the headers alone, before the body is read, so a
   * request without valid credentials costs no body buffering or inflating.
   * Returns the tenant (passed on to `decode` as `context.tenant`) or the
   * answer (401). Omit it when the credentials are in the body (signatures).
   */
  authenticate?(
    request: Request,
    context: RouteContext,
  ): string | Response | Promise<string | Response>;
  /**
   * Authenticates and decodes. Returns a `Response` to answer at once (401 bad
   * credentials, 400 malformed, 204 empty collection…). `body` is the
   * receiver's and is freed once the request is answered: what the batch
   * keeps must be copied out of it (decoded strings and numbers are).
   */
  decode(
    request: Request,
    body: Uint8Array,
    context: RouteContext,
  ): DecodedBatch | Response | Promise<DecodedBatch | Response>;
  /** Renders the service's answer for per-record results (same order as `batch.records`). */
  respond(batch: DecodedBatch, results: readonly RecordResult[]): Response;
  /**
   * Renders the answer to a request whose key was already completed, given the
   * original results. Omitted: the core answers 409 `{"error":"duplicate",…}`.
   */
  duplicate?(batch: DecodedBatch, original: readonly RecordResult[]): Response;
}
