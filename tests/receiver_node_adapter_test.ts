import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { serveNode } from "../src/receiver/node_adapter.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { BATCH_PATH, recordingSink, wireEvent } from "./_receiver_fixtures.ts";

/** Posts with node:http, so the request really crosses node:http on both ends. */
function post(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on(
        "end",
        () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

Deno.test("serveNode() runs a receiver on node:http: accepts, de-duplicates and answers errors", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({ sink, maxBodyBytes: 8 * 1024 });
  const served = await serveNode(receiver, { port: 0 });
  try {
    const url = `${served.url}${BATCH_PATH}`;
    const headers = { "content-type": "application/json", "x-idempotency-key": "batch-0001" };
    const body = JSON.stringify({ events: [wireEvent(1), wireEvent(2)] });
    const first = await post(url, body, headers);
    assert.equal(first.status, 200);
    assert.equal(JSON.parse(first.body).accepted, 2);
    assert.match(String(first.headers["content-type"]), /application\/json/);

    const again = await fetch(url, { method: "POST", headers, body });
    assert.equal(again.status, 409);
    assert.equal((await again.json()).error, "duplicate");

    const big = JSON.stringify({ events: Array.from({ length: 100 }, (_, i) => wireEvent(i)) });
    assert.equal((await post(url, big, { "content-type": "application/json" })).status, 413);
    const get = await fetch(url);
    assert.equal(get.status, 405);
    await get.body?.cancel();
    assert.equal((await post(`${served.url}/nope`, "{}", headers)).status, 404);
  } finally {
    await served.close();
  }
  assert.deepEqual(sink.events.map((e) => e.key), ["evt-00000001", "evt-00000002"]);
});

Deno.test("serveNode() passes the client address and streams the response body", async () => {
  let seen: unknown;
  const served = await serveNode((_request, info) => {
    seen = (info?.remoteAddr as { hostname?: string }).hostname;
    const stream = ReadableStream.from(
      ["a", "b", "c"].map((s) => new TextEncoder().encode(s.repeat(50_000))),
    );
    return Promise.resolve(new Response(stream, { status: 201, headers: { "x-test": "yes" } }));
  }, { port: 0 });
  try {
    const response = await fetch(served.url);
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("x-test"), "yes");
    const text = await response.text();
    assert.equal(text.length, 150_000);
    assert.ok(text.endsWith("c"));
    assert.match(String(seen), /127\.0\.0\.1/);
  } finally {
    await served.close();
  }
});
