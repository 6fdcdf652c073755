// Shared fixtures of the receiver tests.
import { callbackSink } from "../src/receiver/sink.ts";
import type { AcceptedEvent, Sink } from "../src/receiver/sink.ts";

export const BATCH_PATH = "/v1/events/batch";

/** One valid wire event (docs/wire-json.md) with a distinct key per `n`. */
export function wireEvent(
  n: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    type: "track",
    event: "order_paid",
    user_id: `user-${n}`,
    properties: { total: n, note: "x".repeat(n % 7) },
    timestamp: "2026-11-25T08:00:00.000Z",
    idempotency_key: `evt-${String(n).padStart(8, "0")}`,
    ...overrides,
  };
}

export interface PostOptions {
  key?: string;
  token?: string;
  headers?: Record<string, string>;
  base?: string;
}

/** A POST of `{events}` (or a raw body) to the batch endpoint. */
export function batchRequest(body: unknown, options: PostOptions = {}): Request {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...options.headers,
  };
  if (options.key !== undefined) headers["x-idempotency-key"] = options.key;
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  return new Request(`${options.base ?? "http://localhost"}${BATCH_PATH}`, {
    method: "POST",
    headers,
    body: typeof body === "string" || body instanceof Uint8Array
      ? body as BodyInit
      : JSON.stringify(body),
  });
}

/** A sink that records what it was given. */
export function recordingSink(): Sink & { events: AcceptedEvent[] } {
  const events: AcceptedEvent[] = [];
  return Object.assign(callbackSink((batch) => void events.push(...batch)), { events });
}

/** A settable clock. */
export function manualClock(
  start = 1_790_000_000_000,
): { now(): number; advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms) };
}

/** A promise with its resolve function outside. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Serves a handler on 127.0.0.1 at a free port for the duration of `body`. */
export async function withServer(
  handler: (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response>,
  body: (base: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    await body(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

/** A receiver in a child process (tests/_receiver_child.ts), with its peak RSS. */
export interface ChildReceiver {
  readonly url: string;
  readonly pid: number;
  /** Peak resident set size so far, bytes (Linux VmHWM). */
  peakRss(): Promise<number>;
  /** True while the process runs. */
  alive(): boolean;
  /** What the child wrote to stderr so far (once stopped). */
  stop(): Promise<string>;
}

/** Starts tests/_receiver_child.ts with `config` and waits for its URL. */
export async function startChildReceiver(
  config: { maxBodyBytes?: number } = {},
): Promise<ChildReceiver> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("./_receiver_child.ts", import.meta.url).pathname,
      JSON.stringify(config),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let running = true;
  const status = child.status.finally(() => (running = false));
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the child receiver exited before listening: ${await stderr}`);
    line += value;
  }
  reader.cancel().catch(() => {});
  return {
    url: line.trim(),
    pid: child.pid,
    async peakRss() {
      const text = await Deno.readTextFile(`/proc/${child.pid}/status`);
      return Number(/VmHWM:\s+(\d+) kB/.exec(text)?.[1]) * 1024;
    },
    alive: () => running,
    async stop() {
      if (running) child.kill("SIGKILL");
      await status;
      return await stderr;
    },
  };
}
