import assert from "node:assert/strict";
import { Client, type ClientOptions } from "../src/client.ts";
import { isQueueFullError } from "../src/errors/queue_full_error.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import { MemoryStorage } from "../src/drivers/storage/memory_storage.ts";
import type { FailedRecord } from "../src/pipeline/types.ts";
import { startJsonServer } from "./_json_server.ts";
import { waitFor } from "./_helpers.ts";

function client(url: string, options: Partial<ClientOptions> = {}): Client {
  return new Client({
    endpoint: url,
    exitHook: false,
    retry: { random: () => 0 },
    flushAt: Infinity,
    flushIntervalMs: 0,
    ...options,
  });
}

const key = (i: number) => `event-${String(i).padStart(4, "0")}`;

Deno.test("overflow 'reject' throws QueueFullError at maxQueueSize and keeps the queue intact", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { maxQueueSize: 3 });
  for (let i = 0; i < 3; i++) c.track("e", {}, { userId: "u1", idempotencyKey: key(i) });
  assert.throws(
    () => c.track("e", {}, { userId: "u1", idempotencyKey: key(3) }),
    (error) =>
      isQueueFullError(error) && error.bound === "events" &&
      /'maxQueueSize' is 3/.test(error.message),
  );
  await c.flush();
  assert.deepEqual(server.accepted.map((e) => e.idempotency_key), [key(0), key(1), key(2)]);
  assert.equal(c.stats().dropped, 0);
  c.track("e", {}, { userId: "u1", idempotencyKey: key(3) }); // room again after delivery
  await c.close();
  await server.close();
});

Deno.test("overflow 'reject' also bounds bytes with maxQueueBytes", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { maxQueueBytes: 1000 });
  assert.throws(() => {
    for (let i = 0; i < 100; i++) c.track("e", { pad: "x".repeat(100) }, { userId: "u1" });
  }, (error) => isQueueFullError(error) && error.bound === "bytes");
  assert.ok(c.stats().queuedBytes <= 1000);
  await c.close();
  await server.close();
});

Deno.test("overflow 'dropOldest' drops the oldest queued events, counts and reports them", async () => {
  const server = await startJsonServer();
  const dropped: FailedRecord[] = [];
  const c = client(server.url, {
    maxQueueSize: 3,
    overflow: "dropOldest",
    hooks: { drop: [({ records }) => dropped.push(...records)] },
  });
  for (let i = 0; i < 5; i++) c.track("e", {}, { userId: "u1", idempotencyKey: key(i) });
  await c.flush();
  assert.deepEqual(server.accepted.map((e) => e.idempotency_key), [key(2), key(3), key(4)]);
  assert.deepEqual(dropped.map((d) => d.key), [key(0), key(1)]);
  assert.equal(dropped[0]!.code, "dropped");
  assert.equal(c.stats().dropped, 2);
  assert.equal((await c.close()).dropped, 2);
  await server.close();
});

Deno.test("overflow 'dropNewest' drops the incoming events, counts and reports them", async () => {
  const server = await startJsonServer();
  const dropped: FailedRecord[] = [];
  const c = client(server.url, {
    maxQueueSize: 3,
    overflow: "dropNewest",
    hooks: { drop: [({ records }) => dropped.push(...records)] },
  });
  for (let i = 0; i < 5; i++) c.track("e", {}, { userId: "u1", idempotencyKey: key(i) });
  const result = await c.flush();
  assert.equal(result.success, 3);
  assert.deepEqual(server.accepted.map((e) => e.idempotency_key), [key(0), key(1), key(2)]);
  assert.deepEqual(dropped.map((d) => d.key), [key(3), key(4)]);
  assert.equal(c.stats().dropped, 2);
  await c.close();
  await server.close();
});

Deno.test("flush() reports drops among the events it covers", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { maxQueueSize: 2, overflow: "dropOldest" });
  c.track("e", {}, { userId: "u1", idempotencyKey: key(0) });
  c.track("e", {}, { userId: "u1", idempotencyKey: key(1) });
  const flushed = c.flush();
  c.track("e", {}, { userId: "u1", idempotencyKey: key(2) }); // may push out key(0) if still queued
  const result = await flushed;
  assert.equal(result.total, 2);
  assert.equal(result.success + result.failure, 2);
  await c.close();
  await server.close();
});

Deno.test("a batch keeps its key across a restart: the new client resends it, the server answers 409", async () => {
  const server = await startJsonServer();
  const storage = new MemoryStorage();
  const first = client(server.url, { storage });
  server.faults.push({ kind: "processThenHang" });
  for (let i = 0; i < 3; i++) first.track("e", { i }, { userId: "u1", idempotencyKey: key(i) });
  const flushing = first.flush();
  await server.waitForRequests(1);
  // The server stored the events but the answer never comes: the process "dies".
  const summary = await first.close({ timeoutMs: 0 });
  assert.equal(summary.pending, 3);
  assert.equal(storage.size, 3, "the batch is still in storage");
  flushing.catch(() => {});

  const second = client(server.url, { storage });
  second.track("e", { i: 3 }, { userId: "u1", idempotencyKey: key(3) });
  const result = await second.flush();
  assert.equal(result.success, 4);
  const [original, resent, next] = server.requests;
  assert.equal(resent!.key, original!.key, "same key after the restart");
  assert.deepEqual(resent!.events, original!.events, "same membership and bytes");
  assert.equal(resent!.status, 409);
  assert.deepEqual(next!.events.map((e) => e.idempotency_key), [key(3)]);
  assert.deepEqual(server.accepted.map((e) => e.idempotency_key), [key(0), key(1), key(2), key(3)]);
  assert.equal(server.duplicates, 3);
  await second.close();
  assert.equal(storage.size, 0);
  await server.close();
});

Deno.test("queued events left in storage are sent by the next client", async () => {
  const server = await startJsonServer();
  const storage = new MemoryStorage();
  const first = client(server.url, { storage });
  for (let i = 0; i < 5; i++) first.track("e", { i }, { userId: "u1", idempotencyKey: key(i) });
  await waitFor(() => storage.size === 5, "journaling");
  // Abandoned without close: a crash before anything was sent.
  const second = client(server.url, { storage });
  await second.flush();
  assert.deepEqual(server.accepted.map((e) => e.idempotency_key), [0, 1, 2, 3, 4].map(key));
  await second.close();
  await first.close({ timeoutMs: 0 });
  await server.close();
});

Deno.test("stats() shows backpressure while requests are in flight", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { concurrency: 1, maxBatchEvents: 2 });
  server.faults.push({ kind: "delay", ms: 100 });
  for (let i = 0; i < 5; i++) c.track("e", {}, { userId: "u1" });
  const flushed = c.flush();
  await server.waitForRequests(1);
  const during = c.stats();
  assert.equal(during.inFlight, 2);
  assert.equal(during.queued, 3);
  assert.equal(during.tracked, 5);
  await flushed;
  const after = c.stats();
  assert.deepEqual(
    {
      queued: after.queued,
      inFlight: after.inFlight,
      delivered: after.delivered,
      requests: after.requests,
    },
    { queued: 0, inFlight: 0, delivered: 5, requests: 3 },
  );
  await c.close();
  await server.close();
});

Deno.test("MemoryStorage answers open() from the live queue of the client using it, at each call", async () => {
  // Also keeps the event loop alive while the client waits (its timers do not).
  const server = await startJsonServer();
  const storage = new MemoryStorage();
  const sent: { key: string; events: string[] }[] = [];
  const decoder = new TextDecoder();
  // Requests are recorded and never answered: their batches stay in flight.
  const transport = (request: { headers: Record<string, string>; body: Uint8Array }) => {
    const body = JSON.parse(decoder.decode(request.body)) as {
      events: { idempotency_key: string }[];
    };
    sent.push({
      key: request.headers["x-idempotency-key"]!,
      events: body.events.map((e) => e.idempotency_key),
    });
    return new Promise<never>(() => {});
  };
  const first = client("http://collector.test", {
    storage,
    transport,
    maxBatchEvents: 2,
    concurrency: 1,
  });
  for (let i = 0; i < 5; i++) first.track("e", { i }, { userId: "u1", idempotencyKey: key(i) });
  first.flush().catch(() => {});
  await waitFor(() => sent.length === 1, "the first batch in flight");
  assert.equal(storage.size, 5);
  let snapshot = await storage.open();
  assert.deepEqual(snapshot.records.map((r) => r.key), [0, 1, 2, 3, 4].map(key));
  assert.deepEqual(
    snapshot.batches.map((b) => ({
      id: b.id,
      keys: b.recordIds.map((id) => snapshot.records.find((r) => r.id === id)!.key),
    })),
    [{ id: sent[0]!.key, keys: sent[0]!.events }],
  );
  assert.equal(new Set(snapshot.records.map((r) => r.id)).size, 5, "record ids are unique");
  assert.deepEqual(
    snapshot.records.map((r) => JSON.parse(decoder.decode(r.data)).idempotency_key),
    [0, 1, 2, 3, 4].map(key),
  );
  first.track("e", { i: 5 }, { userId: "u1", idempotencyKey: key(5) });
  snapshot = await storage.open();
  assert.equal(snapshot.records.length, 6, "open() reads the queue as it is now");
  const summary = await first.close({ timeoutMs: 0 });
  assert.equal(summary.pending, 6);
  assert.equal(storage.size, 6);

  // A restarted client resumes all six: the batch in flight first, under its key.
  const second = client(server.url, { storage });
  const result = await second.flush();
  assert.equal(result.success, 6);
  assert.equal(server.requests[0]!.key, sent[0]!.key);
  assert.deepEqual(server.requests[0]!.events.map((e) => e.idempotency_key), sent[0]!.events);
  assert.deepEqual(
    server.accepted.map((e) => e.idempotency_key).sort(),
    [0, 1, 2, 3, 4, 5].map(key),
  );
  await second.close();
  assert.equal(storage.size, 0);
  await server.close();
});

Deno.test("maxEventBytes refuses a larger event in track() and send(), and delivers the rest", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { maxEventBytes: 500 });
  c.track("e", { pad: "x".repeat(100) }, { userId: "u1", idempotencyKey: key(0) });
  assert.throws(
    () => c.track("e", { pad: "x".repeat(1000) }, { userId: "u1", idempotencyKey: key(1) }),
    (error) =>
      isEventValidationError(error) && error.rule === "maxBytes" &&
      /at most 500 bytes per event/.test(error.message),
  );
  const sent = await c.send([
    { name: "e", userId: "u1", idempotencyKey: key(2), properties: { pad: "x".repeat(1000) } },
    { name: "e", userId: "u1", idempotencyKey: key(3) },
  ]);
  assert.equal(sent.success, 1);
  assert.deepEqual(sent.failedRecords.map((r) => r.key), [key(2)]);
  await c.flush();
  assert.deepEqual(server.accepted.map((e) => e.idempotency_key).sort(), [key(0), key(3)]);
  await c.close();
  await server.close();
});

Deno.test("maxEventBytes must be a positive integer", () => {
  assert.throws(
    () => client("http://collector.test", { maxEventBytes: 0 }),
    (error) => error instanceof RangeError && /'maxEventBytes'/.test(error.message),
  );
});
