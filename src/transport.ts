/** One HTTP request, as a profile built it. */
export interface TransportRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /** Aborts the request (timeouts, close). */
  readonly signal?: AbortSignal;
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
 */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>;
