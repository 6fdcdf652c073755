/**
 * Starts an idemtrack receiver (the generic JSON route) on a port, with an
 * embedded persistent dedupe store and a JSON-lines sink.
 *
 * ```sh
 * deno task receiver --port 8787 --sink events.jsonl --token acme=s3cret-token
 * ```
 *
 * Flags: `--port` (default 8787, 0 = any free port), `--hostname` (127.0.0.1),
 * `--sink <file>` (idemtrack-events.jsonl), `--store <path>|memory`
 * (.idemtrack/receiver.kv), `--token <tenant>=<token>` (repeatable; none = open
 * collector, tenant "default"), `--rate-limit` (100 rq/s, burst 500 per tenant).
 * The first line printed is the receiver's base URL.
 *
 * @module
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import {
  bearerAuth,
  createJsonRoute,
  createReceiver,
  type DedupeStore,
  JsonLinesSink,
  KvDedupeStore,
  MemoryDedupeStore,
} from "../src/receiver/mod.ts";

function fail(message: string): never {
  console.error(`receiver: ${message}`);
  Deno.exit(2);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "8787" },
    hostname: { type: "string", default: "127.0.0.1" },
    sink: { type: "string", default: "idemtrack-events.jsonl" },
    store: { type: "string", default: ".idemtrack/receiver.kv" },
    token: { type: "string", multiple: true, default: [] },
    "rate-limit": { type: "boolean", default: false },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`--port must be an integer from 0 to 65535: current value is ${values.port}`);
}
const tokens: Record<string, string> = {};
for (const pair of values.token) {
  const at = pair.indexOf("=");
  if (at < 1 || at === pair.length - 1) fail("--token must look like <tenant>=<token>");
  tokens[pair.slice(at + 1)] = pair.slice(0, at);
}

let store: DedupeStore;
if (values.store === "memory") {
  store = new MemoryDedupeStore();
} else {
  await mkdir(dirname(values.store), { recursive: true });
  store = await KvDedupeStore.open(values.store);
}
const auth = Object.keys(tokens).length > 0 ? bearerAuth({ tokens }) : undefined;
const receiver = createReceiver({
  routes: [createJsonRoute(auth === undefined ? {} : { auth })],
  sink: new JsonLinesSink(values.sink),
  store,
  rateLimit: values["rate-limit"],
});

const server = Deno.serve({
  port,
  hostname: values.hostname,
  onListen({ hostname, port }) {
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    console.log(`http://${host}:${port}`);
    console.error(
      `idemtrack receiver: POST http://${host}:${port}/v1/events/batch → ${values.sink} (store: ${values.store})`,
    );
  },
}, receiver);

async function shutdown(): Promise<void> {
  await server.shutdown();
  await receiver.close();
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
