import { carry } from "../../_util/internal.ts";
import type { Transport, TransportRequest, TransportResponse } from "../../ports/transport.ts";

/** The `fetch` signature the transport needs. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * The most body bytes of `keepalive` requests a page may have in flight at
 * once (the Fetch standard's limit; a request beyond it is refused).
 */
const KEEPALIVE_MAX_BYTES = 64 * 1024;

/**
 * The default transport: one `fetch` per request. The body is read as text
 * (error bodies and per-record results are small).
 *
 * In a page, requests go with `keepalive` while the bodies of those in
 * flight fit 64 KiB (the Fetch standard's limit): one under way when the page is
 * closed or navigated away from still arrives.
 *
 * @param fetchImpl The `fetch` to use, e.g. one with a custom agent or a test
 * double. Defaults to the global `fetch`, looked up at call time.
 *
 * @example Usage
 * ```ts
 * import { fetchTransport } from "./fetch_transport.ts";
 * import assert from "node:assert/strict";
 *
 * const transport = fetchTransport((_url, init) =>
 *   Promise.resolve(new Response(`got ${(init.body as Uint8Array).byteLength} bytes`, { status: 200 }))
 * );
 * const response = await transport({
 *   url: "http://127.0.0.1:1/v1/events/batch",
 *   method: "POST",
 *   headers: {},
 *   body: new Uint8Array(3),
 * });
 * assert.equal(response.body, "got 3 bytes");
 * ```
 */
export function fetchTransport(fetchImpl?: FetchLike): Transport {
  const page = typeof (globalThis as { document?: unknown }).document === "object";
  let keptAlive = 0;
  const transport = async (request: TransportRequest): Promise<TransportResponse> => {
    const send = fetchImpl ?? (globalThis.fetch as FetchLike);
    const size = request.body.byteLength;
    const keepalive = page && keptAlive + size <= KEEPALIVE_MAX_BYTES;
    if (keepalive) keptAlive += size;
    try {
      const response = await send(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body as BodyInit,
        signal: request.signal,
        ...(keepalive && { keepalive }),
      });
      const body = await response.text();
      return { status: response.status, headers: response.headers, body };
    } finally {
      if (keepalive) keptAlive -= size;
    }
  };
  // The platform's fetch copies the body when called (the Fetch standard's "extract a body");
  // an injected one may keep it.
  return fetchImpl === undefined ? carry(transport, { copiesBody: true }) : transport;
}
