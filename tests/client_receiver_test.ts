// The Client against the real receiver (createReceiver + createJsonRoute) over
// loopback HTTP: the behaviours that depend on the server's semantics.
import assert from "node:assert/strict";
import { Client, type ClientOptions } from "../src/client.ts";
import type { RetryOptions } from "../src/kit/retry.ts";
import type { IdemtrackError } from "../src/errors/idemtrack_error.ts";
import { createJsonRoute } from "../src/receiver/json_route.ts";
import { type FaultServer, type SeenRequest, startFaultServer } from "./_fault_server.ts";
import { waitFor } from "./_helpers.ts";

const FAST: Partial<ClientOptions> = {
  flushIntervalMs: 0,
  flushAt: 1_000,
  retry: { backoffBaseMs: 1, backoffCapMs: 5, retryAfterFloorMs: 1, retryAfterCapMs: 10 },
  exitHook: false,
};

const eventsOf = (request: SeenRequest): Array<Record<string, unknown>> =>
  JSON.parse(request.text).events;
const keysOf = (request: SeenRequest) => eventsOf(request).map((event) => event.idempotency_key);
const errorOf = (request: SeenRequest) => (JSON.parse(request.answer) as { error?: string }).error;

function sinkCounts(server: FaultServer): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { key } of server.accepted) counts.set(key!, (counts.get(key!) ?? 0) + 1);
  return counts;
}

/** A gate that holds the first sink write until released. */
function gate(): { wait: (index: number) => Promise<void>; release: () => void } {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => release = resolve);
  return { wait: (index) => index === 0 ? opened : Promise.resolve(), release };
}

Deno.test("a 409 duplicate for a request whose answer was lost counts as delivered", async () => {
  const server = await startFaultServer([createJsonRoute()], {
    faultOf: (index) => index === 0 ? "reset" : undefined,
  });
  try {
    const client = new Client({ ...FAST, endpoint: server.origin });
    const keys = Array.from(
      { length: 5 },
      (_, n) => client.track("order_paid", { n }, { userId: "u" }),
    );
    const result = await client.flush();
    await client.close();
    assert.deepEqual({ status: result.status, success: result.success }, {
      status: "success",
      success: 5,
    });
    assert.deepEqual(server.seen.map((request) => request.status), [200, 409]);
    assert.equal(errorOf(server.seen[1]!), "duplicate");
    assert.equal(
      server.seen[1]!.headers.get("x-idempotency-key"),
      server.seen[0]!.headers.get("x-idempotency-key"),
    );
    assert.deepEqual([...sinkCounts(server)].sort(), keys.map((key) => [key, 1]).sort());
    assert.equal(client.stats().failed, 0);
    assert.equal(client.stats().duplicates, 5, "the 409's records count as duplicates");
  } finally {
    await server.close();
  }
});

Deno.test("a 409 in_progress is retried until the first request completes", async () => {
  const held = gate();
  const server = await startFaultServer([createJsonRoute()], { beforeWrite: held.wait });
  try {
    // The first attempt times out while the receiver still holds it.
    const client = new Client({
      ...FAST,
      endpoint: server.origin,
      timeoutMs: 50,
      retry: { ...FAST.retry as RetryOptions, maxRetries: 50 },
    });
    const keys = Array.from(
      { length: 3 },
      (_, n) => client.track("order_paid", { n }, { userId: "u" }),
    );
    const flushed = client.flush();
    await waitFor(
      () =>
        server.seen.some((request) => request.status === 409 && errorOf(request) === "in_progress"),
      "a 409 in_progress answer",
    );
    held.release();
    const result = await flushed;
    await client.close();
    assert.deepEqual({ status: result.status, success: result.success }, {
      status: "success",
      success: 3,
    });
    const requestKeys = new Set(
      server.seen.map((request) => request.headers.get("x-idempotency-key")),
    );
    assert.equal(requestKeys.size, 1);
    assert.deepEqual([...sinkCounts(server)].sort(), keys.map((key) => [key, 1]).sort());
  } finally {
    await server.close();
  }
});

Deno.test("a 422 key reuse is reported as a permanent failure with the server's reason", async () => {
  const server = await startFaultServer([createJsonRoute()]);
  try {
    const errors: IdemtrackError[] = [];
    const client = new Client({
      ...FAST,
      endpoint: server.origin,
      onError: (error) => errors.push(error),
      // A caller that pins the request key reuses it for a different body.
      hooks: {
        beforeRequest: [({ request }) => ({
          ...request,
          headers: { ...request.headers, "x-idempotency-key": "pinned-request-key" },
        })],
      },
    });
    client.track("order_paid", { n: 1 }, { userId: "u" });
    assert.equal((await client.flush()).status, "success");
    const second = client.track("order_paid", { n: 2 }, { userId: "u" });
    const result = await client.flush();
    await client.close();
    assert.equal(result.status, "fail");
    assert.equal(result.failedRecords.length, 1);
    const [failed] = result.failedRecords;
    assert.equal(failed!.key, second);
    assert.equal(failed!.code, 422);
    assert.match(failed!.error, /idempotency_key_reused/);
    assert.match(failed!.error, /already used with a different body/);
    assert.equal(server.seen.length, 2, "a permanent failure is not retried");
    assert.equal(client.stats().failed, 1);
    assert.ok(errors.some((error) => /idempotency_key_reused/.test(error.message)));
    assert.equal(server.accepted.length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("after a partial success only the failed retryable records are sent again", async () => {
  const held = gate();
  const server = await startFaultServer([createJsonRoute()], { beforeWrite: held.wait });
  try {
    const client = new Client({
      ...FAST,
      endpoint: server.origin,
      flushAt: 2,
      retry: { ...FAST.retry as RetryOptions, maxRetries: 100 },
    });
    // Request 1 holds key "shared-key-01" in progress; request 2 carries it again
    // with another event, so the receiver rejects only that record as retryable.
    client.track("order_paid", { n: 1 }, { userId: "u", idempotencyKey: "shared-key-01" });
    const first = client.track("order_paid", { n: 2 }, { userId: "u" });
    await waitFor(() => server.seen.length === 1, "the first request");
    const other = client.track("order_paid", { n: 3 }, { userId: "u" });
    client.track("order_paid", { n: 1 }, { userId: "u", idempotencyKey: "shared-key-01" });
    await waitFor(() => server.seen[1]?.status === 200, "the partial answer");
    const partial = JSON.parse(server.seen[1]!.answer);
    assert.deepEqual(
      partial.results.map((result: { status: string; code?: string }) =>
        result.code ?? result.status
      ),
      ["accepted", "in_progress"],
    );
    held.release();
    const result = await client.flush();
    await client.close();
    assert.equal(result.status, "success");
    const retries = server.seen.slice(2);
    assert.ok(retries.length > 0);
    for (const retry of retries) assert.deepEqual(keysOf(retry), ["shared-key-01"]);
    assert.deepEqual(
      [...sinkCounts(server)].sort(),
      [["shared-key-01", 1], [first, 1], [other, 1]].sort(),
    );
  } finally {
    await server.close();
  }
});

Deno.test("a 413 from the receiver splits the batch until every part fits", async () => {
  const server = await startFaultServer([createJsonRoute()], {
    receiver: { maxEventsPerRequest: 10 },
  });
  try {
    const client = new Client({ ...FAST, endpoint: server.origin });
    const keys = Array.from(
      { length: 25 },
      (_, n) => client.track("order_paid", { n }, { userId: "u" }),
    );
    const result = await client.flush();
    await client.close();
    assert.deepEqual({ status: result.status, success: result.success }, {
      status: "success",
      success: 25,
    });
    assert.equal(server.seen[0]!.status, 413);
    assert.equal(errorOf(server.seen[0]!), "too_many_events");
    const accepted = server.seen.filter((request) => request.status === 200);
    assert.ok(accepted.every((request) => eventsOf(request).length <= 10));
    assert.deepEqual([...sinkCounts(server)].sort(), keys.map((key) => [key, 1]).sort());
  } finally {
    await server.close();
  }
});
