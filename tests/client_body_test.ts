import assert from "node:assert/strict";
import { Client } from "../src/client.ts";
import { fetchTransport } from "../src/drivers/transport/fetch_transport.ts";
import type { Transport } from "../src/ports/transport.ts";
import { transportTraits } from "../src/_util/internal.ts";
import { startJsonServer } from "./_json_server.ts";
import { jsonProfile } from "../src/profiles/json/profile.ts";

const decoder = new TextDecoder();
const key = (i: number) => `event-${String(i).padStart(5, "0")}`;

Deno.test("fetchTransport() says it copies bodies only when it uses the platform's fetch", () => {
  assert.equal(transportTraits(fetchTransport()).copiesBody, true);
  assert.equal(
    transportTraits(fetchTransport((input, init) => fetch(input, init))).copiesBody,
    undefined,
  );
});

Deno.test("a transport that keeps request bodies finds each one as it was sent, after later requests", async () => {
  const kept: { body: Uint8Array; sent: string }[] = [];
  const transport: Transport = (request) => {
    kept.push({ body: request.body, sent: decoder.decode(request.body) });
    return Promise.resolve({ status: 200, headers: new Headers(), body: "{}" });
  };
  const client = new Client({
    endpoint: "http://collector.test",
    transport,
    exitHook: false,
    flushAt: Infinity,
    flushIntervalMs: 0,
  });
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 50; i++) {
      client.track(`round${round}`, { i }, { userId: "u1", idempotencyKey: key(round * 50 + i) });
    }
    await client.flush();
  }
  await client.close();
  assert.equal(kept.length, 3);
  for (const { body, sent } of kept) assert.equal(decoder.decode(body), sent);
});

Deno.test("with fetch, bodies written into reused buffers reach a real receiver intact, each event once", async () => {
  const server = await startJsonServer();
  const client = new Client({
    endpoint: server.url,
    exitHook: false,
    maxBatchEvents: 97,
    flushIntervalMs: 0,
  });
  for (let i = 0; i < 3000; i++) {
    client.track("viewed", { i, pad: "x".repeat(i % 200) }, {
      userId: "u1",
      idempotencyKey: key(i),
    });
  }
  const summary = await client.close();
  assert.equal(summary.delivered, 3000);
  const keys = server.accepted.map((event) => event.idempotency_key);
  assert.equal(new Set(keys).size, 3000);
  assert.deepEqual(keys.toSorted(), Array.from({ length: 3000 }, (_, i) => key(i)));
  for (const event of server.accepted) {
    const i = Number(String(event.idempotency_key).slice(6));
    assert.deepEqual(event.properties, { i, pad: "x".repeat(i % 200) });
  }
  await server.close();
});

Deno.test("with fetch, a beforeRequest hook that keeps request bodies finds each one as it was sent, after later requests", async () => {
  const server = await startJsonServer();
  const kept: { body: Uint8Array; sent: string }[] = [];
  const client = new Client({
    endpoint: server.url,
    exitHook: false,
    flushAt: Infinity,
    flushIntervalMs: 0,
    hooks: {
      beforeRequest: [
        ({ request }) => void kept.push({ body: request.body, sent: decoder.decode(request.body) }),
      ],
    },
  });
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 50; i++) {
      client.track(`round${round}`, { i }, { userId: "u1", idempotencyKey: key(round * 50 + i) });
    }
    await client.flush();
  }
  await client.close();
  assert.equal(kept.length, 4);
  for (const { body, sent } of kept) assert.equal(decoder.decode(body), sent);
  assert.equal(server.accepted.length, 200);
  await server.close();
});

Deno.test("records a profile reads are plain: spread or cloned, they keep every field", async () => {
  const seen: Record<string, unknown>[] = [];
  const json = jsonProfile({ endpoint: "http://collector.test" });
  const client = new Client({
    profile: {
      ...json,
      buildRequest(batch, now) {
        for (const record of batch.records) seen.push(structuredClone({ ...record }));
        return json.buildRequest(batch, now);
      },
    },
    transport: () => Promise.resolve({ status: 200, headers: new Headers(), body: "{}" }),
    exitHook: false,
    flushAt: Infinity,
    flushIntervalMs: 0,
  });
  client.track("viewed", { i: 1 }, { userId: "u1", idempotencyKey: key(1) });
  client.track("viewed", { i: 2 }, { userId: "u1", idempotencyKey: key(2) });
  await client.flush();
  await client.close();
  assert.deepEqual(seen.map((record) => record.key), [key(1), key(2)]);
  for (const record of seen) {
    assert.deepEqual(Object.keys(record).sort(), [
      "data",
      "group",
      "id",
      "key",
      "queuedAt",
      "stream",
    ]);
    assert.equal(JSON.parse(decoder.decode(record.data as Uint8Array)).idempotency_key, record.key);
  }
});
