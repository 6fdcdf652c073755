/** One HTTP request, as a profile built it. */
export interface TransportRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /** Aborts the request (timeouts, close). */
  readonly signal?: AbortSignal;
  /**
   * Per-request timeout, milliseconds, for a transport that queues requests
   * (it counts from when the request really starts, and rejects with an
   * error named `TimeoutError`). Other transports get timeouts through `signal`.
   */
  readonly timeoutMs?: number;
}

/** The answer to a {@linkcode TransportRequest}. */
export interface TransportResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Body as text ("" when empty). */
  readonly body: string;
}

/**
 * Sends one request. Throws (any error) when no HTTP answer arrived; the
 * client wraps it in a `NetworkError` or `TimeoutError`.
 *
 * A transport that queues requests and paces them itself (the worker
 * transport) says how many it may be handed at once in `maxPending`; the
 * client then hands over up to that many batches instead of `concurrency`,
 * and leaves each request's timeout to it (`timeoutMs`).
 */
export type Transport =
  & ((request: TransportRequest) => Promise<TransportResponse>)
  & {
    /** Requests it may be handed at once, for a transport that queues them itself. */
    readonly maxPending?: number;
    /**
     * For a transport that queues requests itself: true while it holds enough
     * of them to keep its connections busy. The client then leaves its events
     * in the queue, where they take less memory than request bodies, and hands
     * the next batch over at a later `track()` or answer.
     */
    readonly saturated?: () => boolean;
    /**
     * True when the transport is done with a request's body once the call
     * returns (it copied it, as `fetch` does): the client then reuses the
     * body's buffer for its next request. Leave it unset for a transport that
     * may read the body later (records it, streams it, sends it after answering).
     */
    readonly copiesBody?: boolean;
    /** Releases what it holds (a worker thread); the client calls it when it closes. */
    readonly close?: () => void;
  };
