// The receiver against hostile or broken clients (issue 18 §1): bounded memory whatever a
// client sends, slow clients cut off, and the client's faults answered 4xx, never 500.
import assert from "node:assert/strict";
import { createGzip } from "node:zlib";
import { bearerAuth } from "../src/receiver/auth.ts";
import { createJsonRoute } from "../src/receiver/json_route.ts";
import { KvDedupeStore } from "../src/receiver/kv_dedupe_store.ts";
import { serveNode } from "../src/receiver/node_adapter.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { saasquatchRoute } from "../src/profiles/saasquatch/route.ts";
import { getfluxlyRoutes } from "../src/profiles/getfluxly/route.ts";
import {
  BATCH_PATH,
  batchRequest,
  recordingSink,
  startChildReceiver,
  wireEvent,
  withServer,
} from "./_receiver_fixtures.ts";

const MB = 1024 * 1024;
const encoder = new TextEncoder();

/** A gzip body of `inflated` zero bytes (built in 1 MiB steps, never held whole). */
async function gzipBomb(inflated: number): Promise<Uint8Array> {
  const gzip = createGzip({ level: 9 });
  const parts: Uint8Array[] = [];
  gzip.on("data", (chunk: Uint8Array) => parts.push(chunk));
  const ended = new Promise((resolve) => gzip.on("end", resolve));
  const zeros = new Uint8Array(MB);
  for (let written = 0; written < inflated; written += MB) {
    if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once("drain", resolve));
  }
  gzip.end();
  await ended;
  return new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer());
}

/** Sends raw bytes on a new connection; returns the connection for reading the answer. */
async function rawConnection(url: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  conn.setNoDelay(true);
  return conn;
}

/** Reads until the peer closes or `timeoutMs` passes; returns the text read and whether it closed. */
async function readAnswer(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<{ text: string; closed: boolean }> {
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    while (true) {
      const n = await Promise.race([conn.read(buffer).catch(() => null), timeout]);
      if (n === "timeout") return { text, closed: false };
      if (n === null) return { text, closed: true };
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
}

function requestHead(url: string, headers: Record<string, string>): string {
  const { host } = new URL(url);
  const lines = Object.entries({ host, "content-type": "application/json", ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`);
  return `POST ${BATCH_PATH} HTTP/1.1\r\n${lines.join("")}\r\n`;
}

Deno.test("a gzip bomb inflating to 500 MiB is refused 413 while the process stays under 250 MB", async () => {
  const bomb = await gzipBomb(500 * MB);
  assert.ok(bomb.byteLength < 512 * 1024, `the bomb is ${bomb.byteLength} bytes`);
  const child = await startChildReceiver();
  try {
    const statuses = await Promise.all([0, 1].map(async () => {
      const response = await fetch(`${child.url}${BATCH_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
        body: bomb as BodyInit,
      });
      await response.body?.cancel();
      return response.status;
    }));
    assert.deepEqual(statuses, [413, 413]);
    const peak = await child.peakRss();
    assert.ok(peak < 250 * MB, `peak RSS ${Math.round(peak / MB)} MB`);
  } finally {
    await child.stop();
  }
});

Deno.test("credentials in headers are checked before the body is read: a 401 pulls nothing", async () => {
  const receiver = createReceiver({
    routes: [createJsonRoute({ auth: bearerAuth({ tokens: { "token-of-acme": "acme" } }) })],
    sink: recordingSink(),
    onError: () => {},
  });
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(1024));
    },
  }, { highWaterMark: 0 });
  const response = await receiver(
    new Request(`http://localhost${BATCH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer wrong" },
      body,
      duplex: "half",
    } as RequestInit),
  );
  assert.equal(response.status, 401);
  assert.equal(pulled, 0);
});

Deno.test("a body sent one byte per packet on 10 connections costs its size, not a buffer per byte", async () => {
  const child = await startChildReceiver();
  try {
    const before = await child.peakRss();
    const body = encoder.encode(JSON.stringify({ events: [wireEvent(1)] }).padEnd(1000, " "));
    const statuses = await Promise.all(Array.from({ length: 10 }, async () => {
      const conn = await rawConnection(child.url);
      try {
        await conn.write(encoder.encode(requestHead(child.url, { "content-length": "1000" })));
        for (const byte of body) {
          await conn.write(Uint8Array.of(byte));
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
        const { text } = await readAnswer(conn, 10_000);
        return text.split("\r\n", 1)[0];
      } finally {
        conn.close();
      }
    }));
    assert.deepEqual(new Set(statuses), new Set(["HTTP/1.1 200 OK"]));
    const growth = (await child.peakRss()) - before;
    assert.ok(growth < 100 * MB, `RSS grew by ${Math.round(growth / MB)} MB`);
  } finally {
    await child.stop();
  }
});

for (const server of ["Deno.serve", "serveNode"] as const) {
  Deno.test(`${server}: a client that stops sending its body is answered 408 after bodyTimeoutMs`, async () => {
    const receiver = createReceiver({
      sink: recordingSink(),
      bodyTimeoutMs: 300,
      onError: () => {},
    });
    const check = async (base: string) => {
      const conn = await rawConnection(base);
      try {
        await conn.write(encoder.encode(requestHead(base, { "content-length": "100" }) + '{"ev'));
        const { text, closed } = await readAnswer(conn, server === "serveNode" ? 3_000 : 1_000);
        assert.match(text, /^HTTP\/1\.1 408 /);
        assert.match(text, /body_timeout/);
        // Deno.serve keeps the connection open for the rest of the body whatever the handler
        // answers (docs/receiver.md); node:http closes it as the answer asks.
        if (server === "serveNode") assert.ok(closed, "the connection was closed");
      } finally {
        conn.close();
      }
      assert.equal(receiver.stats.timedOut, 1);
      assert.equal(receiver.stats.inFlight, 0);
    };
    if (server === "Deno.serve") await withServer(receiver, check);
    else {
      const served = await serveNode(receiver, { port: 0 });
      try {
        await check(served.url);
      } finally {
        await served.close();
      }
    }
  });
}

Deno.test("past maxConcurrentRequests a request is answered 503 with Retry-After before its body is read", async () => {
  const sink = recordingSink();
  const statuses: number[] = [];
  const receiver = createReceiver({
    sink,
    bodyTimeoutMs: 1_000,
    maxConcurrentRequests: 2,
    onError: () => {},
    onRequest: (report) => statuses.push(report.status),
  });
  await withServer(receiver, async (base) => {
    const stalled = await Promise.all([0, 1].map(async () => {
      const conn = await rawConnection(base);
      await conn.write(encoder.encode(requestHead(base, { "content-length": "100" }) + "{"));
      return conn;
    }));
    try {
      // Both stalled requests are being handled (reading their body) before the third comes.
      for (let i = 0; i < 100 && receiver.stats.inFlight < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const refused = await fetch(base + BATCH_PATH, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ events: [wireEvent(1)] }),
      });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("retry-after"), "1");
      await refused.body?.cancel();
      assert.equal(receiver.stats.overloaded, 1);
      assert.deepEqual(statuses, [503], "the refusal is reported like any answer");
      for (const conn of stalled) assert.match((await readAnswer(conn, 5_000)).text, / 408 /);
      const later = await fetch(base + BATCH_PATH, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ events: [wireEvent(1)] }),
      });
      assert.equal(later.status, 200);
      await later.body?.cancel();
      assert.equal(sink.events.length, 1);
    } finally {
      for (const conn of stalled) conn.close();
    }
  });
});

Deno.test("serveNode under Deno answers a chunked body over the cap 413 and keeps serving", async () => {
  const receiver = createReceiver({ sink: recordingSink(), maxBodyBytes: 1024, onError: () => {} });
  const served = await serveNode(receiver, { port: 0 });
  try {
    let sent = 0;
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 64) return controller.close();
        sent++;
        controller.enqueue(new Uint8Array(4096).fill(0x20));
      },
    });
    const response = await fetch(served.url + BATCH_PATH, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chunked,
      signal: AbortSignal.timeout(10_000),
    }).catch((error) => error as Error);
    // The server may close the connection before the whole body is sent: either is fine.
    if (response instanceof Response) {
      assert.equal(response.status, 413);
      await response.body?.cancel();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await fetch(served.url + BATCH_PATH, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ events: [wireEvent(1)] }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(next.status, 200);
    await next.body?.cancel();
  } finally {
    await served.close();
  }
});

Deno.test("SaaSquatch fields nested 5 000 deep are answered 400, not 500", async () => {
  const errors: unknown[] = [];
  const receiver = createReceiver({
    routes: [saasquatchRoute({ apiKeys: { t1: "KEY" } })],
    sink: recordingSink(),
    onError: (error) => errors.push(error),
  });
  let fields = "1";
  for (let i = 0; i < 5_000; i++) fields = `{"a":${fields}}`;
  const response = await receiver(
    new Request("http://localhost/api/v1/t1/open/account/u/user/u/events", {
      method: "POST",
      headers: { authorization: `Basic ${btoa(":KEY")}`, "content-type": "application/json" },
      body: `{"userId":"u","accountId":"u","events":[{"key":"k","fields":${fields}}]}`,
    }),
  );
  assert.equal(response.status, 400);
  assert.match(await response.text(), /nests too deeply/);
  assert.deepEqual(errors, []);
});

Deno.test("a body shorter than its Content-Length is answered 400 and nothing is logged", async () => {
  const errors: unknown[] = [];
  const receiver = createReceiver({
    sink: recordingSink(),
    onError: (error) => errors.push(error),
  });
  await withServer(receiver, async (base) => {
    const conn = await rawConnection(base);
    try {
      await conn.write(
        encoder.encode(requestHead(base, { "content-length": "100" }) + '{"events"'),
      );
      await conn.closeWrite();
      const { text } = await readAnswer(conn, 5_000);
      // The answer may be lost when the server drops the half-closed connection; never a 500.
      assert.doesNotMatch(text, /^HTTP\/1\.1 5/);
      if (text !== "") assert.match(text, /^HTTP\/1\.1 400 /);
    } finally {
      conn.close();
    }
    for (let i = 0; i < 50 && receiver.stats.inFlight > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
  assert.deepEqual(errors, []);
});

Deno.test("a 3 000-character GetFluxly request key with the KV store is answered 400", async () => {
  const store = await KvDedupeStore.open(":memory:");
  const errors: unknown[] = [];
  const receiver = createReceiver({
    routes: getfluxlyRoutes({ tokens: { gflux_secret_x: "t1" }, rateLimit: false }),
    sink: recordingSink(),
    store,
    onError: (error) => errors.push(error),
  });
  try {
    const response = await receiver(
      new Request("http://localhost/v1/events/batch", {
        method: "POST",
        headers: {
          authorization: "Bearer gflux_secret_x",
          "content-type": "application/json",
          "x-idempotency-key": "k".repeat(3_000),
        },
        body: JSON.stringify({ events: [{ event: "signup", user_id: "u1" }] }),
      }),
    );
    assert.equal(response.status, 400);
    assert.match(await response.text(), /3000 characters long: at most 255/);
    assert.deepEqual(errors, []);
  } finally {
    await receiver.close();
  }
});

Deno.test("an event key over maxKeyLength is rejected with its reason and the rest accepted", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({ sink, maxKeyLength: 40, onError: () => {} });
  const response = await receiver(batchRequest({
    events: [wireEvent(1), wireEvent(2, { idempotency_key: "k".repeat(41) })],
  }));
  const answer = await response.json();
  assert.equal(answer.accepted, 1);
  assert.equal(answer.results[1].code, "invalid_idempotency_key");
  assert.match(answer.results[1].reason, /41 characters long: at most 40/);
  assert.equal(sink.events.length, 1);
});

Deno.test("with requireContentLength a chunked upload is refused 411 before its body is read", async () => {
  const receiver = createReceiver({
    sink: recordingSink(),
    requireContentLength: true,
    onError: () => {},
  });
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(Uint8Array.of(0x20));
    },
  }, { highWaterMark: 0 });
  const response = await receiver(
    new Request(`http://localhost${BATCH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit),
  );
  assert.equal(response.status, 411);
  assert.equal((await response.json()).error, "length_required");
  assert.equal(pulled, 0);
  await withServer(receiver, async (base) => {
    // fetch() sends a known-length body with its Content-Length.
    const withLength = await fetch(batchRequest({ events: [wireEvent(1)] }, { base }));
    assert.equal(withLength.status, 200);
    await withLength.body?.cancel();
  });
});
