// The browser bundle (scripts/build_browser.ts, esbuild) on a real page in headless Chromium
// (Debian's `chromium`, driven by playwright-core): a user clicks, follows a link away, comes
// back, clicks again and leaves again. Every tracked event reaches the collector once, sent
// with a relative endpoint, and no "Leave site?" dialog is ever shown.
import assert from "node:assert/strict";
// A test-only dependency, so not in deno.json's imports (which become the npm package's).
// deno-lint-ignore no-import-prefix
import { chromium as playwright, type Page } from "npm:playwright-core@1.65.1";
import { buildBrowserBundle } from "../scripts/build_browser.ts";
import { findChromium } from "./_chromium.ts";
import { waitFor } from "./_helpers.ts";

const WAIT_MS = 15_000;

/** The page: a button that tracks a click (keys kept in sessionStorage) and a link away. */
function trackingPage(storage: "memory" | "browser", flushAt = 100): string {
  const imports = storage === "browser"
    ? `import { BrowserStorage } from "/bundle/storage_browser.js";`
    : "";
  const option = storage === "browser" ? `storage: new BrowserStorage({ name: "lifecycle" }),` : "";
  return `<!doctype html>
<meta charset="utf-8">
<button id="track">Track</button>
<button id="bulk">Track 300 large events</button>
<a id="away" href="/away">Away</a>
<script type="module">
  import { Client } from "/bundle/idemtrack.js";
  ${imports}
  const client = new Client({
    endpoint: "/v1/events/batch", // relative: resolved against the page
    flushAt: ${flushAt},
    flushIntervalMs: 60_000,
    ${option}
  });
  document.querySelector("#track").addEventListener("click", () => {
    const tracked = JSON.parse(sessionStorage.getItem("tracked") ?? "[]");
    tracked.push(client.track("clicked", { n: tracked.length }, { userId: "u1" }));
    sessionStorage.setItem("tracked", JSON.stringify(tracked));
  });
  document.querySelector("#bulk").addEventListener("click", () => {
    const tracked = JSON.parse(sessionStorage.getItem("tracked") ?? "[]");
    for (let i = 0; i < 300; i++) {
      tracked.push(client.track("bulk", { i, text: "x".repeat(1000) }, { userId: "u1" }));
    }
    sessionStorage.setItem("tracked", JSON.stringify(tracked));
  });
  document.body.dataset.ready = "yes";
</script>`;
}

interface Collector {
  readonly origin: string;
  /** Event keys in every request received, duplicates included. */
  readonly arrivals: string[];
  /** Size of every request body received. */
  readonly bodyBytes: number[];
  /** Event keys accepted the first time they arrived. */
  readonly accepted: Set<string>;
  close(): Promise<void>;
}

function serve(page: string, bundleDir: string): Collector {
  const arrivals: string[] = [];
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
        const { events } = JSON.parse(body) as { events: Array<{ idempotency_key: string }> };
        const keys = events.map((event) => event.idempotency_key);
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
    bodyBytes,
    accepted,
    close: () => server.shutdown(),
  };
}

interface PageRun {
  readonly page: Page;
  readonly collector: Collector;
  /** Dialogs the page opened (their types) and errors it threw. */
  readonly dialogs: string[];
  readonly errors: string[];
}

/** Serves the tracking page (bundle built for the test) and runs `use` on it in Chromium. */
async function withTrackingPage(
  storage: "memory" | "browser",
  flushAt: number,
  use: (run: PageRun) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-browser-bundle-" });
  await buildBrowserBundle(dir);
  const collector = serve(trackingPage(storage, flushAt), dir);
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
    await page.waitForSelector("body[data-ready=yes]");
    await use({ page, collector, dialogs, errors });
  } finally {
    await browser.close();
    await collector.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The keys the page tracked so far (kept in its sessionStorage across visits). */
async function trackedKeys(page: Page): Promise<string[]> {
  return JSON.parse(await page.evaluate(() => sessionStorage.getItem("tracked") ?? "[]"));
}

for (const storage of ["memory", "browser"] as const) {
  Deno.test(`a page that tracks clicks and is left (${storage} storage) delivers every event once, with no leave prompt`, async () => {
    await withTrackingPage(storage, 100, async ({ page, collector, dialogs, errors }) => {
      for (let i = 0; i < 5; i++) await page.click("#track");
      await page.click("#away");
      await page.waitForURL(`${collector.origin}/away`);
      // Sent as the page was hidden, in keepalive requests that outlive it.
      await waitFor(() => collector.accepted.size >= 5, "the 5 events of the first visit", WAIT_MS);

      await page.goBack();
      await page.waitForSelector("body[data-ready=yes]");
      for (let i = 0; i < 3; i++) await page.click("#track");
      const tracked = await trackedKeys(page);
      await page.click("#away");
      await page.waitForURL(`${collector.origin}/away`);
      await waitFor(() => collector.accepted.size >= 8, "the events of the second visit", WAIT_MS);

      assert.deepEqual(errors, []);
      assert.deepEqual(dialogs, [], "a dialog was shown");
      assert.equal(tracked.length, 8);
      assert.deepEqual([...collector.accepted].sort(), [...tracked].sort());
    });
  });
}

Deno.test("a page hidden without being left (another tab, the app switched) sends what it queued", async () => {
  await withTrackingPage("memory", 100, async ({ page, collector }) => {
    for (let i = 0; i < 4; i++) await page.click("#track");
    // Headless pages never lose visibility by themselves: the page is told it is hidden.
    // (Page code as text: this file is checked without the DOM's types.)
    await page.evaluate(`
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    `);
    await waitFor(() => collector.accepted.size >= 4, "the 4 events of the hidden page", WAIT_MS);
    assert.deepEqual([...collector.accepted].sort(), (await trackedKeys(page)).sort());
    assert.equal(new URL(page.url()).pathname, "/");
  });
});

Deno.test("a page left with more queued than one keepalive request holds sends requests of at most 64 KB, and the next visit sends the rest once (browser storage)", async () => {
  // flushAt 1000: nothing is sent before the page is left, 300 KB wait in the queue.
  await withTrackingPage("browser", 1000, async ({ page, collector }) => {
    await page.click("#bulk");
    assert.equal(collector.arrivals.length, 0);
    // The user reads a moment: the store writes within its 50 ms interval (IndexedDB cannot
    // write once the page is being discarded: what was tracked in its last moments is kept only
    // by the requests that leave with it).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const tracked = await trackedKeys(page);
    await page.click("#away");
    await page.waitForURL(`${collector.origin}/away`);
    await waitFor(() => collector.accepted.size > 0, "the requests of the hidden page", WAIT_MS);
    const sentOnHide = collector.accepted.size;
    // The next visit sends what was left.
    await page.goBack();
    await page.waitForSelector("body[data-ready=yes]");
    await waitFor(() => collector.accepted.size >= 300, "the rest on the next visit", WAIT_MS);
    assert.equal(tracked.length, 300);
    assert.ok(sentOnHide < 300, "everything fit in the requests sent on hide: nothing shown");
    assert.deepEqual([...collector.accepted].sort(), [...tracked].sort());
    const largest = Math.max(...collector.bodyBytes);
    assert.ok(largest <= 64 * 1024, `a request of ${largest} bytes`);
  });
});
