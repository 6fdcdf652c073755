// Portable (Deno and, in the npm package, Node 20): node:http serves, so the same test runs the
// Web Worker path under Deno and the node:worker_threads path under Node.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "../src/client.ts";
import { workerTransport } from "../src/drivers/transport/worker_transport.ts";

interface Served {
  url: string;
  bodies: string[];
  close(): Promise<void>;
}

async function serve(): Promise<Served> {
  const bodies: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Uint8Array[] = [];
    request.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    request.on("end", () => {
      const text = new TextDecoder().decode(
        chunks.reduce((all, chunk) => {
          const joined = new Uint8Array(all.length + chunk.length);
          joined.set(all);
          joined.set(chunk, all.length);
          return joined;
        }, new Uint8Array(0)),
      );
      bodies.push(text);
      response.setHeader("content-type", "application/json");
      response.setHeader("x-seen-key", String(request.headers["x-idempotency-key"] ?? ""));
      response.end(JSON.stringify({ received: text.length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

Deno.test("workerTransport() sends from its worker thread and answers with status, headers and body", async () => {
  const served = await serve();
  const transport = workerTransport();
  try {
    const body = new TextEncoder().encode('{"events":[{"é":"€"}]}');
    const size = body.byteLength;
    const response = await transport({
      url: `${served.url}/v1/events/batch`,
      method: "POST",
      headers: { "content-type": "application/json", "x-idempotency-key": "batch-key-0001" },
      body,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-seen-key"), "batch-key-0001");
    assert.deepEqual(JSON.parse(response.body), { received: '{"events":[{"é":"€"}]}'.length });
    assert.deepEqual(served.bodies, ['{"events":[{"é":"€"}]}']);
    assert.equal(body.byteLength, 0, `the ${size}-byte body was moved to the worker`);
  } finally {
    transport.close?.();
    await served.close();
  }
});

Deno.test("a Client with workerTransport() delivers every event once and closes its worker", async () => {
  const served = await serve();
  const client = new Client({
    endpoint: served.url,
    transport: workerTransport(),
    exitHook: false,
    maxBatchEvents: 40,
  });
  try {
    for (let i = 0; i < 200; i++) {
      client.track("row_imported", { i }, { userId: "u1", idempotencyKey: `portable-${i}` });
    }
    const summary = await client.close({ timeoutMs: 10_000 });
    assert.equal(summary.delivered, 200);
    const keys = served.bodies.flatMap((text) =>
      (JSON.parse(text) as { events: Array<{ idempotency_key: string }> }).events
        .map((event) => event.idempotency_key)
    );
    assert.equal(keys.length, 200);
    assert.equal(new Set(keys).size, 200);
    assert.ok(served.bodies.length >= 5);
  } finally {
    await served.close();
  }
});
