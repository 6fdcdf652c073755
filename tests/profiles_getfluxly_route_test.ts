import assert from "node:assert/strict";
import { createEvent } from "../src/event.ts";
import type { DecodedBatch } from "../src/receiver/route.ts";
import { getfluxlyProfile } from "../src/profiles/getfluxly/profile.ts";
import { getfluxlyRoutes } from "../src/profiles/getfluxly/route.ts";
import {
  accepted,
  batchOf,
  decodeWith,
  recordsOf,
  toTransportResponse,
} from "./_profile_helpers.ts";

const SECRET = "gflux_secret_test123";
const PUBLIC = "gflux_pub_test123";
const TOKENS = { [SECRET]: "tenant1", [PUBLIC]: "tenant1" };

function profileFor(token = SECRET) {
  return getfluxlyProfile({ token, baseUrl: "http://127.0.0.1:9" });
}

async function eventsRequest(count: number, token = SECRET) {
  const profile = profileFor(token);
  const events = Array.from(
    { length: count },
    (_, i) => createEvent({ name: `e_${i}`, userId: "u" }),
  );
  const batch = batchOf(recordsOf(profile, events), "batch-key-0001");
  return { profile, batch, request: await profile.buildRequest(batch, 0) };
}

Deno.test("getfluxlyRoutes() batch route maps per-event results into errors[] that the profile reads", async () => {
  const [route] = getfluxlyRoutes({ tokens: TOKENS });
  const { profile, batch, request } = await eventsRequest(3);
  const decoded = await decodeWith(route, request) as DecodedBatch;
  assert.equal(decoded.tenant, "tenant1");
  assert.equal(decoded.requestKey, "batch-key-0001");
  assert.equal(decoded.records[2]!.event.event, "e_2");
  const results = [
    { status: "accepted" as const },
    { status: "rejected" as const, code: "validation_error", reason: "bad", retryable: false },
    { status: "rejected" as const, code: "sink", reason: "later", retryable: true },
  ];
  const answer = await toTransportResponse(route.respond(decoded, results));
  assert.equal(answer.status, 202);
  const body = JSON.parse(answer.body);
  assert.deepEqual([body.accepted, body.rejected], [1, 2]);
  assert.deepEqual(profile.readResponse(answer, batch), {
    kind: "each",
    outcomes: [
      { status: "delivered" },
      { status: "failed", reason: "bad", code: "validation_error" },
      { status: "retry", reason: "later", code: "server_error" },
    ],
  });
  const replay = await toTransportResponse(route.duplicate!(decoded, accepted(3)));
  assert.equal(replay.status, 202);
  assert.deepEqual(profile.readResponse(replay, batch), {
    kind: "each",
    outcomes: [{ status: "delivered" }, { status: "delivered" }, { status: "delivered" }],
  });
});

Deno.test("getfluxlyRoutes() batch route rejects invalid events per record and bad keys whole", async () => {
  const [route] = getfluxlyRoutes({ tokens: TOKENS });
  const { request } = await eventsRequest(1);
  const body = {
    events: [{ event: "Bad Name", user_id: "u" }, { event: "ok" }, { event: "ok", user_id: "u" }],
  };
  const decoded = await decodeWith(route, {
    ...request,
    body: new TextEncoder().encode(JSON.stringify(body)),
  }) as DecodedBatch;
  assert.deepEqual(decoded.records.map((record) => record.rejected?.code), [
    "validation_error",
    "validation_error",
    undefined,
  ]);
  const stranger = await decodeWith(route, {
    ...request,
    headers: { ...request.headers, Authorization: "Bearer nope" },
  }) as Response;
  assert.equal(stranger.status, 401);
  assert.equal(JSON.parse(await stranger.text()).error, "unauthenticated");
});

Deno.test("getfluxlyRoutes() answers 429 rate_limited with Retry-After past the per-key event rate", async () => {
  const [route] = getfluxlyRoutes({ tokens: TOKENS });
  const { profile, batch, request } = await eventsRequest(100);
  assert.ok(!((await decodeWith(route, request, 5_000)) instanceof Response));
  const limited = await decodeWith(route, request, 5_000) as Response;
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "2");
  assert.deepEqual(profile.readResponse(await toTransportResponse(limited), batch), {
    kind: "all",
    outcome: {
      status: "retry",
      reason: "too many events",
      code: "rate_limited",
      retryAfterMs: 2000,
    },
  });
  assert.ok(!((await decodeWith(route, request, 7_000)) instanceof Response));
});

Deno.test("getfluxlyRoutes() alias route merges with a secret key and refuses a publishable one", async () => {
  const [, route] = getfluxlyRoutes({ tokens: TOKENS });
  const profile = profileFor();
  const alias = createEvent({ type: "alias", name: "$alias", userId: "u1", anonymousId: "a1" });
  const batch = batchOf(recordsOf(profile, [alias]), "alias-key-01");
  const request = await profile.buildRequest(batch, 0);
  const decoded = await decodeWith(route, request, Date.UTC(2026, 10, 25)) as DecodedBatch;
  assert.equal(decoded.requestKey, "alias-key-01");
  const answer = await toTransportResponse(route.respond(decoded, accepted(1)));
  assert.deepEqual(JSON.parse(answer.body), {
    alias: { user_id: "u1", merged_at: "2026-11-25T00:00:00.000Z", anonymous_id: "a1" },
  });
  assert.deepEqual(profile.readResponse(answer, batch), {
    kind: "all",
    outcome: { status: "delivered" },
  });
  const publishable = await decodeWith(route, {
    ...request,
    headers: { ...request.headers, Authorization: `Bearer ${PUBLIC}` },
  }) as Response;
  assert.equal(publishable.status, 403);
  assert.deepEqual(profile.readResponse(await toTransportResponse(publishable), batch), {
    kind: "all",
    outcome: { status: "failed", reason: "alias requires a secret key", code: "wrong_key_type" },
  });
});
