// A loopback server that puts a receiver behind injected faults, and records
// every request it saw, for end-to-end tests of the Client against the routes.
import { createReceiver, type Receiver, type ReceiverOptions } from "../src/receiver/receiver.ts";
import type { Route } from "../src/receiver/route.ts";
import { type AcceptedEvent, callbackSink } from "../src/receiver/sink.ts";

/**
 * What the server does to one request:
 * - `500` / `429`: answers so without processing (`429` with `Retry-After: 1`);
 * - `reset`: processes it, then breaks the connection instead of answering;
 * - `500-after`: processes it, then answers 500 (the answer was lost).
 */
export type Fault = "500" | "429" | "reset" | "500-after";

/** One request as the server received it. */
export interface SeenRequest {
  readonly index: number;
  readonly path: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly text: string;
  readonly fault?: Fault;
  /** The receiver's answer (0 when it was not asked). */
  status: number;
  /** The receiver's answer body. */
  answer: string;
}

/** How the server misbehaves, and how its receiver is set up. */
export interface FaultServerOptions {
  /** The fault of the `index`-th request. @default {() => undefined} */
  faultOf?: (index: number) => Fault | undefined;
  /** Awaited before the `index`-th sink write: holds a request "in progress". @default {undefined} */
  beforeWrite?: (index: number) => Promise<void> | void;
  /** Other receiver options. @default {{}} */
  receiver?: Omit<ReceiverOptions, "sink" | "routes">;
}

export interface FaultServer {
  readonly origin: string;
  readonly seen: SeenRequest[];
  readonly accepted: AcceptedEvent[];
  readonly receiver: Receiver;
  close(): Promise<void>;
}

/** Serves `routes` on 127.0.0.1:0, behind the faults `options.faultOf` picks. */
export function startFaultServer(
  routes: readonly Route[],
  options: FaultServerOptions = {},
): Promise<FaultServer> {
  const { faultOf = () => undefined, beforeWrite, receiver: receiverOptions = {} } = options;
  const accepted: AcceptedEvent[] = [];
  let writes = 0;
  const sink = callbackSink(async (events) => {
    await beforeWrite?.(writes++);
    accepted.push(...events);
  });
  const receiver = createReceiver({ onError: () => {}, ...receiverOptions, routes, sink });
  const seen: SeenRequest[] = [];
  const handler = async (request: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    const body = new Uint8Array(await request.arrayBuffer());
    const index = seen.length;
    const fault = faultOf(index);
    const entry: SeenRequest = {
      index,
      path: new URL(request.url).pathname,
      headers: request.headers,
      body,
      text: new TextDecoder().decode(body),
      ...(fault && { fault }),
      status: 0,
      answer: "",
    };
    seen.push(entry);
    if (fault === "500") return Response.json({ error: "injected" }, { status: 500 });
    if (fault === "429") {
      return Response.json({ error: "rate_limited" }, {
        status: 429,
        headers: { "retry-after": "1" },
      });
    }
    const forwarded = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body,
    });
    const response = await receiver(forwarded, info);
    entry.status = response.status;
    entry.answer = await response.clone().text();
    if (fault === "500-after") return Response.json({ error: "injected" }, { status: 500 });
    if (fault === "reset") {
      const broken = new ReadableStream({
        start: (controller) => controller.error(new Error("injected connection reset")),
      });
      return new Response(broken, { status: 200 });
    }
    return response;
  };
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) =>
        resolve({
          origin: `http://127.0.0.1:${port}`,
          seen,
          accepted,
          receiver,
          close: async () => {
            await server.shutdown();
            await receiver.close();
          },
        }),
      onError: () => new Response(null, { status: 500 }),
    }, handler);
  });
}
