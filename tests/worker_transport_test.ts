// The worker transport over real HTTP on loopback: what it sends and answers, how it moves or
// copies bodies, its concurrency, timeouts and cancellation, and the point of it: with the
// Client, requests leave while the main thread is still inside a synchronous loop of track().
import assert from "node:assert/strict";
import { Client } from "../src/client.ts";
import type { TransportRequest } from "../src/ports/transport.ts";
import { workerTransport } from "../src/drivers/transport/worker_transport.ts";
import { transportTraits } from "../src/_util/internal.ts";
import { startPortPrinter } from "../bench/_harness.ts";
import { startJsonServer } from "./_json_server.ts";
import { waitFor } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the probe server does with a request, by its `x-name` header. */
type Plan = { delayMs?: number; hang?: boolean; redirect?: boolean };

/** A loopback server that records raw requests and counts those in flight at once. */
interface ProbeServer {
  readonly url: string;
  /** Requests in arrival order: `x-name`, method, headers and raw body bytes. */
  readonly seen: Array<{ name: string; method: string; headers: Headers; body: Uint8Array }>;
  /** Names of requests whose connection the client dropped while the server held them. */
  readonly aborted: string[];
  /** Requests being handled now, and the most ever at once. */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

function startProbeServer(plan: (name: string) => Plan = () => ({})): Promise<ProbeServer> {
  const hung = new Set<() => void>();
  let httpServer: Deno.HttpServer;
  const probe: ProbeServer = {
    url: "",
    seen: [],
    aborted: [],
    inFlight: 0,
    maxInFlight: 0,
    async close() {
      for (const release of hung) release();
      await httpServer.shutdown();
    },
  };
  const handle = async (request: Request): Promise<Response> => {
    const name = request.headers.get("x-name") ?? "";
    probe.inFlight++;
    probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight);
    try {
      const body = new Uint8Array(await request.arrayBuffer());
      probe.seen.push({ name, method: request.method, headers: request.headers, body });
      const { delayMs = 0, hang = false, redirect = false } = plan(name);
      if (redirect && !request.url.endsWith("?moved")) {
        return new Response(null, { status: 307, headers: { location: `${probe.url}?moved` } });
      }
      if (hang) {
        // Held until the client drops the connection, or close() releases it. (Deno.serve prints
        // a "legacy behavior" notice, once per process, when a watched request.signal aborts.)
        const listening = new AbortController();
        const dropped = await new Promise<boolean>((resolve) => {
          hung.add(() => resolve(false));
          request.signal.addEventListener("abort", () => resolve(true), listening);
        });
        listening.abort();
        if (dropped) probe.aborted.push(name);
      } else {
        await delay(delayMs);
      }
      return new Response(`answer to ${name}`, { headers: { "x-answered": name } });
    } finally {
      probe.inFlight--;
    }
  };
  return new Promise((resolve) => {
    httpServer = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        Object.assign(probe, { url: `http://127.0.0.1:${port}/probe` });
        resolve(probe);
      },
    }, handle);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A request to the probe server named `name` (echoed in `x-name`). */
function probeRequest(
  probe: ProbeServer,
  name: string,
  extra: Partial<TransportRequest> = {},
): TransportRequest {
  return {
    url: probe.url,
    method: "POST",
    headers: { "x-name": name },
    body: encoder.encode(`body of ${name}`),
    ...extra,
  };
}

/** Awaits a promise that must reject, and returns its reason. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the promise to reject");
}

Deno.test("workerTransport() sends a request and resolves with status, headers and body", async () => {
  const server = await startJsonServer();
  const transport = workerTransport();
  try {
    const event = { type: "track", event: "order_paid", idempotency_key: "evt-1", user_id: "u1" };
    const text = JSON.stringify({ events: [event] });
    const body = encoder.encode(text);
    const response = await transport({
      url: `${server.url}/v1/events/batch`,
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-idempotency-key": "req-1",
        "x-app": "demo",
      },
      body,
    });
    assert.equal(response.status, 200);
    assert.ok(response.headers instanceof Headers);
    assert.match(response.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(JSON.parse(response.body), {
      accepted: 1,
      duplicates: 0,
      rejected: 0,
      results: [{ status: "accepted" }],
    });
    assert.equal(server.requests.length, 1);
    const [seen] = server.requests;
    assert.equal(seen!.key, "req-1");
    assert.equal(seen!.headers.get("x-app"), "demo");
    assert.match(seen!.headers.get("content-type")!, /^application\/json/);
    assert.equal(seen!.bytes, encoder.encode(text).byteLength);
    assert.deepEqual(seen!.events, [event]);
    assert.deepEqual(server.accepted, [event]);

    // An HTTP error is an answer: it resolves, with the server's status, headers and body.
    server.faults.push({
      kind: "status",
      status: 503,
      headers: { "retry-after": "7" },
      body: "try later",
    });
    const busy = await transport({
      url: `${server.url}/v1/events/batch`,
      method: "POST",
      headers: { "x-idempotency-key": "req-2" },
      body: encoder.encode(text),
    });
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get("retry-after"), "7");
    assert.equal(busy.body, "try later");
    assert.equal(server.requests.length, 2);
  } finally {
    transport.close?.();
    await server.close();
  }
});

Deno.test("workerTransport() moves a body that owns its buffer and copies a view into a larger one", async () => {
  const probe = await startProbeServer();
  const transport = workerTransport();
  try {
    const owned = encoder.encode('{"events":["owned ✓"]}');
    const ownedCopy = owned.slice();
    const moving = transport({ ...probeRequest(probe, "owned"), body: owned });
    assert.equal(owned.byteLength, 0, "transferred to the worker: the caller's view is empty");
    assert.equal(owned.buffer.byteLength, 0);
    const movedAnswer = await moving;
    assert.equal(movedAnswer.body, "answer to owned");

    const large = new Uint8Array(64);
    large.fill(0x2a);
    const text = encoder.encode('{"events":["view"]}');
    large.set(text, 10);
    const view = large.subarray(10, 10 + text.byteLength);
    const largeBefore = large.slice();
    const copying = transport({ ...probeRequest(probe, "view"), body: view });
    assert.equal(view.byteLength, text.byteLength, "copied: the caller's view is untouched");
    assert.equal(large.buffer.byteLength, 64);
    assert.deepEqual(large, largeBefore);
    assert.equal((await copying).body, "answer to view");
    assert.deepEqual(large, largeBefore);

    assert.deepEqual(probe.seen.map((s) => s.name), ["owned", "view"]);
    assert.deepEqual(probe.seen[0]!.body, ownedCopy, "the moved body arrived intact");
    assert.deepEqual(probe.seen[1]!.body, text, "the copied body arrived intact");
    assert.equal(probe.seen[0]!.method, "POST");
  } finally {
    transport.close?.();
    await probe.close();
  }
});

Deno.test("workerTransport() sends the whole body again after a 307 redirect", async () => {
  // In Deno the worker hands fetch() its body as the copy fetch makes (see workerSource): a
  // redirect, which extracts the body again, must still find it intact.
  const probe = await startProbeServer((name) => ({ redirect: name === "moving" }));
  const transport = workerTransport();
  try {
    const body = encoder.encode(`{"events":["${"r".repeat(100_000)}"]}`);
    const sent = body.slice();
    const answer = await transport({ ...probeRequest(probe, "moving"), body });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "answer to moving");
    assert.equal(probe.seen.length, 2, "the first hop and the redirected one");
    for (const hop of probe.seen) assert.deepEqual(hop.body, sent);
  } finally {
    transport.close?.();
    await probe.close();
  }
});

Deno.test({
  name: "workerTransport() keeps no copy of a body once its request settled",
  // The child reads its peak RSS from /proc.
  ignore: Deno.build.os !== "linux",
  async fn() {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
      await r.arrayBuffer();
      return new Response("ok");
    });
    try {
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./_worker_body_child.ts", import.meta.url).pathname,
          `http://127.0.0.1:${server.addr.port}/`,
          "24",
          "4",
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      assert.ok(output.success, "the child failed");
      const { grewMb } = JSON.parse(decoder.decode(output.stdout));
      // 96 MB went out, one 4 MB body at a time. Measured: 18-22 MB; 78-82 MB when every body's
      // copy waited for the worker's GC.
      assert.ok(grewMb < 48, `peak RSS rose by ${grewMb.toFixed(1)} MB`);
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test("workerTransport() keeps at most `concurrency` requests on the network, in order", async () => {
  // concurrency 1: the first request is slow, the other two wait in the worker.
  const serial = await startProbeServer((name) => ({ delayMs: name === "a" ? 300 : 0 }));
  const one = workerTransport({ concurrency: 1 });
  try {
    const settled: string[] = [];
    const answers = await Promise.all(
      ["a", "b", "c"].map((name) =>
        one(probeRequest(serial, name)).then((response) => {
          settled.push(name);
          return response.body;
        })
      ),
    );
    assert.deepEqual(answers, ["answer to a", "answer to b", "answer to c"]);
    assert.deepEqual(settled, ["a", "b", "c"], "answers resolve in order");
    assert.deepEqual(serial.seen.map((s) => s.name), ["a", "b", "c"], "sent in order");
    assert.equal(serial.maxInFlight, 1);
  } finally {
    one.close?.();
    await serial.close();
  }

  // concurrency 2: three slow requests, two of them on the network at once.
  const parallel = await startProbeServer(() => ({ delayMs: 250 }));
  const two = workerTransport({ concurrency: 2 });
  try {
    const start = performance.now();
    const answers = await Promise.all(
      ["a", "b", "c"].map((name) => two(probeRequest(parallel, name)).then((r) => r.body)),
    );
    const elapsed = performance.now() - start;
    assert.deepEqual(answers, ["answer to a", "answer to b", "answer to c"]);
    assert.equal(parallel.maxInFlight, 2);
    assert.ok(elapsed >= 450, `the third waited for a free slot (${elapsed.toFixed(0)} ms)`);
  } finally {
    two.close?.();
    await parallel.close();
  }
});

Deno.test("workerTransport() times a request out from when its fetch starts, not while queued", async () => {
  const probe = await startProbeServer((name) => {
    if (name === "hang") return { hang: true };
    return { delayMs: name === "slow" ? 400 : 0 };
  });
  // A long idleMs: the worker's idle end must not be what drops the timed-out connection.
  const transport = workerTransport({ concurrency: 1, idleMs: 60_000 });
  try {
    const start = performance.now();
    const error = await rejection(transport(probeRequest(probe, "hang", { timeoutMs: 200 })));
    const elapsed = performance.now() - start;
    assert.ok(error instanceof Error);
    assert.equal(error.name, "TimeoutError");
    assert.ok(elapsed >= 190 && elapsed < 3000, `timed out after ${elapsed.toFixed(0)} ms`);
    await waitFor(() => probe.aborted.includes("hang"), "the worker to drop the timed-out request");

    // The second waits ~400 ms behind the first, more than its own timeout: it must still succeed.
    const slow = transport(probeRequest(probe, "slow", { timeoutMs: 5000 }));
    const queued = transport(probeRequest(probe, "queued", { timeoutMs: 300 }));
    assert.equal((await slow).body, "answer to slow");
    assert.equal((await queued).body, "answer to queued");
    assert.deepEqual(probe.seen.map((s) => s.name), ["hang", "slow", "queued"]);
  } finally {
    transport.close?.();
    await probe.close();
  }
});

Deno.test("workerTransport() rejects an aborted request with the reason and cancels it", async () => {
  const probe = await startProbeServer((name) => ({ hang: name === "first" }));
  // A long idleMs: the worker's idle end must not be what drops the aborted connection.
  const transport = workerTransport({ concurrency: 1, idleMs: 60_000 });
  try {
    const first = new AbortController();
    const second = new AbortController();
    const inFlight = transport(probeRequest(probe, "first", { signal: first.signal }));
    const queued = transport(probeRequest(probe, "second", { signal: second.signal }));
    await waitFor(() => probe.seen.length === 1, "the first request to reach the server");

    const queuedReason = new Error("not needed any more");
    second.abort(queuedReason);
    assert.equal(await rejection(queued), queuedReason);

    const inFlightReason = new DOMException("stop it", "AbortError");
    first.abort(inFlightReason);
    assert.equal(await rejection(inFlight), inFlightReason);
    await waitFor(() => probe.aborted.includes("first"), "the worker to drop the aborted fetch");

    // The worker goes on with the next request; the cancelled one was never sent.
    assert.equal((await transport(probeRequest(probe, "third"))).body, "answer to third");
    assert.deepEqual(probe.seen.map((s) => s.name), ["first", "third"]);

    // A signal aborted before the call rejects at once, and nothing is sent.
    const already = new AbortController();
    const early = new Error("too late");
    already.abort(early);
    assert.equal(
      await rejection(transport(probeRequest(probe, "never", { signal: already.signal }))),
      early,
    );
    assert.equal((await transport(probeRequest(probe, "fourth"))).body, "answer to fourth");
    assert.deepEqual(probe.seen.map((s) => s.name), ["first", "third", "fourth"]);
  } finally {
    transport.close?.();
    await probe.close();
  }
});

Deno.test("workerTransport() rejects with fetch's error when nothing listens on the port", async () => {
  const closed = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("unreachable"),
  );
  const { port } = closed.addr;
  await closed.shutdown();
  const transport = workerTransport();
  try {
    const error = await rejection(transport({
      url: `http://127.0.0.1:${port}/v1/events/batch`,
      method: "POST",
      headers: {},
      body: encoder.encode("{}"),
      timeoutMs: 5000,
    }));
    assert.ok(error instanceof Error);
    assert.notEqual(error.name, "TimeoutError");
    assert.equal(error.name, "TypeError", "fetch's own error name, carried over from the worker");
    assert.notEqual(error.message, "");
  } finally {
    transport.close?.();
  }
});

Deno.test("Client with workerTransport() delivers every event exactly once", async () => {
  const server = await startJsonServer();
  const client = new Client({
    endpoint: server.url,
    exitHook: false,
    transport: workerTransport(),
    maxBatchEvents: 50,
  });
  try {
    for (let i = 0; i < 500; i++) {
      client.track("row_imported", { i }, { userId: "u1", idempotencyKey: `row-key-${i}` });
    }
    const summary = await client.close({ timeoutMs: 5000 });
    assert.deepEqual(summary, { delivered: 500, duplicates: 0, failed: 0, dropped: 0, pending: 0 });
    assert.equal(server.accepted.length, 500);
    assert.equal(server.duplicates, 0);
    assert.deepEqual(
      new Set(server.accepted.map((e) => e.idempotency_key)),
      new Set(Array.from({ length: 500 }, (_, i) => `row-key-${i}`)),
    );
    assert.ok(server.requests.every((r) => r.events.length <= 50));
    assert.ok(server.requests.length >= 10);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("Client with workerTransport() retries after a 503 and after a timeout, with intact bodies", async () => {
  const server = await startJsonServer();
  // The first request is answered 503, the second never (until it times out in the worker).
  server.faults.push({ kind: "status", status: 503 }, { kind: "hang" });
  const client = new Client({
    endpoint: server.url,
    exitHook: false,
    transport: workerTransport(),
    maxBatchEvents: 50,
    timeoutMs: 300,
    retry: { backoffBaseMs: 1, backoffCapMs: 10, random: () => 0 },
  });
  try {
    for (let i = 0; i < 100; i++) {
      client.track("row_imported", { i }, { userId: "u1", idempotencyKey: `retry-key-${i}` });
    }
    const summary = await client.close({ timeoutMs: 5000 });
    assert.deepEqual(summary, { delivered: 100, duplicates: 0, failed: 0, dropped: 0, pending: 0 });
    assert.equal(client.stats().retried, 100, "both batches were sent twice");
    assert.equal(server.accepted.length, 100);
    assert.equal(server.duplicates, 0);
    assert.deepEqual(server.requests.map((r) => r.status).sort(), [0, 200, 200, 503]);
    // Each retry carried the same key and the same events: rebuilt, not an emptied moved body.
    const [refused, hung] = server.requests;
    for (const first of [refused!, hung!]) {
      const again = server.requests.filter((r) => r.key === first.key);
      assert.equal(again.length, 2);
      assert.equal(again[1]!.events.length, 50);
      assert.deepEqual(again[1]!.events, first.events);
    }
  } finally {
    await client.close();
    await server.close();
  }
});

/** The out-of-process json server's counters, read without yielding to the event loop. */
function statsSync(base: string): { accepted: number; duplicates: number; requests: number } {
  const output = new Deno.Command(Deno.execPath(), {
    args: ["eval", `const r = await fetch("${base}/stats"); console.log(await r.text())`],
    stdout: "piped",
    stderr: "inherit",
  }).outputSync();
  assert.ok(output.success, "the stats probe failed");
  return JSON.parse(decoder.decode(output.stdout));
}

Deno.test("Client with workerTransport() sends while the main thread is still in a synchronous loop", async () => {
  const receiver = await startPortPrinter([new URL("./_json_server.ts", import.meta.url).pathname]);
  let client: Client | undefined;
  try {
    const before = statsSync(receiver.base);
    client = new Client({
      endpoint: receiver.base,
      exitHook: false,
      transport: workerTransport(),
      maxBatchEvents: 100,
    });
    // From here to the first await, the event loop never runs: no main-thread fetch could start.
    for (let i = 0; i < 1000; i++) {
      client.track("row_imported", { i }, { userId: "u1", idempotencyKey: `busy-key-${i}` });
    }
    let during = statsSync(receiver.base);
    const start = performance.now();
    while (during.accepted - before.accepted < 100 && performance.now() - start < 10_000) {
      during = statsSync(receiver.base);
    }
    assert.ok(
      during.accepted - before.accepted >= 100,
      `accepted ${during.accepted - before.accepted} events before the loop yielded`,
    );

    const summary = await client.close({ timeoutMs: 8000 });
    assert.equal(summary.delivered, 1000);
    assert.equal(summary.failed, 0);
    const after = statsSync(receiver.base);
    assert.equal(after.accepted - before.accepted, 1000);
    assert.equal(after.duplicates - before.duplicates, 0);
  } finally {
    await client?.close();
    await receiver.stop();
  }
});

/**
 * Runs `code` in a child Deno (with the repo's config) and resolves with its exit and output;
 * fails if it has not exited by itself within `limitMs`.
 */
async function runChild(
  code: string,
  limitMs: number,
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../deno.json", import.meta.url).pathname, code],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const start = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<"limit">((resolve) => {
    timer = setTimeout(() => resolve("limit"), limitMs);
  });
  const output = child.output();
  const first = await Promise.race([output, limit]);
  clearTimeout(timer);
  if (first === "limit") {
    child.kill("SIGKILL");
    const killed = await output;
    assert.fail(
      `the child did not exit by itself within ${limitMs} ms: ${decoder.decode(killed.stdout)}${
        decoder.decode(killed.stderr)
      }`,
    );
  }
  return {
    code: first.code,
    stdout: decoder.decode(first.stdout),
    stderr: decoder.decode(first.stderr),
    ms: performance.now() - start,
  };
}

Deno.test("a process using workerTransport() exits by itself after close() or once idle", async () => {
  const server = await startJsonServer();
  const client = new URL("../src/client.ts", import.meta.url).href;
  const worker = new URL("../src/drivers/transport/worker_transport.ts", import.meta.url).href;
  try {
    const closing = await runChild(
      `import { Client } from "${client}";
import { workerTransport } from "${worker}";
const transport = workerTransport({ idleMs: 60_000 }); // only close() can end the worker in time
const client = new Client({ endpoint: "${server.url}", exitHook: false, transport });
for (let i = 0; i < 10; i++) client.track("child_event", { i }, { userId: "u1" });
console.log(JSON.stringify(await client.close()));`,
      10_000,
    );
    assert.equal(closing.code, 0, closing.stderr);
    assert.deepEqual(JSON.parse(closing.stdout), {
      delivered: 10,
      duplicates: 0,
      failed: 0,
      dropped: 0,
      pending: 0,
    });
    assert.equal(server.accepted.length, 10);

    // Without close(), the worker ends idleMs after the last answer, and the process with it.
    const idle = await runChild(
      `import { workerTransport } from "${worker}";
const transport = workerTransport({ idleMs: 100 });
const response = await transport({
  url: "${server.url}/v1/events/batch",
  method: "POST",
  headers: { "x-idempotency-key": "idle-1" },
  body: new TextEncoder().encode('{"events":[{"type":"track","event":"e","idempotency_key":"idle-e1"}]}'),
});
console.log(response.status);`,
      10_000,
    );
    assert.equal(idle.code, 0, idle.stderr);
    assert.equal(idle.stdout.trim(), "200");
    assert.equal(server.accepted.length, 11);
  } finally {
    await server.close();
  }
});

Deno.test("workerTransport() rejects invalid options with RangeError", () => {
  assert.throws(() => workerTransport({ concurrency: 0 }), {
    name: "RangeError",
    message:
      "Cannot create worker transport as 'concurrency' must be a positive integer: current value is 0",
  });
  assert.throws(() => workerTransport({ maxPending: 1.5 }), {
    name: "RangeError",
    message:
      "Cannot create worker transport as 'maxPending' must be a positive integer: current value is 1.5",
  });
  assert.throws(() => workerTransport({ idleMs: -1 }), {
    name: "RangeError",
    message:
      "Cannot create worker transport as 'idleMs' must be a non-negative number: current value is -1",
  });
  assert.throws(() => workerTransport({ idleMs: NaN }), RangeError);
  assert.throws(() => workerTransport({ idleMs: Infinity }), {
    name: "RangeError",
    message:
      "Cannot create worker transport as 'idleMs' must be a non-negative number: current value is Infinity",
  });
  assert.throws(() => workerTransport({ concurrency: Infinity }), RangeError);
  const transport = workerTransport({ concurrency: 3, maxPending: 7, idleMs: 0 });
  assert.equal(transportTraits(transport).maxPending, 7);
  assert.equal(transportTraits(workerTransport()).maxPending, 256);
  assert.equal(typeof transport.close, "function");
});

/** Settles `promise` into an outcome, or "still pending" after `ms` (the timer is cleared). */
async function within(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => resolve("still pending"), ms);
  });
  try {
    return await Promise.race([promise.then(() => "resolved", (error) => error), limit]);
  } finally {
    clearTimeout(timer);
  }
}

// A request that cannot be posted (here its body was already moved by an earlier send) fails
// alone; the worker stays in hand, so close() still ends it and the process can exit.
Deno.test({
  name: "workerTransport() rejects only a request it cannot post, and keeps its worker in hand",
  fn: async () => {
    const probe = await startProbeServer((name) => ({ delayMs: name === "slow" ? 300 : 0 }));
    const transport = workerTransport({ idleMs: 60_000 });
    try {
      const slow = transport(probeRequest(probe, "slow"));
      const request = probeRequest(probe, "moved");
      assert.equal((await transport(request)).body, "answer to moved");
      assert.equal(request.body.byteLength, 0);
      const error = await rejection(transport(request)); // its body is detached now
      assert.ok(error instanceof Error);
      const outcome = await within(slow, 3000);
      assert.equal(outcome, "resolved", `the other pending request: ${String(outcome)}`);
      assert.equal((await slow).body, "answer to slow");
    } finally {
      transport.close?.();
      await probe.close();
    }
    // The same in a child process: after close() it must exit by itself.
    const server = await startJsonServer();
    try {
      const worker = new URL("../src/drivers/transport/worker_transport.ts", import.meta.url).href;
      const child = await runChild(
        `import { workerTransport } from "${worker}";
const transport = workerTransport({ idleMs: 60_000 });
const request = {
  url: "${server.url}/v1/events/batch",
  method: "POST",
  headers: {},
  body: new TextEncoder().encode("{}"),
};
await transport(request);
await transport(request).catch(() => {}); // its body was moved by the first send
transport.close();
console.log("closed");`,
        5000,
      );
      assert.equal(child.stdout.trim(), "closed");
    } finally {
      await server.close();
    }
  },
});

// The Client closes its transport only after every request settled; a direct caller may not.
Deno.test({
  name: "workerTransport().close() rejects the requests still pending",
  fn: async () => {
    const probe = await startProbeServer(() => ({ hang: true }));
    const transport = workerTransport();
    try {
      const pending = transport(probeRequest(probe, "pending"));
      await waitFor(() => probe.seen.length === 1, "the request to reach the server");
      transport.close?.();
      const outcome = await within(pending, 2000);
      assert.ok(outcome instanceof Error, `after close() the request is ${String(outcome)}`);
    } finally {
      await probe.close();
    }
  },
});
