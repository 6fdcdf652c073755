/**
 * GetFluxly as the seed's Ruby client (seed 003, `GetFluxly::Client`): its
 * defaults, its identity rule and its `alias`, against the GetFluxly routes
 * over loopback.
 */
import assert from "node:assert/strict";
import { Client } from "../src/client.ts";
import { createEvent } from "../src/event.ts";
import {
  GETFLUXLY_SEED_CLIENT_OPTIONS,
  getfluxlyAlias,
  getfluxlyProfile,
} from "../src/profiles/getfluxly/profile.ts";
import { getfluxlyRoutes } from "../src/profiles/getfluxly/route.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { recordingSink, withServer } from "./_receiver_fixtures.ts";

const TOKEN = "gflux_secret_conformance";

Deno.test("any one of user_id, anonymous_id and external_id identifies a track, as the seed's Identity.require_one_id!", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({
    sink,
    routes: getfluxlyRoutes({ tokens: { [TOKEN]: "tenant" }, rateLimit: false }),
  });
  await withServer(receiver, async (base) => {
    const client = new Client({
      profile: getfluxlyProfile({ token: TOKEN, baseUrl: base }),
      flushIntervalMs: 0,
      exitHook: false,
    });
    client.track("order_paid", {}, { userId: "u1" });
    client.track("order_paid", {}, { anonymousId: "a1" });
    client.track("order_paid", {}, { context: { externalId: "crm-7" } });
    client.identify("u2", { plan: "pro" });
    const result = await client.flush();
    await client.close();
    assert.deepEqual([result.status, result.success], ["success", 4]);
    assert.deepEqual(
      sink.events.map(({ event }) => [event.user_id, event.anonymous_id, event.external_id]),
      [["u1", undefined, undefined], [undefined, "a1", undefined], [
        undefined,
        undefined,
        "crm-7",
      ], ["u2", undefined, undefined]],
    );
  });
  await receiver.close();
  // With none of the three, the event is refused at once.
  assert.throws(
    () => createEvent({ name: "order_paid", context: { externalId: " " } }),
    /externalId/,
  );
});

Deno.test("getfluxlyAlias() resolves with the alias data of the answer, retrying under one X-Idempotency-Key", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({
    sink,
    routes: getfluxlyRoutes({ tokens: { [TOKEN]: "tenant" }, rateLimit: false }),
  });
  const keys: (string | null)[] = [];
  let calls = 0;
  await withServer(async (request, info) => {
    keys.push(request.headers.get("x-idempotency-key"));
    // The first attempt meets a server error, as the seed's Http retries.
    if (calls++ === 0) {
      return Response.json({ error: "server_error", detail: "busy" }, { status: 503 });
    }
    return await receiver(request, info);
  }, async (base) => {
    const alias = await getfluxlyAlias(
      { token: TOKEN, baseUrl: base, random: () => 0 },
      { userId: "u1", anonymousId: "anon-1", requestId: "req-9" },
    );
    assert.equal(alias.user_id, "u1");
    assert.equal(alias.anonymous_id, "anon-1");
    assert.equal(typeof alias.merged_at, "string");
  });
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1]);
  assert.equal(sink.events.length, 1);
  await receiver.close();
});

Deno.test("getfluxlyAlias() fails at once on a refusal and after max_retries (2) without alias data", async () => {
  let calls = 0;
  await withServer((_request) => {
    calls++;
    return Promise.resolve(Response.json({ alias: {} }));
  }, async (base) => {
    await assert.rejects(
      getfluxlyAlias({ token: TOKEN, baseUrl: base, random: () => 0 }, {
        userId: "u",
        anonymousId: "a",
      }),
      /alias response did not include alias data/,
    );
  });
  assert.equal(calls, 3, "one attempt and the seed's 2 retries");
  await withServer(() => {
    calls++;
    return Promise.resolve(
      Response.json({ error: "alias_conflict", detail: "merged elsewhere" }, { status: 409 }),
    );
  }, async (base) => {
    await assert.rejects(
      getfluxlyAlias({ token: TOKEN, baseUrl: base }, { userId: "u", anonymousId: "a" }),
      /merged elsewhere/,
    );
  });
  assert.equal(calls, 4);
  await assert.rejects(
    getfluxlyAlias({ token: "gflux_pub_key" }, { userId: "u", anonymousId: "a" }),
    /publishable/,
  );
});

Deno.test("a Client with the seed client's options sends 20 events per request and gives up after 2 retries", async () => {
  let requests = 0;
  const sizes: number[] = [];
  await withServer(async (request) => {
    requests++;
    sizes.push((await request.json()).events.length);
    return Response.json({ error: "server_error", detail: "down" }, { status: 503 });
  }, async (base) => {
    const client = new Client({
      ...GETFLUXLY_SEED_CLIENT_OPTIONS,
      profile: getfluxlyProfile({ token: TOKEN, baseUrl: base }),
      retry: { maxRetries: GETFLUXLY_SEED_CLIENT_OPTIONS.retry, backoffBaseMs: 1, backoffCapMs: 2 },
      exitHook: false,
    });
    for (let i = 0; i < 20; i++) client.track("order_paid", { i }, { userId: "u" });
    const result = await client.flush();
    await client.close();
    assert.equal(result.status, "fail");
    assert.equal(result.failure, 20);
  });
  assert.equal(requests, 3);
  assert.deepEqual(sizes, [20, 20, 20]);
});
