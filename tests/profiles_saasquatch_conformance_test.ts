/**
 * SaaSquatch's documented idempotency (seed 000: "If an additional event is
 * received by SaaSquatch within 24 hours with the same idempotency key, it
 * will be rejected … with a 409 Conflict"; the Segment fallback for invalid
 * keys) through the profile, the route and the receiver over loopback.
 */
import assert from "node:assert/strict";
import { Client } from "../src/client.ts";
import { saasquatchProfile } from "../src/profiles/saasquatch/profile.ts";
import { saasquatchRoute } from "../src/profiles/saasquatch/route.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { manualClock, recordingSink, withServer } from "./_receiver_fixtures.ts";

const API_KEY = "API_KEY";
const TENANT = "test_abc";
const EVENTS_PATH = "/api/v1/test_abc/open/account/u1/user/u1/events";

function client(base: string, options: Partial<Parameters<typeof saasquatchProfile>[0]> = {}) {
  return new Client({
    profile: saasquatchProfile({ tenantAlias: TENANT, apiKey: API_KEY, baseUrl: base, ...options }),
    flushIntervalMs: 0,
    exitHook: false,
  });
}

async function post(base: string, body: unknown): Promise<[number, Record<string, unknown>]> {
  const answer = await fetch(`${base}${EVENTS_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Basic ${btoa(`:${API_KEY}`)}` },
    body: JSON.stringify(body),
  });
  return [answer.status, await answer.json()];
}

Deno.test("the same purchase tracked with the same key by two clients is logged once: the caller's key is the call's key", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({
    sink,
    routes: [saasquatchRoute({ apiKeys: { [TENANT]: API_KEY } })],
  });
  await withServer(receiver, async (base) => {
    // Two processes: separate clients, separate queues and storage.
    for (const process of [client(base), client(base)]) {
      process.track("purchase", { revenue: 1000, currency: "USD" }, {
        userId: "u1",
        idempotencyKey: "order-1234-purchase",
      });
      process.track("purchase", { revenue: 5, currency: "USD" }, {
        userId: "u1",
        idempotencyKey: `other-${crypto.randomUUID()}`,
      });
      const result = await process.flush();
      await process.close();
      assert.deepEqual([result.status, result.success], ["success", 2]);
    }
    assert.equal(
      sink.events.filter((e) =>
        e.event.fields && (e.event.fields as { revenue: number }).revenue === 1000
      ).length,
      1,
    );
    assert.equal(sink.events.length, 3);
    assert.equal(receiver.stats.duplicateRequests, 1);
  });
  await receiver.close();
});

Deno.test("the route answers 409 to any repeat of a key within 24 hours, whatever the body, and takes it again after", async () => {
  const clock = manualClock();
  const sink = recordingSink();
  const receiver = createReceiver({
    sink,
    clock,
    routes: [saasquatchRoute({ apiKeys: { [TENANT]: API_KEY } })],
  });
  await withServer(receiver, async (base) => {
    const call = (revenue: number) => ({
      userId: "u1",
      accountId: "u1",
      idempotencyKey: "f650f058-192c-4e52-b72d-9634116f59eb",
      events: [{ key: "purchase", fields: { revenue } }],
    });
    assert.equal((await post(base, call(1000)))[0], 200);
    const [same, sameBody] = await post(base, call(1000));
    const [other, otherBody] = await post(base, call(7));
    assert.deepEqual([same, other], [409, 409]);
    for (const body of [sameBody, otherBody]) {
      assert.deepEqual(Object.keys(body).sort(), ["apiErrorCode", "message", "statusCode"]);
      assert.equal(body.statusCode, 409);
    }
    clock.advance(24 * 60 * 60 * 1000 + 1);
    assert.equal((await post(base, call(7)))[0], 200);
    assert.deepEqual(sink.events.map((e) => (e.event.fields as { revenue: number }).revenue), [
      1000,
      7,
    ]);
  });
  await receiver.close();
});

Deno.test("an invalid key is refused by default, and with the opt-in fallback the events are logged without idempotency", async () => {
  const sink = recordingSink();
  const strict = createReceiver({
    sink,
    routes: [saasquatchRoute({ apiKeys: { [TENANT]: API_KEY } })],
  });
  const lenient = createReceiver({
    sink,
    routes: [saasquatchRoute({ apiKeys: { [TENANT]: API_KEY }, invalidKeys: "ignore" })],
  });
  const call = {
    userId: "u1",
    accountId: "u1",
    idempotencyKey: "segment message id!",
    events: [{ key: "purchase" }],
  };
  await withServer(strict, async (base) => {
    const [status, body] = await post(base, call);
    assert.deepEqual([status, body.apiErrorCode], [400, "INVALID_IDEMPOTENCY_KEY"]);
  });
  await withServer(lenient, async (base) => {
    assert.equal((await post(base, call))[0], 200);
    assert.equal((await post(base, call))[0], 200, "without idempotency, a repeat is logged again");
    assert.equal(sink.events.length, 2);
    // The profile's own fallback: the call goes out without the key SaaSquatch would refuse.
    const process = client(base, { invalidKeys: "ignore" });
    process.track("purchase", {}, { userId: "u1", idempotencyKey: "segment message id!" });
    const result = await process.flush();
    await process.close();
    assert.equal(result.status, "success");
    assert.equal(sink.events.length, 3);
  });
  // By default the profile refuses such a key at once.
  await withServer(strict, async (base) => {
    const process = client(base);
    assert.throws(
      () => process.track("purchase", {}, { userId: "u1", idempotencyKey: "segment message id!" }),
      /idempotency/i,
    );
    await process.close();
  });
  await strict.close();
  await lenient.close();
});
