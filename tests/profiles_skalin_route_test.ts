import assert from "node:assert/strict";
import { createEvent } from "../src/event.ts";
import type { DecodedBatch } from "../src/receiver/route.ts";
import { skalinProfile } from "../src/profiles/skalin/profile.ts";
import { skalinRoute } from "../src/profiles/skalin/route.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { recordingSink, withServer } from "./_receiver_fixtures.ts";
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

Deno.test("skalinRoute() decodes a full bulk request, one generated visit for the items without one, and answers 200", async () => {
  const route = skalinRoute({ clientIds: [CLIENT] });
  const { batch, request } = await fullRequest();
  const decoded = await decodeWith(route, request) as DecodedBatch;
  assert.equal(decoded.tenant, CLIENT);
  assert.equal(decoded.records.length, 200);
  // No receiver-side key: Skalin keeps the last copy, not the first.
  assert.ok(decoded.records.every((record) => record.key === undefined));
  const eventIds = decoded.records.map((record) => record.event.eventId as string);
  assert.ok(eventIds.every((id) => /^[0-9a-f]{16}$/.test(id)));
  assert.equal(new Set(eventIds).size, 200);
  const visits = new Set(decoded.records.map((record) => record.event.visitId));
  assert.equal(visits.size, 1);
  assert.match([...visits][0] as string, /^[0-9a-f]{16}$/);
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

Deno.test("skalinRoute() keeps the last transmitted copy of a repeated eventId, as Skalin does", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({ sink, routes: [skalinRoute({ clientIds: [CLIENT] })] });
  await withServer(receiver, async (base) => {
    const send = async (url: string, visitId?: string) => {
      const item = {
        eventId: "sqfdpolsijrfitof",
        name: "feat1",
        identity: { email: "dds@sdsd.com" },
        url,
        ...(visitId === undefined ? {} : { visitId }),
      };
      const answer = await fetch(`${base}/hit/bulk?rec=1&client_id=${CLIENT}`, {
        method: "POST",
        headers: { "content-type": "application/json", "cache-control": "no-cache" },
        body: JSON.stringify({ identities: [], features: [item] }),
      });
      assert.equal(answer.status, 200);
      await answer.body?.cancel();
    };
    await send("https://app.example/first");
    await send("https://app.example/second", "9c915a48e71cdd42");
    // The sink sees every copy in arrival order; keyed by eventId, the last one stands.
    const byEventId = new Map(sink.events.map((e) => [e.event.eventId, e.event]));
    assert.equal(sink.events.length, 2);
    assert.equal(byEventId.size, 1);
    assert.equal(byEventId.get("sqfdpolsijrfitof")?.url, "https://app.example/second");
    assert.equal(byEventId.get("sqfdpolsijrfitof")?.visitId, "9c915a48e71cdd42");
  });
  await receiver.close();
});
