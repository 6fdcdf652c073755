// The browser bundle (scripts/build_browser.ts, esbuild) on a real page in headless Chromium
// (Debian's `chromium`, driven by playwright-core): a user clicks, follows a link away, comes
// back, clicks again and leaves again. Every tracked event reaches the collector once, sent
// with a relative endpoint, and no "Leave site?" dialog is ever shown.
import assert from "node:assert/strict";
import { type Page, type PageRun, withBundlePage } from "./_bundle_page.ts";
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

/** Serves the tracking page and runs `use` on it in Chromium. */
function withTrackingPage(
  storage: "memory" | "browser",
  flushAt: number,
  use: (run: PageRun) => Promise<void>,
): Promise<void> {
  return withBundlePage(trackingPage(storage, flushAt), use);
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
