/**
 * Starts an idemtrack receiver on a port, with an embedded persistent dedupe
 * store and a JSON-lines sink. It serves the generic JSON route
 * (`POST /v1/events/batch`) and the Hamustro collector route
 * (`POST /api/v1/track`).
 *
 * ```sh
 * deno task receiver --port 8787 --sink events.jsonl --token acme=s3cret-token
 * ```
 *
 * Flags: `--port` (default 8787, 0 = any free port), `--hostname` (127.0.0.1),
 * `--sink <file>` (idemtrack-events.jsonl), `--store <path>|memory`
 * (.idemtrack/receiver.kv), `--token <tenant>=<token>` (repeatable; none = open
 * collector, tenant "default"), `--rate-limit` (100 rq/s, burst 500 per tenant),
 * `--hamustro-secret <secret>` (the shared secret of the Hamustro route; also read
 * from `HAMUSTRO_SHARED_SECRET`; without either, the Hamustro route is not mounted),
 * `--hamustro-signature required|optional` (default required).
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
  MemoryDedupeStore,
} from "../src/receiver/mod.ts";
import { KvDedupeStore } from "../src/receiver/kv_dedupe_store.ts";
import { hamustroRoute } from "../src/hamustro/route.ts";

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
    "hamustro-secret": { type: "string" },
    "hamustro-signature": { type: "string", default: "required" },
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

const hamustroSecret = values["hamustro-secret"] ?? Deno.env.get("HAMUSTRO_SHARED_SECRET");
const signature = values["hamustro-signature"];
if (signature !== "required" && signature !== "optional") {
  fail(`--hamustro-signature must be "required" or "optional": current value is ${signature}`);
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
  routes: [
    createJsonRoute(auth === undefined ? {} : { auth }),
    ...(hamustroSecret ? [hamustroRoute({ sharedSecretKey: hamustroSecret, signature })] : []),
  ],
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
    if (hamustroSecret) {
      console.error(`idemtrack receiver: POST http://${host}:${port}/api/v1/track (Hamustro)`);
    }
  },
}, receiver);

async function shutdown(): Promise<void> {
  await server.shutdown();
  await receiver.close();
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
