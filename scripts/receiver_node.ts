#!/usr/bin/env node
/**
 * `idemtrack-receiver`: the receiver command on `node:http` (the npm
 * package's bin). Flags and environment as in docs/receiver.md; Deno KV
 * (`--store kv:…`) is only in `deno task receiver`.
 *
 * @module
 */
import process from "node:process";
import { startReceiverCommand } from "../src/receiver/cli.ts";
import { serveNode } from "../src/receiver/node_adapter.ts";
import { RECEIVER_SINKS, RECEIVER_STORES } from "./_receiver_backends.ts";
import { RECEIVER_ROUTES } from "./_receiver_routes.ts";

try {
  const running = await startReceiverCommand({
    args: process.argv.slice(2),
    env: (name) => process.env[name],
    serve: (handler, options) => serveNode(handler, options),
    routes: RECEIVER_ROUTES,
    stores: RECEIVER_STORES,
    sinks: RECEIVER_SINKS,
  });
  console.log(running.url);
  let signalled = false;
  const stop = async (): Promise<void> => {
    if (signalled) return;
    signalled = true;
    console.error("idemtrack receiver: shutting down");
    process.exitCode = (await running.shutdown()) ? 0 : 1;
    process.exit();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (error) {
  console.error(`receiver: ${error instanceof Error ? error.message : error}`);
  process.exitCode = 2;
}
