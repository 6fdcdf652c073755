import assert from "node:assert/strict";
import { createEvent } from "../src/event.ts";
import type { DecodedBatch } from "../src/receiver/route.ts";
import { saasquatchProfile } from "../src/profiles/saasquatch/profile.ts";
import { saasquatchRoute } from "../src/profiles/saasquatch/route.ts";
import {
  accepted,
  batchOf,
  decodeWith,
  recordsOf,
  toTransportResponse,
} from "./_profile_helpers.ts";

const route = saasquatchRoute({
  apiKeys: { test_abc: "API_KEY" },
  verifyJwt: (jwt, tenant) => jwt === "good.jwt" && tenant === "test_abc",
});

async function built(options: Parameters<typeof saasquatchProfile>[0], id = "batch-key-0001") {
  const profile = saasquatchProfile({ callKey: "batch", ...options });
  const events = [
    createEvent({ name: "purchase", userId: "u 1", properties: { revenue: 10 }, timestamp: 5 }),
    createEvent({ name: "refund", userId: "u 1", properties: { revenue: 3 }, timestamp: 6 }),
  ];
  const batch = batchOf(recordsOf(profile, events), id);
  return { profile, batch, request: await profile.buildRequest(batch, 0) };
}

Deno.test("saasquatchRoute() decodes what saasquatchProfile() sends and answers 200 = delivered", async () => {
  const { profile, batch, request } = await built({ tenantAlias: "test_abc", apiKey: "API_KEY" });
  const decoded = await decodeWith(route, request) as DecodedBatch;
  assert.equal(decoded.tenant, "test_abc");
  assert.equal(decoded.requestKey, "batch-key-0001");
  assert.deepEqual(decoded.records.map((record) => record.event), [
    { userId: "u 1", accountId: "u 1", key: "purchase", fields: { revenue: 10 }, dateTriggered: 5 },
    { userId: "u 1", accountId: "u 1", key: "refund", fields: { revenue: 3 }, dateTriggered: 6 },
  ]);
  const answer = await toTransportResponse(route.respond(decoded, accepted(2)));
  assert.equal(answer.status, 200);
  assert.equal(JSON.parse(answer.body).events.length, 2);
  assert.deepEqual(profile.readResponse(answer, batch), {
    kind: "all",
    outcome: { status: "delivered" },
  });
});

Deno.test("saasquatchRoute() answers a repeated key with 409, which the profile counts as duplicate", async () => {
  const { profile, batch, request } = await built({ tenantAlias: "test_abc", apiKey: "API_KEY" });
  const decoded = await decodeWith(route, request) as DecodedBatch;
  const answer = await toTransportResponse(route.duplicate!(decoded, accepted(2)));
  assert.equal(answer.status, 409);
  assert.deepEqual(profile.readResponse(answer, batch), {
    kind: "all",
    outcome: { status: "duplicate" },
  });
});

Deno.test("saasquatchRoute() accepts a user JWT in either header and refuses bad credentials", async () => {
  for (const jwtHeader of ["x-saasquatch-user-token", "bearer"] as const) {
    const { request } = await built({ tenantAlias: "test_abc", jwt: "good.jwt", jwtHeader });
    assert.ok(!((await decodeWith(route, request)) instanceof Response), jwtHeader);
  }
  for (const options of [{ apiKey: "WRONG" }, { jwt: "bad.jwt" }]) {
    const { profile, batch, request } = await built({ tenantAlias: "test_abc", ...options });
    const answer = await decodeWith(route, request);
    assert.ok(answer instanceof Response);
    assert.equal(answer.status, 401);
    const outcome = profile.readResponse(await toTransportResponse(answer), batch);
    assert.deepEqual(outcome, {
      kind: "all",
      outcome: { status: "failed", reason: "Invalid or missing credentials", code: "UNAUTHORIZED" },
    });
  }
});

Deno.test("saasquatchRoute() refuses mismatched ids, bad keys and oversized fields with 400", async () => {
  const { request } = await built({ tenantAlias: "test_abc", apiKey: "API_KEY" });
  const send = async (body: unknown, url = request.url) =>
    await decodeWith(route, {
      ...request,
      url,
      body: new TextEncoder().encode(JSON.stringify(body)),
    });
  const good = { userId: "u 1", accountId: "u 1", events: [{ key: "x" }] };
  assert.ok(!((await send(good)) instanceof Response));
  const cases = [
    { ...good, userId: "other" },
    { ...good, idempotencyKey: "short" },
    { ...good, events: [] },
    { ...good, events: [{ key: "x", fields: { note: "x".repeat(1501) } }] },
    { ...good, events: [{ key: "x", fields: { m: [[1]] } }] },
  ];
  for (const body of cases) {
    const answer = await send(body);
    assert.ok(answer instanceof Response, JSON.stringify(body).slice(0, 80));
    assert.equal(answer.status, 400);
    assert.equal(JSON.parse(await answer.text()).statusCode, 400);
  }
});

Deno.test("saasquatchRoute() turns a retryable rejection into 503, which the profile retries", async () => {
  const { profile, batch, request } = await built({ tenantAlias: "test_abc", apiKey: "API_KEY" });
  const decoded = await decodeWith(route, request) as DecodedBatch;
  const answer = route.respond(decoded, [
    { status: "accepted" },
    { status: "rejected", code: "sink", reason: "sink unavailable", retryable: true },
  ]);
  const outcome = profile.readResponse(await toTransportResponse(answer), batch);
  assert.equal(outcome.kind === "all" && outcome.outcome.status, "retry");
});
