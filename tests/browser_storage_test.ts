// BrowserStorage (and the worker transport) in a real browser: bundles
// tests/_browser/page.ts (the shared conformance suite for IndexedDB and
// localStorage, then workerTransport() cases), serves it on loopback,
// runs headless Chromium (Debian's `chromium`, installed by .ci/run) and reads
// the results the page POSTs back.
import assert from "node:assert/strict";
import { conformanceCases } from "./_storage_conformance.ts";
import type { CaseResult } from "./_browser/page.ts";

const TIMEOUT_MS = 120_000;
const here = (path: string) => new URL(path, import.meta.url).pathname;

async function findChromium(): Promise<string> {
  const { stdout, success } = await new Deno.Command("sh", {
    args: ["-c", "command -v chromium || command -v chromium-browser"],
    stdout: "piped",
  }).output();
  const path = new TextDecoder().decode(stdout).trim().split("\n")[0];
  if (!success || !path) {
    throw new Error("chromium is not installed: run `apt-get install -y chromium` (.ci/run does)");
  }
  return path;
}

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

/** Pids of processes whose command line mentions `marker` (Chromium's helpers included). */
async function pidsWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(marker)) pids.push(Number(entry.name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

Deno.test("BrowserStorage passes the conformance suite in headless Chromium", async (t) => {
  const chromium = await findChromium();
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-chromium-" });
  const profile = `${dir}/profile`;
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
  const browser = new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      `http://127.0.0.1:${server.addr.port}/`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const results = await Promise.race([
      posted,
      browser.status.then((status) => {
        throw new Error(`chromium exited early with code ${status.code}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no results from the page within ${TIMEOUT_MS} ms`)),
          TIMEOUT_MS,
        );
      }),
    ]);
    // Every case ran, on both backends, plus the backend-choice and worker transport cases.
    assert.equal(results.length, conformanceCases.length * 2 + 4, JSON.stringify(results));
    for (const result of results) {
      await t.step(result.name, () => {
        if (!result.ok) throw new Error(result.error);
      });
    }
  } finally {
    clearTimeout(timer);
    try {
      browser.kill("SIGTERM");
    } catch {
      // already exited
    }
    const stopped = await Promise.race([
      browser.status.then(() => true),
      new Promise<false>((done) => setTimeout(() => done(false), 5_000)),
    ]);
    if (!stopped) browser.kill("SIGKILL");
    await browser.status;
    // Chromium's helper processes follow their parent; make sure none is left.
    for (let i = 0; i < 50 && (await pidsWith(profile)).length > 0; i++) {
      await new Promise((done) => setTimeout(done, 100));
    }
    for (const pid of await pidsWith(profile)) Deno.kill(pid, "SIGKILL");
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
