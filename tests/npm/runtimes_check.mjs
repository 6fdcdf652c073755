// The packed npm package on Bun and in workerd (Cloudflare's runtime), both from npm: run by
// `node --test` in .ci/run, which installs them into .tools/runtimes (see tests/npm/_project.mjs).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer } from "node:net";
import { after, before, test } from "node:test";
import { assertExactlyOnce, CLIENT_SCRIPT, SEND_MODULE, startLossyReceiver } from "./_delivery.mjs";
import {
  createProject,
  PACKAGE,
  removeProjects,
  run,
  runOk,
  runReadmeExamples,
  tool,
  writeProjectFile,
} from "./_project.mjs";

/** The package and hash-wasm (so that workerd gets the WebAssembly hashers it must refuse). */
let project;

before(async () => {
  project = await createProject("runtimes", ["hash-wasm@4.13.0"]);
  await writeProjectFile(project, "send.mjs", SEND_MODULE);
  await writeProjectFile(project, "client.mjs", CLIENT_SCRIPT);
});
after(removeProjects);

test("a Client on Bun delivers every event exactly once to a loopback receiver that loses an answer", async (t) => {
  const bun = tool("bun", t);
  if (bun === undefined) return;
  const collector = await startLossyReceiver(project);
  try {
    const out = await runOk(bun, ["client.mjs", collector.url, "50", "bun"], { cwd: project });
    assertExactlyOnce(collector, "bun", 50, JSON.parse(out));
  } finally {
    await collector.close();
  }
});

test("the README's examples run on Bun as written (the receiver's serveNode, FileStorage, require())", async (t) => {
  const bun = tool("bun", t);
  if (bun === undefined) return;
  await runReadmeExamples(bun, project);
});

/** A port free a moment ago on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const WORKER = `import { send } from "./send.mjs";
import { Client } from "${PACKAGE}";
import { loadHashers, md5Hex, sha256Hex } from "${PACKAGE}/hash";

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/hash") {
      const texts = await request.json();
      const hash = (text) => ({ md5: md5Hex(text), sha256: sha256Hex(text) });
      const first = texts.map(hash); // before the WebAssembly hashers could be ready
      const implementation = await loadHashers();
      return Response.json({ implementation, first, then: texts.map(hash) });
    }
    if (url.pathname === "/send") {
      const { endpoint, count, prefix } = await request.json();
      return Response.json(await send(endpoint, count, prefix));
    }
    if (url.pathname === "/track") {
      // The edge pattern: answer at once, deliver after the response within ctx.waitUntil.
      const { endpoint, count, prefix } = await request.json();
      const client = new Client({ endpoint, token: "token-of-acme" });
      for (let i = 0; i < count; i++) {
        client.track("edge_checked", { i }, { userId: "u1", idempotencyKey: \`\${prefix}-event-\${i}\` });
      }
      ctx.waitUntil(client.close());
      return new Response(null, { status: 202 });
    }
    return new Response("not found", { status: 404 });
  },
};
`;

const CONFIG = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The worker's fetch() may reach loopback addresses only (the test's receiver).
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-09-01",
  globalOutbound = "loopback",
);
`;

/** Bundles the worker with esbuild, serves it with workerd, resolves its URL and a stop function. */
async function startWorkerd(esbuild, workerd) {
  await writeProjectFile(project, "worker_entry.mjs", WORKER);
  await writeProjectFile(project, "config.capnp", CONFIG);
  await runOk(esbuild, [
    "worker_entry.mjs",
    "--bundle",
    "--format=esm",
    "--platform=neutral",
    "--main-fields=module,main",
    "--outfile=worker.js",
  ], { cwd: project });
  const bundle = await readFile(join(project, "worker.js"), "utf8");
  assert.match(bundle, /node_modules\/hash-wasm\//, "hash-wasm is bundled: workerd is offered it");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const controller = new AbortController();
  const exited = run(workerd, ["serve", "config.capnp", `--socket-addr=http=127.0.0.1:${port}`], {
    cwd: project,
    signal: controller.signal,
    timeoutMs: 60_000,
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await fetch(`${url}/ready`);
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        controller.abort();
        const { stderr } = await exited;
        throw new Error(`workerd did not start: ${stderr}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    async stop() {
      controller.abort();
      return await exited;
    },
  };
}

/**
 * Runs `body(url, collector)` with workerd serving the test worker at `url` and a fresh lossy
 * receiver; stops both after, and shows workerd's stderr. Skips where the tools are missing.
 */
async function withWorkerd(t, body) {
  const esbuild = tool("esbuild", t);
  const workerd = esbuild && tool("workerd", t);
  if (workerd === undefined) return;
  const worker = await startWorkerd(esbuild, workerd);
  const collector = await startLossyReceiver(project);
  try {
    await body(worker.url, collector);
  } finally {
    await collector.close();
    const { stderr } = await worker.stop();
    if (stderr.trim() !== "") t.diagnostic(`workerd: ${stderr.slice(0, 2000)}`);
  }
}

test("in workerd a Client delivers every event exactly once, and the hashers fall back to JavaScript with the same digests", async (t) => {
  await withWorkerd(t, async (url, collector) => {
    const texts = ["", "abc", "héllo wörld ✓ 🎉", "x".repeat(70_000)];
    const hashed = await (await fetch(`${url}/hash`, {
      method: "POST",
      body: JSON.stringify(texts),
    })).json();
    assert.equal(hashed.implementation, "javascript", "workerd refuses to compile WebAssembly");
    const expected = texts.map((text) => ({
      md5: createHash("md5").update(text).digest("hex"),
      sha256: createHash("sha256").update(text).digest("hex"),
    }));
    assert.deepEqual(hashed.first, expected);
    assert.deepEqual(hashed.then, expected);

    const response = await fetch(`${url}/send`, {
      method: "POST",
      body: JSON.stringify({ endpoint: collector.url, count: 50, prefix: "workerd" }),
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assertExactlyOnce(collector, "workerd", 50, JSON.parse(text));
  });
});

test("in workerd a Client closed within ctx.waitUntil delivers after the response, exactly once", async (t) => {
  await withWorkerd(t, async (url, collector) => {
    const response = await fetch(`${url}/track`, {
      method: "POST",
      body: JSON.stringify({ endpoint: collector.url, count: 30, prefix: "edge" }),
    });
    assert.equal(response.status, 202, await response.text());
    // Done once every event reached the sink and the batch whose answer was lost came back.
    const deadline = Date.now() + 20_000;
    while (
      (collector.keys.length < 30 || !collector.statuses.includes(409)) && Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assertExactlyOnce(collector, "edge", 30);
  });
});
