// The event controls (docs/controls.md) from the browser bundle (scripts/build_browser.ts,
// esbuild) on a real page in headless Chromium: middleware, a tracking plan with a hand-written
// Standard Schema, consent held in BrowserStorage, and sampling. What the loopback collector
// receives shows that each control was applied in the page.
import assert from "node:assert/strict";
import { type Collector, type Page, withBundlePage } from "./_bundle_page.ts";
import { SAMPLE_RATE_FIELD, userHash } from "../src/controls/sampling.ts";

/**
 * The page: one client per control, each delivering at once (`flushAt: 1`) to the collector.
 * `window.controls` holds one function per scenario, returning what the page saw.
 */
const CONTROLS_PAGE = `<!doctype html>
<meta charset="utf-8">
<script type="module">
  import { Client, isEventValidationError } from "/bundle/idemtrack.js";
  import { BrowserStorage } from "/bundle/storage_browser.js";

  const endpoint = "/v1/events/batch";
  const common = { endpoint, flushAt: 1, flushIntervalMs: 60_000 };

  // A hand-written Standard Schema (https://standardschema.dev): no schema library in the page.
  const orderPaid = {
    "~standard": {
      version: 1,
      vendor: "handwritten",
      validate: (value) =>
        typeof value?.total === "number"
          ? { value: { total: value.total } } // unknown keys stripped
          : { issues: [{ message: "total must be a number", path: ["total"] }] },
    },
  };

  window.controls = {
    async middleware() {
      const filtered = [];
      const client = new Client({
        ...common,
        middleware: [
          function addChannel(event) {
            return { ...event, context: { ...event.context, channel: "beta" } };
          },
          function dropDebug(event) {
            return event.name === "debug_dumped" ? null : event;
          },
        ],
        hooks: { filter: [(state) => filtered.push({ reason: state.reason, by: state.middleware })] },
      });
      const kept = client.track("page_viewed", { path: "/" }, { userId: "u1" });
      const dropped = client.track("debug_dumped", { heap: 1 }, { userId: "u1" });
      await client.flush();
      const { filtered: filteredCount, delivered } = client.stats();
      await client.close();
      return { kept, dropped, filtered, filteredCount, delivered };
    },

    async plan() {
      const client = new Client({ ...common, plan: { order_paid: orderPaid }, unplanned: "reject" });
      const kept = client.track("order_paid", { total: 42, coupon: "x" }, { userId: "u1" });
      const refused = [];
      for (const [name, properties] of [["order_paid", { total: "42" }], ["unplanned", {}]]) {
        try {
          client.track(name, properties, { userId: "u1" });
          refused.push(null);
        } catch (error) {
          refused.push(isEventValidationError(error) ? { rule: error.rule, field: error.field } : String(error));
        }
      }
      await client.flush();
      await client.close();
      return { kept, refused };
    },

    async consentPending() {
      window.consentClient = new Client({
        ...common,
        storage: new BrowserStorage({ name: "consent" }),
        consent: "pending",
      });
      const client = window.consentClient;
      const keys = [1, 2, 3].map((n) => client.track("held", { n }, { userId: "u1" }));
      await client.consentReady;
      await client.flush(); // sends whatever was queued: held events are not
      return { keys, held: client.stats().consentHeld, consent: client.consent };
    },

    async consentGrant() {
      const client = window.consentClient;
      client.setConsent("granted");
      await client.flush();
      const { consentHeld, delivered } = client.stats();
      await client.close();
      return { consentHeld, delivered, consent: client.consent };
    },

    async sampling(kept, dropped) {
      const client = new Client({
        ...common,
        sampling: { never_sent: 0, always_sent: 1, half_sent: 0.5 },
      });
      client.track("never_sent", {}, { userId: kept });
      client.track("always_sent", {}, { userId: dropped });
      client.track("half_sent", {}, { userId: kept });
      client.track("half_sent", {}, { userId: dropped });
      await client.flush();
      const { sampledOut, delivered } = client.stats();
      await client.close();
      return { sampledOut, delivered };
    },
  };
  document.body.dataset.ready = "yes";
</script>`;

/** Runs `window.controls[name](...args)` in the page; returns its result. */
function inPage<T>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  // Page code as text: this file is checked without the DOM's types.
  const argList = args.map((arg) => JSON.stringify(arg)).join(", ");
  return page.evaluate(`window.controls.${name}(${argList})`) as Promise<T>;
}

function eventsNamed(collector: Collector, name: string): Array<Record<string, unknown>> {
  return collector.events.filter((event) => event.event === name);
}

/** The first user id of the form `user-N` whose hash is (or is not) under `rate`. */
function userSampled(rate: number, kept: boolean): string {
  for (let n = 0; n < 1000; n++) {
    if ((userHash(`user-${n}`) < rate) === kept) return `user-${n}`;
  }
  throw new Error(`no user ${kept ? "under" : "over"} rate ${rate} among 1000`);
}

Deno.test("the event controls from the browser bundle are applied in Chromium: middleware, a tracking plan, consent in BrowserStorage and sampling", async (t) => {
  await withBundlePage(CONTROLS_PAGE, async ({ page, collector, errors }) => {
    await t.step(
      "a middleware enriches one event and drops another, counted in filtered",
      async () => {
        const result = await inPage<{
          kept: string;
          dropped: string;
          filtered: Array<{ reason: string; by: string }>;
          filteredCount: number;
          delivered: number;
        }>(page, "middleware");
        assert.notEqual(result.kept, "");
        assert.equal(result.dropped, "");
        assert.equal(result.filteredCount, 1);
        assert.deepEqual(result.filtered, [{ reason: "middleware", by: "dropDebug" }]);
        assert.equal(result.delivered, 1);
        const [viewed, ...more] = eventsNamed(collector, "page_viewed");
        assert.equal(more.length, 0);
        assert.equal(viewed?.idempotency_key, result.kept);
        assert.deepEqual(viewed?.context, { channel: "beta" });
        assert.deepEqual(eventsNamed(collector, "debug_dumped"), []);
      },
    );

    await t.step(
      "a tracking plan with a hand-written Standard Schema sends its output and refuses the rest",
      async () => {
        const result = await inPage<{ kept: string; refused: unknown[] }>(page, "plan");
        assert.deepEqual(result.refused, [
          { rule: "schema", field: "properties.total" },
          { rule: "unplanned", field: "name" },
        ]);
        const paid = eventsNamed(collector, "order_paid");
        assert.equal(paid.length, 1);
        assert.equal(paid[0]!.idempotency_key, result.kept);
        assert.deepEqual(paid[0]!.properties, { total: 42 });
        assert.deepEqual(eventsNamed(collector, "unplanned"), []);
      },
    );

    await t.step(
      "consent pending holds events in BrowserStorage; granted releases each once",
      async () => {
        const pending = await inPage<{ keys: string[]; held: number; consent: string }>(
          page,
          "consentPending",
        );
        assert.equal(pending.consent, "pending");
        assert.equal(pending.held, 3);
        assert.equal(pending.keys.length, 3);
        assert.ok(pending.keys.every((key) => key !== ""));
        assert.deepEqual(
          eventsNamed(collector, "held"),
          [],
          "an event arrived while consent was pending",
        );

        const granted = await inPage<{ consentHeld: number; delivered: number; consent: string }>(
          page,
          "consentGrant",
        );
        assert.deepEqual(granted, { consentHeld: 0, delivered: 3, consent: "granted" });
        const arrived = eventsNamed(collector, "held").map((event) => event.idempotency_key);
        assert.deepEqual(arrived.sort(), [...pending.keys].sort(), "each held event once");
      },
    );

    await t.step(
      "sampling drops a name at rate 0, keeps one at rate 1 and stamps the rate between",
      async () => {
        const kept = userSampled(0.5, true);
        const dropped = userSampled(0.5, false);
        const result = await inPage<{ sampledOut: number; delivered: number }>(
          page,
          "sampling",
          kept,
          dropped,
        );
        assert.deepEqual(result, { sampledOut: 2, delivered: 2 });
        assert.deepEqual(eventsNamed(collector, "never_sent"), []);
        const always = eventsNamed(collector, "always_sent");
        assert.equal(always.length, 1);
        assert.equal(
          (always[0]!.context as Record<string, unknown> | undefined)?.[SAMPLE_RATE_FIELD],
          undefined,
        );
        const half = eventsNamed(collector, "half_sent");
        assert.equal(half.length, 1);
        assert.equal(half[0]!.user_id, kept);
        assert.deepEqual(half[0]!.context, { [SAMPLE_RATE_FIELD]: 0.5 });
      },
    );

    assert.deepEqual(errors, []);
  });
});
