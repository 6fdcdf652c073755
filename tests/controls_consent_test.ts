// Consent, the disabled switch and anonymization, through a real client and a loopback
// collector (portable: runs under Node too; the restart with a file store is in
// controls_consent_restart_test.ts).
import assert from "node:assert/strict";
import { Client, type ClientOptions, MemoryStorage } from "../mod.ts";
import { startCollector } from "./_controls_collector.ts";
import type { FilterState } from "../src/controls/mod.ts";

function client(url: string, options: Partial<ClientOptions> = {}): Client {
  return new Client({ endpoint: url, exitHook: false, flushAt: Infinity, ...options });
}

Deno.test("pending consent holds events; granting releases them in order", async () => {
  const collector = await startCollector();
  const c = client(collector.url, { consent: "pending" });
  const keys = [1, 2, 3].map((n) => c.track("page_viewed", { n }, { userId: "u1" }));
  c.identify("u1", { plan: "pro" });
  await c.flush();
  assert.equal(collector.events.length, 0);
  assert.equal(c.stats().consentHeld, 4);
  assert.equal(c.consent, "pending");
  c.setConsent("granted");
  assert.equal(c.stats().consentHeld, 0);
  c.track("page_viewed", { n: 4 }, { userId: "u1" });
  await c.flush();
  assert.deepEqual(collector.events.slice(0, 3).map((e) => e.idempotency_key), keys);
  assert.equal(collector.events[3]!.type, "identify");
  assert.deepEqual(collector.events[4]!.properties, { n: 4 });
  await c.close();
  await collector.close();
});

Deno.test("denying consent purges held events and drops new ones, counted and reported", async () => {
  const collector = await startCollector();
  const reports: FilterState[] = [];
  const c = client(collector.url, {
    consent: "pending",
    hooks: { filter: [(state) => reports.push(state)] },
  });
  c.track("a", {}, { userId: "u1" });
  c.track("b", {}, { userId: "u1" });
  c.setConsent("denied");
  assert.equal(c.track("c", {}, { userId: "u1" }), "");
  await c.flush();
  assert.equal(collector.events.length, 0);
  assert.deepEqual(c.stats().consentDropped, 3);
  assert.equal(c.stats().consentHeld, 0);
  assert.deepEqual(reports.map((r) => [r.reason, r.events.map((e) => e.name)]), [
    ["consentPurged", ["a", "b"]],
    ["consentDenied", ["c"]],
  ]);
  await c.close();
  await collector.close();
});

Deno.test("held events are bounded by maxHeldEvents: the oldest go, counted and reported", async () => {
  const reports: FilterState[] = [];
  const c = client("http://127.0.0.1:9", {
    consent: "pending",
    maxHeldEvents: 3,
    hooks: { filter: [(state) => reports.push(state)] },
  });
  for (let n = 0; n < 5; n++) c.track("e", { n }, { userId: "u1" });
  assert.equal(c.stats().consentHeld, 3);
  assert.equal(c.stats().consentDropped, 2);
  assert.deepEqual(reports.map((r) => r.reason), ["consentOverflow", "consentOverflow"]);
  assert.deepEqual(reports.map((r) => r.events[0]!.properties), [{ n: 0 }, { n: 1 }]);
  assert.throws(
    () => client("http://127.0.0.1:9", { consent: "pending", maxHeldEvents: 0 }),
    RangeError,
  );
  assert.throws(() => client("http://127.0.0.1:9", { consent: "maybe" as never }), TypeError);
  assert.throws(
    () => c.setConsent("yes" as never),
    /'consent' must be "granted", "pending" or "denied"/,
  );
  await c.close({ timeoutMs: 0 });
});

Deno.test("consent and held events persist in the storage: a restarted client holds, then releases them", async () => {
  const collector = await startCollector();
  const first = new MemoryStorage();
  const a = client(collector.url, { consent: "pending", storage: first });
  a.track("before_restart", { n: 1 }, { userId: "u1" });
  a.track("before_restart", { n: 2 }, { userId: "u1" });
  await a.consentReady;
  await a.close();

  // The application starts with "pending" every time; the stored state and events win.
  const b = client(collector.url, {
    consent: "pending",
    storage: new MemoryStorage({ sharedWith: first }),
  });
  b.track("after_restart", { n: 3 }, { userId: "u1" });
  await b.consentReady;
  assert.equal(b.stats().consentHeld, 3);
  b.setConsent("granted");
  await b.flush();
  assert.deepEqual(collector.events.map((e) => (e.properties as { n: number }).n), [1, 2, 3]);
  await b.close();

  const c = client(collector.url, {
    consent: "pending",
    storage: new MemoryStorage({ sharedWith: first }),
  });
  c.track("third_run", { n: 4 }, { userId: "u1" }); // held until the stored state is known
  await c.consentReady;
  assert.equal(c.consent, "granted");
  await c.flush();
  assert.equal(collector.events.length, 4);
  assert.equal(c.stats().consentHeld, 0);
  await c.close();
  await collector.close();
});

Deno.test("the disabled switch drops every event (counted in filtered) until switched back", async () => {
  const collector = await startCollector();
  const reports: FilterState[] = [];
  const c = client(collector.url, {
    disabled: true,
    hooks: { filter: [(state) => reports.push(state)] },
  });
  assert.equal(c.track("a", {}, { userId: "u1" }), "");
  c.disabled = false;
  c.track("b", {}, { userId: "u1" });
  c.disabled = true;
  c.identify("u1");
  await c.flush();
  assert.deepEqual(collector.events.map((e) => e.event), ["b"]);
  assert.equal(c.stats().filtered, 2);
  assert.deepEqual(reports.map((r) => r.reason), ["disabled", "disabled"]);
  assert.throws(() => (c.disabled = "no" as never), TypeError);
  await c.close();
  await collector.close();
});

Deno.test("dropIp removes context.ip; dropUserId replaces user ids with the client's anonymous id", async () => {
  const collector = await startCollector();
  const c = client(collector.url, { dropIp: true, dropUserId: true });
  c.track("a", {}, { userId: "u1", context: { ip: "203.0.113.7", locale: "fr-FR" } });
  c.track("b", {}, { userId: "u2", anonymousId: "visitor-9" });
  assert.equal(c.identify("u1", { plan: "pro" }), "", "identify only names users: dropped");
  await c.flush();
  const [a, b] = collector.events;
  assert.deepEqual(a!.context, { locale: "fr-FR" });
  assert.equal(a!.user_id, undefined);
  assert.match(a!.anonymous_id as string, /^[0-9a-f-]{36}$/);
  assert.equal(b!.user_id, undefined);
  assert.equal(b!.anonymous_id, "visitor-9");
  assert.equal(collector.events.length, 2);
  assert.equal(c.stats().filtered, 1);
  await c.close();
  await collector.close();
});

Deno.test("flush() right after construction waits for the stored consent state: events held meanwhile are sent", async () => {
  const collector = await startCollector();
  const c = client(collector.url, { consent: "granted" });
  const key = c.track("a", {}, { userId: "u1" }); // held until the storage answers
  const result = await c.flush();
  assert.equal(result.success, 1);
  assert.deepEqual(collector.events.map((e) => e.idempotency_key), [key]);
  await c.close();
  await collector.close();
});
