import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ReceiverInfo } from "./receiver.ts";

/** A fetch-style handler, such as a receiver. */
export type FetchHandler = (request: Request, info?: ReceiverInfo) => Promise<Response>;

/** Options of {@linkcode serveNode}. */
export interface ServeNodeOptions {
  /** Port; 0 picks a free one. @default {8787} */
  port?: number;
  /** Interface to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /**
   * Time a client has to send its request headers, ms (`server.headersTimeout`);
   * slower → 408 and the connection closed. Enforced by Node; Deno's `node:http` ignores it.
   * @default {10000}
   */
  headersTimeoutMs?: number;
  /**
   * Time a client has to send its whole request, ms (`server.requestTimeout`).
   * Enforced by Node; Deno's `node:http` ignores it (the receiver's own
   * `bodyTimeoutMs` holds everywhere). @default {30000}
   */
  requestTimeoutMs?: number;
  /**
   * Open connections at most (`server.maxConnections`); more are closed at once.
   * Enforced by Node. @default {1024}
   */
  maxConnections?: number;
}

/** Defaults of {@linkcode ServeNodeOptions}. */
export const DEFAULT_SERVE_NODE_OPTIONS: Required<ServeNodeOptions> = Object.freeze({
  port: 8787,
  hostname: "127.0.0.1",
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 1024,
});

/** A running `node:http` server. */
export interface NodeServer {
  /** The `node:http` server, listening. */
  readonly server: Server;
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  /** Stops accepting connections and closes open ones at once (answers in progress are cut). */
  close(): Promise<void>;
  /**
   * Stops accepting connections, lets requests in progress be answered, and
   * closes each connection once idle; after `timeoutMs` closes the rest.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

/**
 * The body of an `IncomingMessage` as a Web stream, pulled with backpressure
 * (`pause`/`resume`). Unlike `Readable.toWeb`, data or an error arriving after
 * the reader cancelled (a receiver refusing a body over its cap) is dropped
 * instead of thrown into a closed controller, which crashes Deno's `node:http`.
 */
function bodyStream(incoming: IncomingMessage): ReadableStream<Uint8Array> {
  let done = false;
  const finish = (): void => {
    done = true;
    incoming.off("data", onData);
  };
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const onData = (chunk: Uint8Array): void => {
    if (done) return;
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((controller.desiredSize ?? 0) <= 0) incoming.pause();
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      incoming.on("data", onData);
      incoming.once("end", () => {
        if (done) return;
        finish();
        controller.close();
      });
      incoming.once("error", (error) => {
        if (done) return;
        finish();
        controller.error(error);
      });
      incoming.once("aborted", () => {
        if (done) return;
        finish();
        controller.error(new Error("the client closed the connection before the body ended"));
      });
    },
    pull() {
      incoming.resume();
    },
    cancel() {
      finish();
      // Unread data is discarded; the connection closes after the answer.
      incoming.resume();
    },
  }, { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength });
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
    body: hasBody ? bodyStream(incoming) : null,
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
    headersTimeoutMs = DEFAULT_SERVE_NODE_OPTIONS.headersTimeoutMs,
    requestTimeoutMs = DEFAULT_SERVE_NODE_OPTIONS.requestTimeoutMs,
    maxConnections = DEFAULT_SERVE_NODE_OPTIONS.maxConnections,
  } = options;
  const timeouts = [headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0);
  const server = createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // Node checks the two timeouts every this often (30 s by default, which would let a slow
      // client keep its connection up to 30 s past them).
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, ...timeouts)),
    },
    toNodeListener(handler),
  );
  server.maxConnections = maxConnections;
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
        shutdown: (timeoutMs = 30_000) =>
          new Promise<void>((done, fail) => {
            const started = Date.now();
            // Keep-alive connections go idle once their answer is written: close them as they do.
            const sweep = setInterval(() => {
              if (Date.now() - started > timeoutMs) server.closeAllConnections?.();
              else server.closeIdleConnections?.();
            }, 50);
            server.close((error) => {
              clearInterval(sweep);
              return error ? fail(error) : done();
            });
            server.closeIdleConnections?.();
          }),
      });
    });
  });
}
