/**
 * The receiver command: flags and environment → a running receiver with
 * `/healthz`, `/readyz` and `/metrics`, shut down gracefully on request.
 * Runtime-neutral, and open to more routes, stores and sinks by name:
 * `scripts/receiver.ts` runs it on `Deno.serve` (adding the `kv:` store and
 * the Hamustro route), `scripts/receiver_node.ts` — the npm package's
 * `idemtrack-receiver` bin — on `node:http`.
 * See docs/receiver.md for every flag.
 *
 * @module
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { bearerAuth } from "./auth.ts";
import type { DedupeStore } from "./dedupe_store.ts";
import { jsonResponse } from "./http.ts";
import { createJsonRoute } from "./json_route.ts";
import { JsonLinesSink } from "./json_lines_sink.ts";
import { MemoryDedupeStore } from "./memory_dedupe_store.ts";
import { ReceiverMetrics } from "./metrics.ts";
import { createReceiver, type Receiver, type ReceiverInfo } from "./receiver.ts";
import type { Route } from "./route.ts";
import type { Sink } from "./sink.ts";

/** A server the command can run on: `Deno.serve` or `serveNode`, wrapped. */
export type ServeFunction = (
  handler: (request: Request, info?: ReceiverInfo) => Promise<Response>,
  options: { port: number; hostname: string },
) => Promise<{ readonly url: string; shutdown(timeoutMs: number): Promise<void> }>;

/** What the command read that a route may need. */
export interface RouteSettings {
  /** `--token` pairs as token → tenant (empty: an open collector). */
  readonly tokens: Readonly<Record<string, string>>;
  /** `--hamustro-secret` or `HAMUSTRO_SHARED_SECRET`. */
  readonly hamustroSecret: string | undefined;
  /** `--hamustro-signature`. */
  readonly hamustroSignature: "required" | "optional";
}

/** Builds a route named by `--route`; throws a TypeError naming what is missing. */
export type RouteFactory = (settings: RouteSettings) => Route;

/** Opens a dedupe store from the part of `--store` after its scheme (`kv:PATH` → `PATH`, `redis://…` → the whole URL). */
export type StoreFactory = (location: string) => Promise<DedupeStore> | DedupeStore;
/** Opens a sink from `--sink` (`jsonl:PATH` → `PATH`, `postgres://…` → the whole URL). */
export type SinkFactory = (location: string) => Promise<Sink> | Sink;

/** Where the command runs, and what it can open. */
export interface ReceiverCommandOptions {
  /** Command-line arguments (without the program). */
  args: readonly string[];
  /** Reads an environment variable (undefined when unset or not permitted). */
  env: (name: string) => string | undefined;
  /** Starts the HTTP server. */
  serve: ServeFunction;
  /**
   * Routes by `--route` name; without `--route`, `json` (and `hamustro` when
   * it is here and a secret is set).
   * @default {{ json }}
   */
  routes?: Readonly<Record<string, RouteFactory>>;
  /**
   * Dedupe stores by scheme: `--store memory`, `--store kv:PATH`,
   * `--store redis://…`. More schemes plug in here.
   * @default {{ memory }}
   */
  stores?: Readonly<Record<string, StoreFactory>>;
  /** Sinks by scheme: `--sink jsonl:PATH`, `--sink postgres://…`. @default {{ jsonl }} */
  sinks?: Readonly<Record<string, SinkFactory>>;
  /** `--store` when neither the flag nor its variable is set. @default {"memory"} */
  defaultStore?: string;
  /** Where lines for the operator go. @default {console.error} */
  log?: (line: string) => void;
}

/** Stores and sinks every runtime has (Deno KV is added by the Deno entry point). */
export const DEFAULT_RECEIVER_COMMAND_OPTIONS: Readonly<{
  routes: Readonly<Record<string, RouteFactory>>;
  stores: Readonly<Record<string, StoreFactory>>;
  sinks: Readonly<Record<string, SinkFactory>>;
  defaultStore: string;
  log: (line: string) => void;
}> = Object.freeze({
  defaultStore: "memory",
  routes: Object.freeze({
    json: ({ tokens }: RouteSettings) =>
      createJsonRoute(Object.keys(tokens).length > 0 ? { auth: bearerAuth({ tokens }) } : {}),
  }),
  stores: Object.freeze({ memory: () => new MemoryDedupeStore() }),
  sinks: Object.freeze({
    jsonl: async (path: string) => {
      await mkdir(dirname(path), { recursive: true });
      return new JsonLinesSink(path);
    },
  }),
  log: (line: string) => console.error(line),
});

/** A running receiver command. */
export interface RunningReceiverCommand {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  readonly receiver: Receiver;
  /**
   * Graceful stop: `/readyz` turns 503, the server stops accepting, requests
   * in flight are answered (their keys committed or released), then the sink
   * and store are closed. Resolves false if it took longer than the
   * `--shutdown-timeout-ms` (what was left is cut).
   */
  shutdown(): Promise<boolean>;
}

const FLAGS = {
  port: { type: "string", default: "8787" },
  hostname: { type: "string", default: "127.0.0.1" },
  store: { type: "string" },
  sink: { type: "string", default: "jsonl:idemtrack-events.jsonl" },
  route: { type: "string", multiple: true },
  token: { type: "string", multiple: true },
  "cors-origin": { type: "string", multiple: true },
  "rate-limit": { type: "boolean" },
  "allow-chunked": { type: "boolean" },
  "max-body-bytes": { type: "string" },
  "max-events-per-request": { type: "string" },
  "max-event-bytes": { type: "string" },
  "max-concurrent-requests": { type: "string" },
  "max-processing-bytes": { type: "string" },
  "body-timeout-ms": { type: "string" },
  "key-ttl-ms": { type: "string" },
  "lease-ms": { type: "string" },
  "shutdown-timeout-ms": { type: "string", default: "30000" },
  "hamustro-secret": { type: "string" },
  "hamustro-signature": { type: "string", default: "required" },
} as const;

type Flag = keyof typeof FLAGS;

/** `--max-body-bytes` → `IDEMTRACK_RECEIVER_MAX_BODY_BYTES`. */
export function receiverEnvName(flag: string): string {
  return `IDEMTRACK_RECEIVER_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** Every environment variable the command reads (for Deno's `--allow-env`). */
export const RECEIVER_ENV_NAMES: readonly string[] = Object.freeze([
  ...Object.keys(FLAGS).map(receiverEnvName),
  "HAMUSTRO_SHARED_SECRET",
]);

/** `kind:where` → kind and where; a value without a kind is `fallback:value`. */
function schemeOf(value: string, fallback: string): { scheme: string; location: string } {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(value);
  if (match === null || match[1]!.length === 1) {
    // A bare name ("memory") or a path (also a Windows drive letter, "C:\…").
    return /^[a-z]+$/i.test(value)
      ? { scheme: value.toLowerCase(), location: "" }
      : { scheme: fallback, location: value };
  }
  const scheme = match[1]!.toLowerCase();
  const rest = value.slice(match[0].length);
  // URL-shaped values (redis://, postgres://) are handed over whole; `kv:PATH` without the scheme.
  return { scheme, location: rest.startsWith("//") ? value : rest };
}

/**
 * Reads the configuration, opens the store and sink, starts the server.
 * Bad configuration throws a `TypeError`/`RangeError` naming the flag.
 *
 * @example Usage
 * ```ts
 * import { startReceiverCommand } from "./cli.ts";
 * import { serveNode } from "./node_adapter.ts";
 * import assert from "node:assert/strict";
 *
 * const running = await startReceiverCommand({
 *   args: ["--port", "0", "--store", "memory", "--sink", "jsonl:/dev/null"],
 *   env: () => undefined,
 *   serve: (handler, options) => serveNode(handler, options),
 *   log: () => {},
 * });
 * assert.equal((await fetch(`${running.url}/healthz`)).status, 200);
 * assert.equal(await running.shutdown(), true);
 * ```
 */
export async function startReceiverCommand(
  options: ReceiverCommandOptions,
): Promise<RunningReceiverCommand> {
  const {
    args,
    env,
    serve,
    routes: routeFactories = DEFAULT_RECEIVER_COMMAND_OPTIONS.routes,
    stores = DEFAULT_RECEIVER_COMMAND_OPTIONS.stores,
    sinks = DEFAULT_RECEIVER_COMMAND_OPTIONS.sinks,
    defaultStore = DEFAULT_RECEIVER_COMMAND_OPTIONS.defaultStore,
    log = DEFAULT_RECEIVER_COMMAND_OPTIONS.log,
  } = options;
  const { values } = parseArgs({
    args: [...args],
    options: Object.fromEntries(
      Object.entries(FLAGS).map(([name, flag]) => {
        const { default: _default, ...rest } = flag as { default?: unknown };
        return [name, rest];
      }),
    ) as { [K in Flag]: Omit<(typeof FLAGS)[K], "default"> },
    strict: true,
  });
  // Flag, else environment, else default.
  const text = (flag: Flag): string | undefined => {
    const value = values[flag];
    if (typeof value === "string") return value;
    const fromEnv = env(receiverEnvName(flag));
    if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
    const fallback = flag === "store"
      ? defaultStore
      : (FLAGS[flag] as { default?: unknown }).default;
    return typeof fallback === "string" ? fallback : undefined;
  };
  const list = (flag: Flag): string[] => {
    const value = values[flag];
    if (Array.isArray(value)) return value as string[];
    const fromEnv = env(receiverEnvName(flag));
    return fromEnv === undefined || fromEnv === ""
      ? []
      : fromEnv.split(",").map((item) => item.trim()).filter((item) => item !== "");
  };
  const integer = (flag: Flag, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const value = text(flag);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new RangeError(
        `Cannot start the receiver as --${flag} must be an integer from ${min} to ${max}: current value is ${
          JSON.stringify(value)
        }`,
      );
    }
    return n;
  };
  const boolean = (flag: "rate-limit" | "allow-chunked"): boolean =>
    values[flag] ?? ["1", "true"].includes(env(receiverEnvName(flag)) ?? "");
  const rateLimit = boolean("rate-limit");

  const tokens: Record<string, string> = {};
  for (const pair of list("token")) {
    const at = pair.indexOf("=");
    if (at < 1 || at === pair.length - 1) {
      throw new TypeError(
        "Cannot start the receiver as --token must look like <tenant>=<token> (the value is not shown)",
      );
    }
    tokens[pair.slice(at + 1)] = pair.slice(0, at);
  }
  const hamustroSecret = text("hamustro-secret") ?? env("HAMUSTRO_SHARED_SECRET");
  const signature = text("hamustro-signature");
  if (signature !== "required" && signature !== "optional") {
    throw new TypeError(
      `Cannot start the receiver as --hamustro-signature must be "required" or "optional": current value is ${
        JSON.stringify(signature)
      }`,
    );
  }
  const settings: RouteSettings = { tokens, hamustroSecret, hamustroSignature: signature };
  const routeNames = list("route");
  const wanted = routeNames.length > 0 ? routeNames : [
    "json",
    ...(hamustroSecret && Object.hasOwn(routeFactories, "hamustro") ? ["hamustro"] : []),
  ];
  const routes: Route[] = wanted.map((name) => {
    const factory = Object.hasOwn(routeFactories, name) ? routeFactories[name] : undefined;
    if (factory === undefined) {
      throw new TypeError(
        `Cannot start the receiver as --route must be one of ${
          Object.keys(routeFactories).join(", ")
        }: current value is ${JSON.stringify(name)}`,
      );
    }
    return factory(settings);
  });
  const corsOrigins = list("cors-origin");
  const port = integer("port", 0, 65_535)!;
  const shutdownTimeoutMs = integer("shutdown-timeout-ms", 0)!;

  const open = async <T>(
    flag: "store" | "sink",
    fallback: string,
    factories: Readonly<Record<string, (location: string) => Promise<T> | T>>,
  ): Promise<T> => {
    const value = text(flag)!;
    let { scheme, location } = schemeOf(value, fallback);
    if (!Object.hasOwn(factories, scheme) && !value.includes(":")) {
      ({ scheme, location } = { scheme: fallback, location: value }); // a bare file name
    }
    const factory = Object.hasOwn(factories, scheme) ? factories[scheme] : undefined;
    if (factory === undefined) {
      throw new TypeError(
        `Cannot start the receiver as --${flag} ${
          JSON.stringify(scheme)
        } is not available here: use ${
          Object.keys(factories).map((s) => (s === "memory" ? s : `${s}:…`)).join(", ")
        }`,
      );
    }
    return await factory(location);
  };
  // A bare path is a Deno KV database (--store) or a JSON-lines file (--sink).
  const store = await open("store", "kv", stores);
  let sink: Sink;
  try {
    sink = await open("sink", "jsonl", sinks);
  } catch (error) {
    await store.close?.();
    throw error;
  }
  const metrics = new ReceiverMetrics();
  const receiver = createReceiver({
    routes,
    store,
    sink,
    rateLimit,
    // On the internet by default: chunked uploads cost the runtime a buffer per packet.
    requireContentLength: !boolean("allow-chunked"),
    cors: corsOrigins.length === 0
      ? undefined
      : { allowedOrigins: corsOrigins.includes("*") ? "*" : corsOrigins },
    maxBodyBytes: integer("max-body-bytes", 1),
    maxEventsPerRequest: integer("max-events-per-request", 1),
    maxEventBytes: integer("max-event-bytes", 1),
    maxConcurrentRequests: integer("max-concurrent-requests", 1),
    maxProcessingBytes: integer("max-processing-bytes", 1),
    bodyTimeoutMs: integer("body-timeout-ms", 0),
    keyTtlMs: integer("key-ttl-ms", 1),
    leaseMs: integer("lease-ms", 1),
    onRequest: (report) => metrics.observe(report),
    onError: (error) =>
      log(`idemtrack receiver: ${error instanceof Error ? error.message : error}`),
  });

  const handler = async (request: Request, info?: ReceiverInfo): Promise<Response> => {
    if (request.method === "GET") {
      const { pathname } = new URL(request.url);
      if (pathname === "/healthz") return jsonResponse(200, { status: "ok" });
      if (pathname === "/readyz") {
        const report = await receiver.ready();
        return jsonResponse(report.ready ? 200 : 503, {
          status: report.ready ? "ready" : report.closing ? "shutting_down" : "unavailable",
          ...(report.store === undefined ? {} : { store: report.store }),
          ...(report.sink === undefined ? {} : { sink: report.sink }),
        });
      }
      if (pathname === "/metrics") {
        return new Response(metrics.render(receiver.stats), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }
    }
    return await receiver(request, info);
  };
  let server;
  try {
    server = await serve(handler, { port, hostname: text("hostname")! });
  } catch (error) {
    await receiver.close();
    throw error;
  }
  const url = server.url;
  for (const route of routes) {
    log(`idemtrack receiver: ${route.method} ${url}${route.path} (${route.name})`);
  }
  log(`idemtrack receiver: store ${text("store")}, sink ${text("sink")}`);

  let stopping: Promise<boolean> | undefined;
  return {
    url,
    receiver,
    shutdown() {
      stopping ??= (async () => {
        const started = Date.now();
        const closed = receiver.close();
        await server.shutdown(shutdownTimeoutMs);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const inTime = await Promise.race([
          closed.then(() => true),
          new Promise<false>((done) => {
            timer = setTimeout(
              () => done(false),
              Math.max(0, shutdownTimeoutMs - (Date.now() - started)),
            );
          }),
        ]);
        clearTimeout(timer);
        return inTime;
      })();
      return stopping;
    },
  };
}
