// Event middleware, through a real client and a loopback collector (portable: runs under Node too).
import assert from "node:assert/strict";
import { Client, type ClientOptions, type EventInput, isMiddlewareError } from "../mod.ts";
import { startCollector } from "./_controls_collector.ts";
import type { FilterState, Middleware } from "../src/controls/mod.ts";

function client(url: string, options: Partial<ClientOptions> = {}): Client {
  return new Client({ endpoint: url, exitHook: false, flushAt: Infinity, ...options });
}

Deno.test("middleware enriches, rewrites and redacts events in order before they are sent", async () => {
  const collector = await startCollector();
  const order: string[] = [];
  const c = client(collector.url, {
    middleware: [
      function addAppVersion(event) {
        order.push("addAppVersion");
        return { ...event, context: { ...event.context, appVersion: "2.4.1" } };
      },
      function redactEmail(event) {
        order.push("redactEmail");
        const { email: _email, ...properties } = event.properties ?? {};
        return { ...event, properties };
      },
    ],
  });
  c.use((event) => {
    order.push("#2");
    event.name = event.name.toLowerCase(); // in place: returning nothing keeps the event
  });
  c.track("Signed_Up", { email: "ada@example.com", plan: "pro" }, { userId: "u1" });
  c.identify("u1", { email: "ada@example.com" });
  await c.flush();
  assert.deepEqual(order, [
    "addAppVersion",
    "redactEmail",
    "#2",
    "addAppVersion",
    "redactEmail",
    "#2",
  ]);
  assert.equal(collector.events.length, 2);
  assert.equal(collector.events[0]!.event, "signed_up");
  assert.deepEqual(collector.events[0]!.properties, { plan: "pro" });
  assert.deepEqual(collector.events[0]!.context, { appVersion: "2.4.1" });
  assert.deepEqual(collector.events[1]!.properties, {});
  await c.close();
  await collector.close();
});

Deno.test("a middleware returning null drops the event: counted in filtered and reported to filter hooks", async () => {
  const collector = await startCollector();
  const reports: FilterState[] = [];
  const c = client(collector.url, {
    middleware: [function dropBots(event) {
      return event.properties?.bot === true ? null : event;
    }],
    hooks: { filter: [(state) => reports.push(state)] },
  });
  assert.equal(c.track("page_viewed", { bot: true }, { userId: "crawler" }), "");
  const key = c.track("page_viewed", { bot: false }, { userId: "u1" });
  assert.notEqual(key, "");
  await c.flush();
  assert.equal(c.stats().filtered, 1);
  assert.equal(c.stats().tracked, 1);
  assert.equal(reports.length, 1);
  assert.equal(reports[0]!.reason, "middleware");
  assert.equal(reports[0]!.middleware, "dropBots");
  assert.equal(reports[0]!.events[0]!.userId, "crawler");
  assert.deepEqual(collector.events.map((e) => e.idempotency_key), [key]);
  await c.close();
  await collector.close();
});

Deno.test("a middleware that throws fails that track() with a MiddlewareError naming it, and loses nothing else", async () => {
  const collector = await startCollector();
  const c = client(collector.url);
  c.use(function tagged(event) {
    return { ...event, context: { tagged: true } };
  });
  c.use((event) => {
    if (event.properties?.explode === true) throw new Error("boom");
    return event;
  });
  const first = c.track("a", {}, { userId: "u1" });
  assert.throws(
    () => c.track("b", { explode: true }, { userId: "u1" }),
    (error: unknown) => {
      assert.ok(isMiddlewareError(error));
      assert.equal(error.middleware, "#1");
      assert.equal(error.index, 1);
      assert.equal((error.cause as Error).message, "boom");
      assert.match(error.message, /middleware '#1' \(#1\) threw: boom/);
      return true;
    },
  );
  const third = c.track("c", {}, { userId: "u1" });
  await c.flush();
  assert.deepEqual(collector.events.map((e) => e.idempotency_key), [first, third]);
  assert.equal(c.stats().filtered, 0);
  await c.close();
  await collector.close();
});

Deno.test("a middleware that returns a promise is refused: middleware must be synchronous", async () => {
  const collector = await startCollector();
  const c = client(collector.url);
  // deno-lint-ignore require-await
  async function enrichLater(event: EventInput): Promise<EventInput> {
    return event;
  }
  c.use(enrichLater as unknown as Middleware);
  assert.throws(
    () => c.track("a", {}, { userId: "u1" }),
    (error: unknown) =>
      isMiddlewareError(error) && error.middleware === "enrichLater" &&
      /synchronous/.test(error.message),
  );
  await c.close();
  await collector.close();
});

Deno.test("middleware runs before validation: it can repair an event the rules would refuse", async () => {
  const collector = await startCollector();
  const c = client(collector.url, {
    middleware: [(event) => ({ ...event, userId: event.userId ?? "fallback-user" })],
  });
  c.track("a"); // no id at all: valid only because the middleware adds one
  await c.flush();
  assert.equal(collector.events[0]!.user_id, "fallback-user");
  await c.close();
  await collector.close();
});

Deno.test("the middleware option is checked at construction", () => {
  assert.throws(
    () =>
      new Client({ endpoint: "http://127.0.0.1:9", exitHook: false, middleware: [42 as never] }),
    TypeError,
  );
  const c = new Client({ endpoint: "http://127.0.0.1:9", exitHook: false });
  assert.throws(() => c.use("nope" as never), TypeError);
});
