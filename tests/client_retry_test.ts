import assert from "node:assert/strict";
import { Client, type ClientOptions } from "../src/client.ts";
import type { RetryOptions } from "../src/kit/retry.ts";
import { type DeliveryError, isDeliveryError } from "../src/errors/delivery_error.ts";
import { isHttpError } from "../src/errors/http_error.ts";
import { isTimeoutError } from "../src/errors/timeout_error.ts";
import type { IdemtrackError } from "../src/errors/idemtrack_error.ts";
import { startJsonServer } from "./_json_server.ts";
import { ManualClock, settle, waitFor } from "./_helpers.ts";

function client(
  url: string,
  options: Partial<Omit<ClientOptions, "retry">> & { retry?: RetryOptions } = {},
): Client {
  const { retry, ...rest } = options;
  return new Client({
    endpoint: url,
    exitHook: false,
    flushIntervalMs: 0,
    flushAt: Infinity,
    ...rest,
    retry: { random: () => 0, ...retry }, // full jitter drawn at 0: immediate retries
  });
}

function trackMany(c: Client, count: number, prefix = "evt"): string[] {
  return Array.from(
    { length: count },
    (_, i) => c.track("e", { i }, { userId: "u1", idempotencyKey: `${prefix}-${i}-key` }),
  );
}

Deno.test("a 500 is retried with the same request key and each event is delivered once", async () => {
  const server = await startJsonServer();
  const c = client(server.url);
  server.faults.push({ kind: "status", status: 500 }, { kind: "status", status: 503 });
  trackMany(c, 3);
  const result = await c.flush();
  assert.equal(result.status, "success");
  assert.equal(server.requests.length, 3);
  assert.equal(new Set(server.requests.map((r) => r.key)).size, 1, "one key for every resend");
  assert.equal(server.accepted.length, 3);
  assert.equal(c.stats().retried, 6);
  await c.close();
  await server.close();
});

Deno.test("retry given as a number is maxRetries, with every other retry default", async () => {
  const server = await startJsonServer();
  const c = new Client({
    endpoint: server.url,
    exitHook: false,
    flushIntervalMs: 0,
    flushAt: Infinity,
    retry: 0,
  });
  server.faults.push({ kind: "status", status: 503 });
  trackMany(c, 2);
  const result = await c.flush();
  assert.equal(result.status, "fail");
  assert.deepEqual(result.failedRecords.map((f) => f.code), [503, 503]);
  assert.equal(server.requests.length, 1, "no retry");
  await c.close();
  await server.close();
});

Deno.test("429 with Retry-After seconds is honoured and does not spend the retry budget", async () => {
  const server = await startJsonServer();
  const clock = new ManualClock();
  const c = client(server.url, { clock, retry: { maxRetries: 0 } });
  server.faults.push({ kind: "status", status: 429, headers: { "retry-after": "2" } });
  trackMany(c, 2);
  const flushed = c.flush();
  await server.waitForRequests(1);
  await waitFor(() => clock.pendingDelays.includes(2000), "a 2000 ms retry timer");
  clock.advance(1999);
  await settle();
  assert.equal(server.requests.length, 1, "not before Retry-After");
  clock.advance(1);
  const result = await flushed;
  assert.equal(result.status, "success", "maxRetries 0, yet the polite 429 was retried");
  assert.equal(server.requests[1]!.key, server.requests[0]!.key);
  await c.close();
  await server.close();
});

Deno.test("Retry-After as an HTTP date is honoured, capped by retryAfterCapMs", async () => {
  const server = await startJsonServer();
  const clock = new ManualClock(Date.now());
  const c = client(server.url, { clock, retry: { retryAfterCapMs: 60_000 } });
  const in5s = new Date(Date.now() + 5000).toUTCString();
  const inAnHour = new Date(Date.now() + 3_600_000).toUTCString();
  server.faults.push(
    { kind: "status", status: 503, headers: { "retry-after": in5s } },
    { kind: "status", status: 503, headers: { "retry-after": inAnHour } },
  );
  trackMany(c, 1);
  const flushed = c.flush();
  await server.waitForRequests(1);
  await waitFor(() => clock.pendingDelays.some((d) => d <= 5000), "a retry timer");
  const wait = clock.pendingDelays.find((d) => d <= 5000)!;
  assert.ok(wait > 3000 && wait <= 5000, `waits ${wait} ms`);
  clock.advance(wait);
  await server.waitForRequests(2);
  await waitFor(() => clock.pendingDelays.includes(60_000), "a retry capped at 60 s");
  clock.advance(60_000);
  assert.equal((await flushed).success, 1);
  await c.close();
  await server.close();
});

Deno.test("a connection reset after processing is retried and the 409 duplicate counts as delivered", async () => {
  const server = await startJsonServer();
  const c = client(server.url);
  server.faults.push({ kind: "reset" });
  trackMany(c, 4);
  const result = await c.flush();
  assert.equal(result.status, "success");
  assert.deepEqual(server.requests.map((r) => r.status), [0, 409]);
  assert.equal(server.requests[1]!.key, server.requests[0]!.key);
  assert.equal(server.accepted.length, 4, "stored once");
  assert.equal(c.stats().delivered + c.stats().duplicates, 4);
  await c.close();
  await server.close();
});

Deno.test("a 409 duplicate without per-record results counts every event as a duplicate", async () => {
  const server = await startJsonServer();
  const c = client(server.url);
  server.faults.push({ kind: "status", status: 409, body: '{"error":"duplicate"}' });
  trackMany(c, 3);
  const result = await c.flush();
  assert.equal(result.success, 3);
  assert.equal(c.stats().duplicates, 3);
  assert.equal(server.requests.length, 1, "not retried");
  await c.close();
  await server.close();
});

Deno.test("a request that times out is aborted and resent with the same key", async () => {
  const server = await startJsonServer();
  const clock = new ManualClock();
  const errors: IdemtrackError[] = [];
  const c = client(server.url, { clock, timeoutMs: 1000, onError: (e) => errors.push(e) });
  server.faults.push({ kind: "hang" });
  trackMany(c, 2);
  const flushed = c.flush();
  await server.waitForRequests(1);
  clock.advance(1000);
  const result = await flushed;
  assert.equal(result.success, 2);
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[1]!.key, server.requests[0]!.key);
  assert.deepEqual(errors, [], "a retried timeout is not a failure");
  await c.close();
  await server.close();
});

Deno.test("timeouts until maxRetries are reported with a TimeoutError cause", async () => {
  const server = await startJsonServer();
  const clock = new ManualClock();
  const errors: IdemtrackError[] = [];
  const c = client(server.url, {
    clock,
    timeoutMs: 1000,
    retry: { maxRetries: 1 },
    onError: (e) => errors.push(e),
  });
  server.faults.push({ kind: "hang" }, { kind: "hang" });
  trackMany(c, 1);
  const flushed = c.flush();
  await server.waitForRequests(1);
  clock.advance(1000);
  await server.waitForRequests(2);
  clock.advance(1000);
  const result = await flushed;
  assert.equal(result.status, "fail");
  assert.equal(result.failedRecords[0]!.code, "timeout");
  assert.match(result.failedRecords[0]!.error, /gave up after 1 retries/);
  const error = errors.find(isDeliveryError)!;
  assert.ok(isTimeoutError(error.cause));
  await c.close();
  await server.close();
});

Deno.test("409 in_progress is retried later with the same key", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { retry: { retryAfterFloorMs: 1 } });
  server.faults.push({
    kind: "status",
    status: 409,
    headers: { "retry-after": "0" },
    body: '{"error":"in_progress","detail":"still processing"}',
  });
  trackMany(c, 2);
  const result = await c.flush();
  assert.equal(result.success, 2);
  assert.deepEqual(server.requests.map((r) => r.status), [409, 200]);
  assert.equal(server.requests[1]!.key, server.requests[0]!.key);
  assert.equal(c.stats().duplicates, 0);
  await c.close();
  await server.close();
});

Deno.test("413 splits the batch and resends the halves under new keys, dropping nothing", async () => {
  const server = await startJsonServer();
  const c = client(server.url);
  server.faults.push({ kind: "status", status: 413, body: '{"error":"payload_too_large"}' });
  server.faults.push({ kind: "status", status: 413, body: '{"error":"payload_too_large"}' });
  const keys = trackMany(c, 10);
  const result = await c.flush();
  assert.equal(result.success, 10);
  const sizes = server.requests.map((r) => r.events.length);
  assert.deepEqual(sizes.slice(0, 2), [10, 5]);
  assert.equal(sizes.slice(2).reduce((a, b) => a + b, 0), 10);
  assert.equal(new Set(server.requests.map((r) => r.key)).size, server.requests.length);
  assert.deepEqual(server.accepted.map((e) => e.idempotency_key).sort(), keys.sort());
  await c.close();
  await server.close();
});

Deno.test("400 and 422 are permanent: reported with the server's reason and not retried", async () => {
  for (
    const [status, body, reason] of [
      [400, '{"error":"bad_request","detail":"properties too deep"}', "properties too deep"],
      [422, '{"error":"idempotency_key_reused","detail":"different body"}', "different body"],
    ] as const
  ) {
    const server = await startJsonServer();
    const errors: IdemtrackError[] = [];
    const c = client(server.url, { onError: (e) => errors.push(e) });
    server.faults.push({ kind: "status", status, body });
    const keys = trackMany(c, 2);
    const result = await c.flush();
    assert.equal(result.status, "fail");
    assert.equal(result.failure, 2);
    assert.deepEqual(result.failedRecords.map((f) => f.key), keys);
    for (const failed of result.failedRecords) {
      assert.equal(failed.code, status);
      assert.match(failed.error, new RegExp(reason));
    }
    assert.equal(server.requests.length, 1);
    const error = errors[0] as DeliveryError;
    assert.ok(isDeliveryError(error));
    assert.deepEqual(error.keys, keys);
    assert.ok(isHttpError(error.cause) && error.cause.status === status);
    assert.equal(c.stats().failed, 2);
    await c.close();
    await server.close();
  }
});

Deno.test("after maxRetries the events are reported failed with the reason, never dropped silently", async () => {
  const server = await startJsonServer();
  const errors: IdemtrackError[] = [];
  const c = client(server.url, { retry: { maxRetries: 2 }, onError: (e) => errors.push(e) });
  for (let i = 0; i < 3; i++) server.faults.push({ kind: "status", status: 500, body: "db down" });
  trackMany(c, 2);
  const result = await c.flush();
  assert.equal(server.requests.length, 3);
  assert.equal(result.status, "fail");
  assert.match(result.failedRecords[0]!.error, /gave up after 2 retries: db down/);
  assert.equal(result.failedRecords[0]!.code, 500);
  assert.equal(errors.length, 1);
  assert.equal(c.stats().failed, 2);
  assert.equal(await c.close().then((s) => s.failed), 2);
  await server.close();
});

Deno.test("after a partial success only the failed retryable events are re-sent", async () => {
  const server = await startJsonServer();
  const c = client(server.url);
  server.rejectEvent("evt-1-key", {
    code: "throttled",
    reason: "try again",
    retryable: true,
    times: 1,
  });
  server.rejectEvent("evt-2-key", { code: "invalid_field", reason: "bad total", retryable: false });
  trackMany(c, 4);
  const result = await c.flush();
  assert.equal(result.status, "partial");
  assert.equal(result.success, 3);
  assert.deepEqual(result.failedRecords.map((f) => [f.key, f.code, f.error]), [
    ["evt-2-key", "invalid_field", "bad total"],
  ]);
  assert.deepEqual(
    server.requests.map((r) => r.events.map((e) => e.idempotency_key)),
    [["evt-0-key", "evt-1-key", "evt-2-key", "evt-3-key"], ["evt-1-key"]],
  );
  assert.notEqual(server.requests[1]!.key, server.requests[0]!.key, "new membership, new key");
  await c.close();
  await server.close();
});

Deno.test("rateLimit spaces requests by the token bucket", async () => {
  const server = await startJsonServer();
  const clock = new ManualClock();
  const c = client(server.url, {
    clock,
    maxBatchEvents: 1,
    rateLimit: { requestsPerSecond: 1, burst: 1 },
  });
  trackMany(c, 2);
  const flushed = c.flush();
  await server.waitForRequests(1);
  await settle();
  clock.advance(999);
  await settle();
  assert.equal(server.requests.length, 1);
  clock.advance(1);
  await flushed;
  assert.equal(server.requests.length, 2);
  await c.close();
  await server.close();
});

Deno.test("events retried after a partial success keep their own bytes, not the 1 MB slabs of their first batch", async () => {
  const server = await startJsonServer();
  const c = client(server.url, { retry: { maxRetries: 1, backoffBaseMs: 1, backoffCapMs: 1 } });
  // Retryable at first, then failed for good: the failure report shows the bytes that were retried.
  server.rejectEvent("evt-1-key", { code: "throttled", reason: "try again", retryable: true });
  server.rejectEvent("evt-3-key", { code: "throttled", reason: "try again", retryable: true });
  trackMany(c, 5);
  const result = await c.flush();
  assert.deepEqual(result.failedRecords.map((f) => f.key), ["evt-1-key", "evt-3-key"]);
  const [first, second] = result.failedRecords.map((f) => f.data);
  // One small buffer for both, not a view into a shared 1 MB slab (which would stay alive for
  // as long as they retry), and the bytes are still the events as sent.
  assert.equal(first!.buffer, second!.buffer);
  assert.equal(first!.buffer.byteLength, first!.length + second!.length);
  const sent = server.requests[0]!.events;
  assert.deepEqual(JSON.parse(new TextDecoder().decode(first)), sent[1]);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(second)), sent[3]);
  assert.deepEqual(
    server.requests.map((r) => r.events.map((e) => e.idempotency_key)),
    [
      ["evt-0-key", "evt-1-key", "evt-2-key", "evt-3-key", "evt-4-key"],
      ["evt-1-key", "evt-3-key"],
    ],
  );
  await c.close();
  await server.close();
});
