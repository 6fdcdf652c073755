/** One HTTP request, as a profile built it. */
export interface TransportRequest {
  /** Where the request goes. */
  readonly url: string;
  /** HTTP method, e.g. `POST`. */
  readonly method: string;
  /** Request headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** Request body (the transport's to keep). */
  readonly body: Uint8Array;
  /** Aborts the request (timeouts, close). */
  readonly signal?: AbortSignal;
  /**
   * Per-request timeout, milliseconds, for a transport that queues requests
   * and so times each from when it really starts (it then rejects with an
   * error named `TimeoutError`); others are timed out through `signal`.
   */
  readonly timeoutMs?: number;
}

/** The answer to a {@linkcode TransportRequest}. */
export interface TransportResponse {
  /** HTTP status. */
  readonly status: number;
  /** Response headers. */
  readonly headers: Headers;
  /** Body as text ("" when empty). */
  readonly body: string;
}

/**
 * Sends one request. Throws (any error) when no HTTP answer arrived; the
 * client wraps it in a `NetworkError` or `TimeoutError`. The body is the
 * transport's to keep.
 */
export type Transport =
  & ((request: TransportRequest) => Promise<TransportResponse>)
  & {
    /** Releases what it holds (a worker thread); the client calls it when it closes. */
    readonly close?: () => void;
  };
