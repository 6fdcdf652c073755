// What node:http enforces for serveNode on Node (Deno's node:http ignores these options, see
// docs/receiver.md): slow headers cut off, connections capped. Portable (node: APIs only), so
// these run for real in the npm package's Node tests; under Deno they say so and return.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import process from "node:process";
import { serveNode } from "../src/receiver/node_adapter.ts";

const UNDER_DENO = typeof process.versions.deno === "string";

function skipUnderDeno(): boolean {
  if (UNDER_DENO) {
    console.log(
      "skipped under Deno (its node:http ignores the option); runs in `npm test` on Node",
    );
  }
  return UNDER_DENO;
}

/** Opens a connection and collects what the server sends until it closes it (or 5 s). */
async function openSocket(url: string): Promise<{ socket: Socket; closed: Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, "connect");
  let text = "";
  socket.on("data", (chunk) => (text += chunk));
  socket.on("error", () => {});
  const closed = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after 5 s: ${text}`)), 5_000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  closed.catch(() => {});
  return { socket, closed };
}

Deno.test("serveNode on Node answers 408 and closes a connection whose headers take longer than headersTimeoutMs", async () => {
  if (skipUnderDeno()) return;
  const served = await serveNode(() => Promise.resolve(new Response("ok")), {
    port: 0,
    headersTimeoutMs: 300,
    requestTimeoutMs: 600,
  });
  try {
    const { socket, closed } = await openSocket(served.url);
    const started = Date.now();
    socket.write("POST /v1/events/batch HTTP/1.1\r\nHost: x\r\n");
    const text = await closed;
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 3_000, `closed after ${Date.now() - started} ms`);
  } finally {
    await served.close();
  }
});

Deno.test("serveNode on Node closes connections past maxConnections at once", async () => {
  if (skipUnderDeno()) return;
  const served = await serveNode(() => Promise.resolve(new Response("ok")), {
    port: 0,
    maxConnections: 2,
  });
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) sockets.push((await openSocket(served.url)).socket);
    const third = await openSocket(served.url);
    sockets.push(third.socket);
    assert.equal(await third.closed, "", "the third connection is closed without an answer");
    // Once a held connection goes, the server takes requests again.
    sockets.shift()!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const response = await fetch(served.url, { signal: AbortSignal.timeout(5_000) });
    assert.equal(await response.text(), "ok");
  } finally {
    for (const socket of sockets) socket.destroy();
    await served.close();
  }
});
