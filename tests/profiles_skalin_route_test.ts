import assert from "node:assert/strict";
import { createEvent } from "../src/event.ts";
import type { DecodedBatch } from "../src/receiver/route.ts";
import { skalinProfile } from "../src/profiles/skalin/profile.ts";
import { skalinRoute } from "../src/profiles/skalin/route.ts";
import {
  accepted,
  batchOf,
  decodeWith,
  planBatches,
  recordsOf,
  toTransportResponse,
} from "./_profile_helpers.ts";

const CLIENT = "2bb91c92dr779103";
const profile = skalinProfile({ clientId: CLIENT, baseUrl: "http://127.0.0.1:9" });

async function fullRequest() {
  const events = [
    ...Array.from(
      { length: 100 },
      (_, i) => createEvent({ type: "identify", name: "$identify", userId: `u${i}` }),
    ),
    ...Array.from({ length: 100 }, (_, i) => createEvent({ name: `f${i}`, userId: `u${i}` })),
  ];
  const { chunks } = planBatches(profile, recordsOf(profile, events));
  assert.equal(chunks.length, 1);
  const batch = batchOf(chunks[0]!, "b1");
  return { batch, request: await profile.buildRequest(batch, 0) };
}

Deno.test("skalinRoute() decodes a full bulk request keyed by eventId and answers 200", async () => {
  const route = skalinRoute({ clientIds: [CLIENT] });
  const { batch, request } = await fullRequest();
  const decoded = await decodeWith(route, request) as DecodedBatch;
  assert.equal(decoded.tenant, CLIENT);
  assert.equal(decoded.records.length, 200);
  assert.ok(decoded.records.every((record) => /^[0-9a-f]{16}$/.test(record.key ?? "")));
  assert.equal(new Set(decoded.records.map((record) => record.key)).size, 200);
  const answer = await toTransportResponse(route.respond(decoded, accepted(200)));
  assert.equal(answer.status, 200);
  assert.deepEqual(profile.readResponse(answer, batch), {
    kind: "all",
    outcome: { status: "delivered" },
  });
});

Deno.test("skalinRoute() refuses 101 items of one type and unknown client ids", async () => {
  const route = skalinRoute({ clientIds: [CLIENT] });
  const { request } = await fullRequest();
  const body = JSON.parse(new TextDecoder().decode(request.body));
  body.features.push(body.features[0]);
  const tooMany = await decodeWith(route, {
    ...request,
    body: new TextEncoder().encode(JSON.stringify(body)),
  });
  assert.equal((tooMany as Response).status, 400);
  const stranger = await decodeWith(route, {
    ...request,
    url: request.url.replace(CLIENT, "someone"),
  });
  assert.equal((stranger as Response).status, 401);
});

Deno.test("skalinRoute() answers 429 with Retry-After past 500 requests in a burst from one IP", async () => {
  const route = skalinRoute({ clientIds: [CLIENT] });
  const { batch, request } = await fullRequest();
  for (let i = 0; i < 500; i++) {
    assert.ok(!((await decodeWith(route, request, 1_000)) instanceof Response), `request ${i}`);
  }
  const limited = await decodeWith(route, request, 1_000) as Response;
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "1");
  assert.deepEqual(profile.readResponse(await toTransportResponse(limited), batch), {
    kind: "all",
    outcome: {
      status: "retry",
      reason: '{"error":"rate limit exceeded"}',
      code: 429,
      retryAfterMs: 1000,
    },
  });
  assert.ok(!((await decodeWith(route, request, 1_000, "10.0.0.2")) instanceof Response));
  // 100 requests/s: one more token 10 ms later.
  assert.ok(!((await decodeWith(route, request, 1_010)) instanceof Response));
  assert.equal(((await decodeWith(route, request, 1_010)) as Response).status, 429);
});
