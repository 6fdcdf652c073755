/**
 * A minimal receiver of idemtrack's JSON wire format (docs/wire-json.md) on
 * 127.0.0.1, for client tests and the end-to-end benchmark: per-event
 * de-duplication, request keys (409 duplicate / in_progress, 422 on reuse with
 * another body), and scriptable faults. It records every request it saw.
 *
 * Run as a script (`deno run -A tests/_json_server.ts`) it prints its port and
 * serves until stdin closes; `GET /stats` returns its counters.
 */

/** What the server does with the next request instead of (or after) its normal work. */
export type Fault =
  /** Answer with this status (and headers/body) without processing. */
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  /** Never answer (until the client gives up). */
  | { kind: "hang" }
  /** Process normally, then break the connection instead of answering. */
  | { kind: "reset" }
  /** Process normally, answer after a delay. */
  | { kind: "delay"; ms: number }
  /** Process normally, then never answer (a crash between processing and the answer). */
  | { kind: "processThenHang" };

/** A record of one request. */
export interface SeenRequest {
  readonly key: string | null;
  readonly headers: Headers;
  /** Events of the body, parsed (empty when the body was unreadable). */
  readonly events: Array<Record<string, unknown>>;
  /** Size of the body as sent (compressed if it was). */
  readonly bytes: number;
  /** What the server answered (0 for hang/reset). */
  status: number;
}

type Result =
  | { status: "accepted" }
  | { status: "duplicate" }
  | { status: "rejected"; code: string; reason: string; retryable: boolean };

interface Rejection {
  code: string;
  reason: string;
  retryable: boolean;
  times: number;
}

export interface JsonServer {
  readonly url: string;
  readonly port: number;
  /** Every request, in arrival order. */
  readonly requests: SeenRequest[];
  /** Events accepted (first time their key was seen), in order. */
  readonly accepted: Array<Record<string, unknown>>;
  /** Events answered as duplicates (per event or per request key). */
  duplicates: number;
  /** Faults applied to the next requests, in order. */
  readonly faults: Fault[];
  /** Rejects the event with this key `times` times (then accepts it). */
  rejectEvent(key: string, rejection: Omit<Rejection, "times"> & { times?: number }): void;
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@linkcode startJsonServer}. */
export interface JsonServerOptions {
  /** Keep parsed events and requests (off in the benchmark, to stay lean). @default {true} */
  record?: boolean;
  /** `Retry-After` seconds sent with `409 in_progress`. @default {1} */
  inProgressRetryAfter?: number;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

async function readBody(request: Request): Promise<Uint8Array> {
  if (request.headers.get("content-encoding") === "gzip") {
    const stream = request.body!.pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  return new Uint8Array(await request.arrayBuffer());
}

async function digest(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Starts the server on 127.0.0.1 and an ephemeral port. */
export function startJsonServer(options: JsonServerOptions = {}): Promise<JsonServer> {
  const { record = true, inProgressRetryAfter = 1 } = options;
  const seenEvents = new Set<string>();
  const requestKeys = new Map<string, { hash: string; results?: Result[] }>();
  const rejections = new Map<string, Rejection>();
  const hung = new Set<() => void>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let httpServer: Deno.HttpServer;
  const server: JsonServer = {
    url: "",
    port: 0,
    requests: [],
    accepted: [],
    duplicates: 0,
    faults: [],
    rejectEvent(key, rejection) {
      rejections.set(key, { times: Infinity, ...rejection });
    },
    waitForRequests(count) {
      if (server.requests.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      for (const release of hung) release();
      await httpServer.shutdown();
    },
  };

  const process = (events: Array<Record<string, unknown>>): Result[] =>
    events.map((event) => {
      const key = event.idempotency_key;
      if (typeof key !== "string" || typeof event.event !== "string") {
        return { status: "rejected", code: "invalid", reason: "missing fields", retryable: false };
      }
      const rejection = rejections.get(key);
      if (rejection !== undefined && rejection.times > 0) {
        rejection.times--;
        return { status: "rejected", ...rejection };
      }
      if (seenEvents.has(key)) {
        server.duplicates++;
        return { status: "duplicate" };
      }
      seenEvents.add(key);
      if (record) server.accepted.push(event);
      else (server.accepted as unknown[]).length++;
      return { status: "accepted" };
    });

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/stats") {
      return json(200, {
        requests: server.requests.length,
        accepted: server.accepted.length,
        duplicates: server.duplicates,
      });
    }
    if (request.method !== "POST" || url.pathname !== "/v1/events/batch") {
      return json(404, { error: "not_found", detail: url.pathname });
    }
    const body = await readBody(request);
    const key = request.headers.get("x-idempotency-key");
    let events: Array<Record<string, unknown>> = [];
    let parseError: string | undefined;
    try {
      events = JSON.parse(new TextDecoder().decode(body)).events;
      if (!Array.isArray(events)) throw new Error("'events' is not an array");
    } catch (error) {
      events = [];
      parseError = (error as Error).message;
    }
    const seen: SeenRequest = {
      key,
      headers: request.headers,
      events: record ? events : [],
      bytes: Number(request.headers.get("content-length") ?? body.byteLength),
      status: 0,
    };
    server.requests.push(seen);
    for (const waiter of [...waiters]) {
      if (server.requests.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
    const answer = (response: Response) => {
      seen.status = response.status;
      return response;
    };
    const fault = server.faults.shift();
    if (fault?.kind === "status") {
      return answer(
        new Response(fault.body ?? JSON.stringify({ error: "injected", detail: "fault" }), {
          status: fault.status,
          headers: fault.headers ?? {},
        }),
      );
    }
    if (fault?.kind === "hang") {
      await new Promise<void>((resolve) => {
        hung.add(resolve);
        request.signal.addEventListener("abort", () => resolve());
      });
      return new Response(null, { status: 504 });
    }
    if (parseError !== undefined) {
      return answer(json(400, { error: "bad_request", detail: parseError }));
    }
    if (key === null) {
      return answer(json(400, { error: "missing_key", detail: "X-Idempotency-Key is required" }));
    }
    const hash = await digest(body);
    const previous = requestKeys.get(key);
    if (previous !== undefined) {
      if (previous.hash !== hash) {
        return answer(json(422, {
          error: "idempotency_key_reused",
          detail: "this key was used with a different body",
        }));
      }
      if (previous.results === undefined) {
        return answer(
          json(409, { error: "in_progress", detail: "the first request is still processing" }, {
            "retry-after": String(inProgressRetryAfter),
          }),
        );
      }
      server.duplicates += events.length;
      return answer(json(409, {
        error: "duplicate",
        detail: "this key was completed before",
        results: previous.results,
      }));
    }
    const entry: { hash: string; results?: Result[] } = { hash };
    requestKeys.set(key, entry);
    if (fault?.kind === "delay") await new Promise((resolve) => setTimeout(resolve, fault.ms));
    const results = process(events);
    entry.results = results;
    if (fault?.kind === "processThenHang") {
      await new Promise<void>((resolve) => {
        hung.add(resolve);
        request.signal.addEventListener("abort", () => resolve());
      });
      return new Response(null, { status: 504 });
    }
    if (fault?.kind === "reset") {
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.error(new Error("injected connection reset"));
          },
        }),
        { status: 200 },
      );
    }
    const count = (status: string) => results.filter((r) => r.status === status).length;
    return answer(json(200, {
      accepted: count("accepted"),
      duplicates: count("duplicate"),
      rejected: count("rejected"),
      results,
    }));
  };

  return new Promise((resolve) => {
    httpServer = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        Object.assign(server, { port, url: `http://127.0.0.1:${port}` });
        resolve(server);
      },
    }, handle);
  });
}

if (import.meta.main) {
  const server = await startJsonServer({ record: false });
  console.log(server.port);
  // Serve until the parent closes stdin.
  for await (const _ of Deno.stdin.readable) {
    // ignore input
  }
  await server.close();
}
