// BrowserStorage (and the worker transport) in a real browser: bundles
// tests/_browser/page.ts (the shared conformance suite for IndexedDB and
// localStorage, then workerTransport() cases), serves it on loopback,
// runs headless Chromium (Debian's `chromium`, installed by .ci/run) and reads
// the results the page POSTs back.
import assert from "node:assert/strict";
import { conformanceCases } from "./_storage_conformance.ts";
import type { CaseResult } from "./_browser/page.ts";
import { withChromiumPage } from "./_chromium.ts";

const TIMEOUT_MS = 120_000;
const here = (path: string) => new URL(path, import.meta.url).pathname;

async function bundlePage(outFile: string): Promise<void> {
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform=browser",
      "--no-config",
      "--import-map",
      here("./_browser/import_map.json"),
      "-o",
      outFile,
      here("./_browser/page.ts"),
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`bundling the page failed:\n${new TextDecoder().decode(stderr)}`);
}

Deno.test("BrowserStorage passes the conformance suite in headless Chromium", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-page-" });
  const bundle = `${dir}/page.js`;
  await bundlePage(bundle);
  const script = await Deno.readFile(bundle);

  const { promise: posted, resolve } = Promise.withResolvers<CaseResult[]>();
  const seenKeys: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/") {
        return new Response('<!doctype html><script type="module" src="/page.js"></script>', {
          headers: { "content-type": "text/html" },
        });
      }
      if (pathname === "/page.js") {
        return new Response(script, { headers: { "content-type": "text/javascript" } });
      }
      if (pathname === "/v1/events/batch" && request.method === "POST") {
        // For the worker transport cases: records the event keys, answers like a receiver.
        const { events } = await request.json() as { events: Array<{ idempotency_key: string }> };
        seenKeys.push(...events.map((event) => event.idempotency_key));
        return new Response("{}", {
          headers: {
            "content-type": "application/json",
            "x-seen-key": request.headers.get("x-idempotency-key") ?? "",
          },
        });
      }
      if (pathname === "/seen") return Response.json(seenKeys);
      if (pathname === "/results" && request.method === "POST") {
        resolve(await request.json());
        return new Response("ok");
      }
      return new Response("not found", { status: 404 });
    },
  );
  try {
    const results = await withChromiumPage(
      `http://127.0.0.1:${server.addr.port}/`,
      posted,
      TIMEOUT_MS,
    );
    // Every case ran, on both backends, plus the backend-choice and worker transport cases.
    assert.equal(results.length, conformanceCases.length * 2 + 4, JSON.stringify(results));
    for (const result of results) {
      await t.step(result.name, () => {
        if (!result.ok) throw new Error(result.error);
      });
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
