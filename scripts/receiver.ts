/**
 * Starts an idemtrack receiver on `Deno.serve` (see src/receiver/cli.ts and
 * docs/receiver.md for every flag and its environment variable):
 *
 * ```sh
 * deno task receiver --port 8787 --store kv:.idemtrack/receiver.kv --sink jsonl:events.jsonl \
 *   --token acme=s3cret-token --cors-origin https://app.example.com
 * ```
 *
 * The first line printed is the receiver's base URL. SIGTERM or SIGINT shuts
 * it down gracefully (exit code 0, or 1 past `--shutdown-timeout-ms`).
 *
 * @module
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { type ServeFunction, startReceiverCommand } from "../src/receiver/cli.ts";
import { KvDedupeStore } from "../src/receiver/kv_dedupe_store.ts";
import { RECEIVER_SINKS, RECEIVER_STORES } from "./_receiver_backends.ts";
import { RECEIVER_ROUTES } from "./_receiver_routes.ts";

const serveDeno: ServeFunction = (handler, { port, hostname }) => {
  const { promise, resolve } = Promise.withResolvers<string>();
  const server = Deno.serve({
    port,
    hostname,
    onListen({ hostname, port }) {
      resolve(`http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`);
    },
  }, handler);
  return promise.then((url) => ({
    url,
    async shutdown(timeoutMs: number) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        server.shutdown(),
        new Promise((done) => (timer = setTimeout(done, timeoutMs))),
      ]);
      clearTimeout(timer);
    },
  }));
};

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // not permitted: as if unset
  }
}

let running;
try {
  running = await startReceiverCommand({
    args: Deno.args,
    env,
    serve: serveDeno,
    routes: RECEIVER_ROUTES,
    defaultStore: "kv:.idemtrack/receiver.kv",
    sinks: RECEIVER_SINKS,
    stores: {
      ...RECEIVER_STORES,
      kv: async (path: string) => {
        if (path !== "" && path !== ":memory:") await mkdir(dirname(path), { recursive: true });
        return await KvDedupeStore.open(path || undefined);
      },
    },
  });
} catch (error) {
  console.error(`receiver: ${error instanceof Error ? error.message : error}`);
  Deno.exit(2);
}
console.log(running.url);

let signalled = false;
async function stop(): Promise<void> {
  if (signalled) return;
  signalled = true;
  console.error("idemtrack receiver: shutting down");
  const inTime = await running!.shutdown();
  Deno.exit(inTime ? 0 : 1);
}
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
