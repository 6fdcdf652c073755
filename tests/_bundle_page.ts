// A real page in headless Chromium (Debian's `chromium`, driven by playwright-core) that loads
// the browser bundle (scripts/build_browser.ts, esbuild) from `/bundle/`, served over loopback
// with a collector at `/v1/events/batch` that counts what arrives.
import assert from "node:assert/strict";
// A test-only dependency, so not in deno.json's imports (which become the npm package's).
// deno-lint-ignore no-import-prefix
import { chromium as playwright, type Page } from "npm:playwright-core@1.65.1";
import { buildBrowserBundle } from "../scripts/build_browser.ts";
import { findChromium } from "./_chromium.ts";

export type { Page };

export interface Collector {
  readonly origin: string;
  /** Event keys in every request received, duplicates included. */
  readonly arrivals: string[];
  /** Every event received (the JSON profile's wire form), duplicates included. */
  readonly events: Array<Record<string, unknown>>;
  /** Size of every request body received. */
  readonly bodyBytes: number[];
  /** Event keys accepted the first time they arrived. */
  readonly accepted: Set<string>;
  close(): Promise<void>;
}

function serve(page: string, bundleDir: string): Collector {
  const arrivals: string[] = [];
  const events: Array<Record<string, unknown>> = [];
  const bodyBytes: number[] = [];
  const accepted = new Set<string>();
  const requestKeys = new Set<string>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/") return new Response(page, { headers: { "content-type": "text/html" } });
      if (pathname === "/away") {
        return new Response("<!doctype html><p>away</p>", {
          headers: { "content-type": "text/html" },
        });
      }
      if (pathname.startsWith("/bundle/")) {
        const file = await Deno.readFile(`${bundleDir}/${pathname.slice("/bundle/".length)}`);
        return new Response(file, { headers: { "content-type": "text/javascript" } });
      }
      if (pathname === "/v1/events/batch" && request.method === "POST") {
        let body: string;
        try {
          body = await request.text();
        } catch {
          return new Response("body cut off", { status: 400 }); // a request cancelled with its page
        }
        bodyBytes.push(new TextEncoder().encode(body).length);
        const batch = JSON.parse(body) as {
          events: Array<Record<string, unknown> & { idempotency_key: string }>;
        };
        events.push(...batch.events);
        const keys = batch.events.map((event) => event.idempotency_key);
        arrivals.push(...keys);
        const requestKey = request.headers.get("x-idempotency-key") ?? "";
        if (requestKeys.has(requestKey)) return new Response("{}", { status: 409 });
        requestKeys.add(requestKey);
        const results = keys.map((key) => {
          if (accepted.has(key)) return { status: "duplicate" };
          accepted.add(key);
          return { status: "accepted" };
        });
        return Response.json({ results });
      }
      return new Response("not found", { status: 404 });
    },
  );
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    arrivals,
    events,
    bodyBytes,
    accepted,
    close: () => server.shutdown(),
  };
}

export interface PageRun {
  readonly page: Page;
  readonly collector: Collector;
  /** Dialogs the page opened (their types) and errors it threw. */
  readonly dialogs: string[];
  readonly errors: string[];
}

/**
 * Builds the browser bundle, serves `html` at `/` (it sets `body[data-ready=yes]` once set up)
 * and runs `use` on it in Chromium; then stops Chromium and the server.
 */
export async function withBundlePage(
  html: string,
  use: (run: PageRun) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-browser-bundle-" });
  await buildBrowserBundle(dir);
  const collector = serve(html, dir);
  const browser = await playwright.launch({
    executablePath: await findChromium(),
    args: ["--no-sandbox", "--disable-gpu"],
  });
  try {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.type());
      dialog.accept().catch(() => {});
    });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${collector.origin}/`);
    await page.waitForSelector("body[data-ready=yes]", { state: "attached" }).catch((error) => {
      assert.fail(`the page was not set up (${errors.join("; ") || error})`);
    });
    await use({ page, collector, dialogs, errors });
  } finally {
    await browser.close();
    await collector.close();
    await Deno.remove(dir, { recursive: true });
  }
}
