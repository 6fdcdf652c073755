import assert from "node:assert/strict";
import { Client, type ClientOptions } from "../src/client.ts";
import { isClientClosedError } from "../src/errors/client_closed_error.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import { startJsonServer } from "./_json_server.ts";
import { ManualClock, settle, waitFor } from "./_helpers.ts";

function client(url: string, options: Partial<ClientOptions> = {}): Client {
  return new Client({ endpoint: url, exitHook: false, retry: { random: () => 0 }, ...options });
}

Deno.test("track() sends when flushAt is reached, without flush()", async () => {
  const server = await startJsonServer();
  const clock = new ManualClock();
  const c = client(server.url, { flushAt: 5, clock });
  for (let i = 0; i < 4; i++) c.track("page_viewed", { i }, { userId: "u1" });
  await settle();
  assert.equal(server.requests.length, 0, "4 < flushAt: nothing sent yet");
  c.track("page_viewed", { i: 4 }, { userId: "u1" });
  await server.waitForRequests(1);
  await waitFor(() => c.stats().delivered === 5, "delivery");
  assert.deepEqual(server.accepted.map((e) => (e.properties as { i: number }).i), [0, 1, 2, 3, 4]);
  await c.close();
  await server.close();
});

Deno.test("track() sends after flushIntervalMs when fewer than flushAt events wait", async () => {
  const server = await startJsonServer();
  const clock = new ManualClock();
  const c = client(server.url, { flushAt: 100, flushIntervalMs: 1000, clock });
  c.track("a", {}, { userId: "u1" });
  c.track("b", {}, { userId: "u1" });
  await settle();
  clock.advance(999);
  await settle();
  assert.equal(server.requests.length, 0);
  clock.advance(1);
  await server.waitForRequests(1);
  await waitFor(() => c.stats().delivered === 2, "delivery");
  assert.equal(server.requests[0]!.events.length, 2);
  await c.close();
  await server.close();
});

Deno.test("requests follow docs/wire-json.md: fields, ISO timestamps, keys, token", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { token: "s3cret-token", headers: { "X-App": "demo" } });
  const at = Date.parse("2026-11-25T08:00:00.123Z");
  const key = c.track("order_paid", { total: 42 }, {
    userId: "u1",
    anonymousId: "a1",
    timestamp: at,
    tenantId: "t1",
    context: { ip: "10.0.0.1" },
  });
  c.identify("u1", { plan: "pro" });
  c.alias("u1", "anon-7");
  await c.flush();
  const [request] = server.requests;
  assert.equal(request!.headers.get("authorization"), "Bearer s3cret-token");
  assert.equal(request!.headers.get("x-app"), "demo");
  assert.match(request!.headers.get("content-type")!, /^application\/json/);
  assert.match(request!.key!, /^[0-9a-f-]{36}$/);
  const [paid, identify, alias] = request!.events;
  assert.deepEqual(paid, {
    type: "track",
    event: "order_paid",
    user_id: "u1",
    anonymous_id: "a1",
    properties: { total: 42 },
    context: { ip: "10.0.0.1" },
    timestamp: new Date(at).toISOString(),
    idempotency_key: key,
    tenant_id: "t1",
  });
  assert.equal(identify!.type, "identify");
  assert.deepEqual(identify!.properties, { plan: "pro" });
  assert.equal(alias!.type, "alias");
  assert.equal(alias!.previous_id, "anon-7");
  assert.match(alias!.idempotency_key as string, /^[0-9a-f-]{36}$/);
  await c.close();
  await server.close();
});

Deno.test("batches never pass maxBatchBytes, maxBatchEvents or maxItemsPerGroup", async () => {
  const server = await startJsonServer();
  const c = client(server.url, {
    flushAt: Infinity,
    concurrency: 1,
    maxBatchBytes: 2000,
    maxBatchEvents: 7,
    maxItemsPerGroup: 3,
  });
  for (let i = 0; i < 40; i++) {
    if (i % 4 === 0) c.identify(`u${i}`, { n: "x".repeat(i * 5) });
    else c.track("viewed", { pad: "y".repeat(i * 7) }, { userId: `u${i}` });
  }
  const result = await c.flush();
  assert.equal(result.success, 40);
  assert.equal(server.accepted.length, 40);
  for (const request of server.requests) {
    assert.ok(request.bytes <= 2000, `body of ${request.bytes} bytes`);
    assert.ok(request.events.length <= 7);
    const identifies = request.events.filter((e) => e.type === "identify").length;
    const tracks = request.events.filter((e) => e.type === "track").length;
    assert.ok(identifies <= 3 && tracks <= 3, `${identifies} identify, ${tracks} track`);
  }
  // Order is kept across batches.
  assert.deepEqual(
    server.accepted.map((e) => e.user_id),
    Array.from({ length: 40 }, (_, i) => `u${i}`),
  );
  await c.close();
  await server.close();
});

Deno.test("track() refuses an event too large for any request, naming the limit", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { maxBatchBytes: 1000 });
  assert.throws(
    () => c.track("big", { blob: "z".repeat(2000) }, { userId: "u1" }),
    (error) => isEventValidationError(error) && /at most \d+ bytes/.test(error.message),
  );
  assert.throws(() => c.track("", {}, { userId: "u1" }), isEventValidationError);
  c.track("small", {}, { userId: "u1" });
  const result = await c.flush();
  assert.equal(result.success, 1);
  assert.equal(c.stats().tracked, 1);
  await c.close();
  await server.close();
});

Deno.test("flush() waits for in-flight requests and sends events tracked meanwhile", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { flushAt: 2, flushIntervalMs: 60_000 });
  server.faults.push({ kind: "delay", ms: 150 });
  c.track("first", {}, { userId: "u1" });
  c.track("second", {}, { userId: "u1" });
  await server.waitForRequests(1);
  // A request is in flight; flush() must not resolve before its answer.
  const flushed = c.flush();
  c.track("during", {}, { userId: "u1" }); // below flushAt, interval far away
  const result = await flushed;
  assert.equal(result.success, 2, "the flush covers what was queued before it");
  assert.equal(server.accepted.length >= 2, true);
  assert.equal(server.requests[0]!.status, 200, "answered before flush() resolved");
  // Sent long before the 60 s interval: not stranded behind the flush.
  await waitFor(() => server.accepted.length === 3, "the event tracked during flush");
  assert.deepEqual(server.accepted.map((e) => e.event).sort(), ["during", "first", "second"]);
  await c.close();
  await server.close();
});

Deno.test("close() drains everything, including events tracked while it runs, then rejects track()", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { flushAt: 1000, concurrency: 1, maxBatchEvents: 5 });
  for (let i = 0; i < 12; i++) c.track("e", { i }, { userId: "u1" });
  server.faults.push({ kind: "delay", ms: 50 });
  const closing = c.close();
  c.track("late", {}, { userId: "u1" });
  const summary = await closing;
  assert.deepEqual(summary, { delivered: 13, duplicates: 0, failed: 0, dropped: 0, pending: 0 });
  assert.equal(server.accepted.length, 13);
  assert.throws(() => c.track("after", {}, { userId: "u1" }), isClientClosedError);
  assert.deepEqual(await c.close(), summary, "close() is idempotent");
  await server.close();
});

Deno.test("send() delivers at once and resolves with the bulk result", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { flushAt: Infinity, flushIntervalMs: 0 });
  c.track("queued", {}, { userId: "u1" });
  server.rejectEvent("evt-rejected-1", { code: "bad_field", reason: "no", retryable: false });
  const result = await c.send([
    { name: "one", userId: "u1" },
    { name: "two", userId: "u2", idempotencyKey: "evt-rejected-1" },
    { name: "", userId: "u3" },
  ]);
  assert.equal(result.status, "partial");
  assert.equal(result.total, 3);
  assert.equal(result.success, 1);
  assert.equal(result.failure, 2);
  const codes = result.failedRecords.map((f) => f.code).sort();
  assert.deepEqual(codes, ["bad_field", "invalid"]);
  const rejected = result.failedRecords.find((f) => f.code === "bad_field")!;
  assert.equal(rejected.event?.name, "two");
  assert.equal(rejected.error, "no");
  assert.deepEqual(server.requests.map((r) => r.events.map((e) => e.event)), [["one", "two"]]);
  assert.equal(c.stats().queued, 1, "the queued event was not mixed in");
  await c.close();
  await server.close();
});

Deno.test("gzip compression sends Content-Encoding: gzip bodies the server can read", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { compression: "gzip" });
  for (let i = 0; i < 50; i++) {
    c.track("compressible", { text: "aaaa".repeat(50) }, { userId: "u1" });
  }
  await c.flush();
  assert.equal(server.requests[0]!.headers.get("content-encoding"), "gzip");
  assert.ok(server.requests[0]!.bytes < 50 * 200, `compressed to ${server.requests[0]!.bytes}`);
  assert.equal(server.accepted.length, 50);
  await c.close();
  await server.close();
});

Deno.test("waitUntil receives the delivery of each tick's events", async () => {
  const server = await startJsonServer();
  const promises: Promise<unknown>[] = [];
  const c = client(server.url, { flushAt: 1000, waitUntil: (p) => promises.push(p) });
  c.track("edge", {}, { userId: "u1" });
  await settle(1);
  assert.equal(promises.length, 1);
  await Promise.all(promises);
  assert.equal(server.accepted.length, 1, "delivered by the time the waitUntil promise settles");
  await c.close();
  await server.close();
});
