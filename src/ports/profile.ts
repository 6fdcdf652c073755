import type { IdemtrackEvent } from "../event.ts";
import type { KeyPolicy } from "../idempotency_key.ts";
import type { QueuedRecord } from "./storage.ts";
import type { TransportResponse } from "./transport.ts";

/**
 * How a request body wraps its items, so chunk sizes include the framing
 * exactly (the kit's `jsonArrayFraming` makes the framing of a JSON array body).
 */
export interface Framing {
  /** Size in bytes of a body that holds no items (e.g. `{"events":[]}` is 13). */
  readonly emptyBytes: number;
  /**
   * Bytes an item adds to the body: its own size plus any separator or length
   * prefix. `firstInGroup` is true for the first item of its group in the body,
   * `firstInBody` for the first item of the body (a single JSON array puts a
   * comma before every item but the first in the body, whatever its group).
   * `chunkBySize` always passes it; older three-argument callers get
   * `firstInGroup` in its place.
   */
  itemBytes(size: number, firstInGroup: boolean, group: string, firstInBody?: boolean): number;
}

/** A rate limit as requests per second with a burst, e.g. Skalin's 100/s, burst 500. */
export interface RateLimit {
  /** Sustained rate, requests per second. */
  readonly requestsPerSecond: number;
  /** Requests allowed at once after an idle period. */
  readonly burst: number;
}

/** A profile's per-request and per-event limits. */
export interface ProfileLimits {
  /** Largest request body in bytes, framing included. */
  readonly maxBatchBytes: number;
  /** Most events per request. */
  readonly maxBatchEvents: number;
  /** Most events of one group per request. */
  readonly maxItemsPerGroup: number;
  /** Largest single encoded event in bytes. */
  readonly maxEventBytes: number;
}

/**
 * An event after the profile encoded it: its bytes (`data`), or, for a
 * text encoding, the `text` whose UTF-8 they are (exactly one of the two).
 * From text the client builds request bodies in one piece and makes each
 * event's bytes only if something reads them.
 */
export type EncodedEvent = EncodedBytes | EncodedText;

/** An event encoded to bytes. */
export interface EncodedBytes {
  /** The encoded event's bytes. */
  readonly data: Uint8Array;
  /** Absent: the event is bytes. */
  readonly text?: undefined;
  /** Group for per-type caps (`track`, `identify`, …). */
  readonly group: string;
  /** Stream: events of different streams never share a request (`""` for one stream). */
  readonly stream: string;
}

/** An event encoded as text (its bytes are the UTF-8 of `text`). */
export interface EncodedText {
  /** The encoded event's text (its bytes are its UTF-8). */
  readonly text: string;
  /** Absent: the event is text. */
  readonly data?: undefined;
  /** Group for per-type caps (`track`, `identify`, …). */
  readonly group: string;
  /** Stream: events of different streams never share a request (`""` for one stream). */
  readonly stream: string;
}

/** The encoded event as given: its text, or its bytes. */
export function encodedForm(encoded: EncodedEvent): string | Uint8Array {
  return encoded.text ?? encoded.data!;
}

const encoder = new TextEncoder();

/** The bytes of an encoded event (the UTF-8 of its text, if it has text). */
export function encodedBytes(encoded: EncodedEvent): Uint8Array {
  return encoded.text === undefined ? encoded.data : encoder.encode(encoded.text);
}

/** A batch on its way out: what a profile turns into a request. */
export interface OutgoingBatch {
  /** Batch id = request idempotency key (valid under the profile's key policy). */
  readonly id: string;
  /** The stream all its records belong to. */
  readonly stream: string;
  /** Its records, in body order (plain objects, the profile's to keep). */
  readonly records: readonly QueuedRecord[];
  /** Send attempt, 0 for the first. */
  readonly attempt: number;
}

/** A request without its abort signal. */
export interface PreparedRequest {
  /** Where the request goes. */
  readonly url: string;
  /** HTTP method, e.g. `POST`. */
  readonly method: string;
  /** Request headers. */
  readonly headers: Record<string, string>;
  /** Request body. */
  readonly body: Uint8Array;
}

/** What happened to one record. */
export type RecordOutcome =
  | { readonly status: "delivered" }
  | { readonly status: "duplicate" }
  | {
    readonly status: "retry";
    readonly reason: string;
    readonly code: number | string;
    /** Server-requested wait (Retry-After), milliseconds. */
    readonly retryAfterMs?: number;
  }
  | { readonly status: "failed"; readonly reason: string; readonly code: number | string };

/** What a response means for its batch. */
export type BatchOutcome =
  /** One outcome per record, in `batch.records` order. */
  | { readonly kind: "each"; readonly outcomes: readonly RecordOutcome[] }
  /** One outcome for the whole batch. */
  | { readonly kind: "all"; readonly outcome: RecordOutcome }
  /** The body was too large for the server (413): split and resend, never drop. */
  | { readonly kind: "split"; readonly reason: string };

/**
 * A service's wire format: how events are encoded, framed into requests and
 * how answers are read. The client core knows no service; it only calls this.
 */
export interface Profile<Encoded extends EncodedEvent = EncodedEvent> {
  /** Profile name, e.g. `"json"`, `"hamustro"`, `"suprsend"`. */
  readonly name: string;
  /** The profile's per-request and per-event limits. */
  readonly limits: ProfileLimits;
  /** Framing of request bodies, for exact byte-size chunking. */
  readonly framing: Framing;
  /** Policy for request and event idempotency keys. */
  readonly keyPolicy: KeyPolicy;
  /** The service's documented send-rate limit, applied unless the client overrides it. */
  readonly rateLimit?: RateLimit;
  /** Encodes one validated event (once; the encoding is stored and sent as-is). */
  encode(event: IdemtrackEvent): Encoded;
  /** Builds the request for a batch. `now` is epoch milliseconds (for signatures, dates). */
  buildRequest(batch: OutgoingBatch, now: number): PreparedRequest | Promise<PreparedRequest>;
  /** Reads the answer into per-record outcomes. */
  readResponse(response: TransportResponse, batch: OutgoingBatch): BatchOutcome;
}
