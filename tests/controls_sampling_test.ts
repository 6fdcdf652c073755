// Sampling by user, through a real client and a loopback collector (portable: runs under Node too).
import assert from "node:assert/strict";
import { Client } from "../mod.ts";
import { type FilterState, SAMPLE_RATE_FIELD, userHash } from "../src/controls/mod.ts";
import { startCollector } from "./_controls_collector.ts";

const USERS = Array.from({ length: 2000 }, (_, i) => `user-${String(i).padStart(6, "0")}`);

function keptUsers(events: Array<Record<string, unknown>>, name: string): Set<string> {
  return new Set(events.filter((e) => e.event === name).map((e) => e.user_id as string));
}

Deno.test("sampling keeps all or none of a user's events, near the rate, stamped with it, and counts the rest", async () => {
  const collector = await startCollector();
  const reports: FilterState[] = [];
  const c = new Client({
    endpoint: collector.url,
    exitHook: false,
    flushAt: 500,
    sampling: { page_viewed: 0.25, "*": 0.5, order_paid: 1 },
    hooks: { filter: [(state) => reports.push(state)] },
  });
  for (const user of USERS) {
    c.track("page_viewed", { n: 1 }, { userId: user });
    c.track("page_viewed", { n: 2 }, { userId: user });
    c.track("search", {}, { userId: user });
    c.track("order_paid", { total: 1 }, { userId: user });
  }
  await c.flush();
  const viewed = keptUsers(collector.events, "page_viewed");
  const searched = keptUsers(collector.events, "search");
  // Every kept user has both page views: a user's events are all kept or all dropped.
  for (const user of viewed) {
    const views = collector.events.filter((e) => e.event === "page_viewed" && e.user_id === user);
    assert.equal(views.length, 2, user);
  }
  assert.ok(viewed.size > 0.2 * USERS.length && viewed.size < 0.3 * USERS.length, `${viewed.size}`);
  assert.ok(searched.size > 0.45 * USERS.length && searched.size < 0.55 * USERS.length);
  // A user kept at 0.25 is kept at 0.5: one hash decides for every rate.
  for (const user of viewed) assert.ok(searched.has(user), user);
  assert.equal(keptUsers(collector.events, "order_paid").size, USERS.length);
  for (const event of collector.events) {
    const context = event.context as Record<string, unknown> | undefined;
    const expected = { page_viewed: 0.25, search: 0.5 }[event.event as string];
    assert.equal(
      context?.[SAMPLE_RATE_FIELD],
      expected,
      "kept events carry their rate; rate 1 none",
    );
  }
  const dropped = 2 * (USERS.length - viewed.size) + (USERS.length - searched.size);
  assert.equal(c.stats().sampledOut, dropped);
  assert.equal(reports.length, dropped);
  assert.ok(reports.every((state) => state.reason === "sampled"));
  // Re-weighting the kept events by 1 / rate estimates the true count.
  const estimate = collector.events.filter((e) => e.event === "search").length / 0.5;
  assert.ok(Math.abs(estimate - USERS.length) < 0.1 * USERS.length);
  await c.close();
  await collector.close();
});

Deno.test("the same user id gets the same decision in every client (the hash depends on the id only)", () => {
  assert.equal(userHash("user-000042"), userHash("user-000042"));
  assert.notEqual(userHash("user-000042"), userHash("user-000043"));
  for (const user of USERS.slice(0, 100)) {
    const h = userHash(user);
    assert.ok(h >= 0 && h < 1);
  }
});

Deno.test("sampling rates outside 0–1 are refused at construction, naming the event", () => {
  assert.throws(
    () => new Client({ endpoint: "http://127.0.0.1:9", exitHook: false, sampling: { a: 1.5 } }),
    (error: unknown) => error instanceof RangeError && /'sampling\["a"\]'/.test(error.message),
  );
  assert.throws(
    () =>
      new Client({
        endpoint: "http://127.0.0.1:9",
        exitHook: false,
        sampling: { a: Number.NaN },
      }),
    RangeError,
  );
});
