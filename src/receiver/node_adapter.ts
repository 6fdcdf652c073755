import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { ReceiverInfo } from "./receiver.ts";

/** A fetch-style handler, such as a receiver. */
export type FetchHandler = (request: Request, info?: ReceiverInfo) => Promise<Response>;

/** Options of {@linkcode serveNode}. */
export interface ServeNodeOptions {
  /** Port; 0 picks a free one. @default {8787} */
  port?: number;
  /** Interface to listen on. @default {"127.0.0.1"} */
  hostname?: string;
}

/** Defaults of {@linkcode ServeNodeOptions}. */
export const DEFAULT_SERVE_NODE_OPTIONS: Required<ServeNodeOptions> = Object.freeze({
  port: 8787,
  hostname: "127.0.0.1",
});

/** A running `node:http` server. */
export interface NodeServer {
  /** The `node:http` server, listening. */
  readonly server: Server;
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  /** Stops accepting connections and waits for open ones to end. */
  close(): Promise<void>;
}

function toRequest(incoming: IncomingMessage, base: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) { for (const item of value) headers.append(name, item); }
    else headers.set(name, value);
  }
  const method = incoming.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(new URL(incoming.url ?? "/", base), {
    method,
    headers,
    body: hasBody ? (Readable.toWeb(incoming) as ReadableStream<Uint8Array>) : null,
    // Needed by Node's fetch for a streamed request body.
    duplex: "half",
  } as RequestInit);
}

async function writeResponse(response: Response, outgoing: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = name === "set-cookie" ? response.headers.getSetCookie() : value;
  });
  outgoing.writeHead(response.status, response.statusText, headers);
  if (response.body === null) {
    outgoing.end();
    return;
  }
  const reader = response.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (!outgoing.write(value)) {
      await new Promise<void>((resolve) => outgoing.once("drain", resolve));
    }
  }
  outgoing.end();
}

/**
 * Turns a fetch-style handler into a `node:http` request listener, so a
 * receiver runs on Node (IncomingMessage → Request, Response → ServerResponse).
 *
 * @example Usage
 * ```ts
 * import { createServer } from "node:http";
 * import { toNodeListener } from "./node_adapter.ts";
 *
 * const server = createServer(toNodeListener(async () => new Response("ok")));
 * server.close();
 * ```
 */
export function toNodeListener(
  handler: FetchHandler,
): (incoming: IncomingMessage, outgoing: ServerResponse) => void {
  return (incoming, outgoing) => {
    const host = incoming.headers.host ?? "localhost";
    const remoteAddr = { hostname: incoming.socket.remoteAddress };
    (async () => {
      let response: Response;
      try {
        response = await handler(toRequest(incoming, `http://${host}`), { remoteAddr });
      } catch {
        response = new Response(JSON.stringify({ error: "internal_error" }), { status: 500 });
      }
      await writeResponse(response, outgoing);
    })().catch(() => outgoing.destroy());
  };
}

/**
 * Serves a handler with `node:http` (works on Node and under Deno's
 * `node:http`) and resolves once it listens.
 *
 * @example Usage
 * ```ts
 * import { serveNode } from "./node_adapter.ts";
 * import assert from "node:assert/strict";
 *
 * const served = await serveNode(async () => new Response("pong"), { port: 0 });
 * const response = await fetch(served.url);
 * assert.equal(await response.text(), "pong");
 * await served.close();
 * ```
 */
export function serveNode(
  handler: FetchHandler,
  options: ServeNodeOptions = {},
): Promise<NodeServer> {
  const {
    port = DEFAULT_SERVE_NODE_OPTIONS.port,
    hostname = DEFAULT_SERVE_NODE_OPTIONS.hostname,
  } = options;
  const server = createServer(toNodeListener(handler));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
      resolve({
        server,
        url: `http://${host}:${address.port}`,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            server.closeAllConnections?.();
          }),
      });
    });
  });
}
