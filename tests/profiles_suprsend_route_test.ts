import assert from "node:assert/strict";
import { createEvent } from "../src/event.ts";
import type { DecodedBatch } from "../src/receiver/route.ts";
import {
  importSuprsendKey,
  signSuprsend,
  suprsendProfile,
  suprsendStringToSign,
} from "../src/profiles/suprsend/profile.ts";
import {
  SUPRSEND_ROUTE_MAX_BODY_BYTES,
  suprsendRoute,
  suprsendRoutes,
} from "../src/profiles/suprsend/route.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { recordingSink, withServer } from "./_receiver_fixtures.ts";
import {
  accepted,
  batchOf,
  decodeWith,
  recordsOf,
  toTransportResponse,
} from "./_profile_helpers.ts";

const KEY = "ws_key_0123456789abcd";
const SECRET = "ws_secret_value";
const NOW = Date.UTC(2026, 10, 25, 8);

async function built(variant: "v2" | "event" = "v2", secret = SECRET) {
  const profile = suprsendProfile({
    workspaceKey: KEY,
    workspaceSecret: secret,
    variant,
    baseUrl: "http://127.0.0.1:9",
  });
  const events = ["a1", "b2", "c3", "d4"].map((name) =>
    createEvent({ name, userId: "u1", idempotencyKey: `key ${name}` }, {
      keyPolicy: profile.keyPolicy,
    })
  );
  const batch = batchOf(recordsOf(profile, events), "batch-1");
  return { profile, batch, request: await profile.buildRequest(batch, NOW) };
}

Deno.test("suprsendRoute() verifies the signature and maps per-record results back to the profile", async () => {
  const route = suprsendRoute({ workspaces: { [KEY]: SECRET } });
  const { profile, batch, request } = await built();
  const decoded = await decodeWith(route, request, NOW) as DecodedBatch;
  assert.equal(decoded.tenant, KEY);
  assert.deepEqual(decoded.records.map((record) => record.key), [
    "key a1",
    "key b2",
    "key c3",
    "key d4",
  ]);
  assert.equal(decoded.records[0]!.event.distinct_id, "u1");
  const answer = route.respond(decoded, [
    { status: "accepted" },
    { status: "duplicate" },
    { status: "rejected", code: "400", reason: "bad event", retryable: false },
    { status: "rejected", code: "sink", reason: "try later", retryable: true },
  ]);
  assert.deepEqual(profile.readResponse(await toTransportResponse(answer), batch), {
    kind: "each",
    outcomes: [
      { status: "delivered" },
      { status: "delivered" },
      { status: "failed", reason: "bad event", code: 400 },
      { status: "retry", reason: "try later", code: 500 },
    ],
  });
});

Deno.test("suprsendRoute() answers 401 to a tampered body or a wrong secret", async () => {
  const route = suprsendRoute({ workspaces: { [KEY]: SECRET } });
  const { profile, batch, request } = await built();
  const tampered = new Uint8Array(request.body);
  tampered[tampered.length - 3] = 0x20;
  for (const candidate of [{ ...request, body: tampered }, (await built("v2", "wrong")).request]) {
    const answer = await decodeWith(route, candidate, NOW);
    assert.ok(answer instanceof Response);
    assert.equal(answer.status, 401);
    const outcome = profile.readResponse(await toTransportResponse(answer), batch);
    assert.deepEqual(outcome, {
      kind: "all",
      outcome: { status: "failed", reason: "signature mismatch", code: 401 },
    });
  }
});

Deno.test("suprsendRoute() can refuse a Date outside its clock-skew window", async () => {
  const route = suprsendRoute({ workspaces: { [KEY]: SECRET }, maxClockSkewMs: 60_000 });
  const { request } = await built();
  assert.ok(!((await decodeWith(route, request, NOW + 59_000)) instanceof Response));
  const late = await decodeWith(route, request, NOW + 61_000);
  assert.equal((late as Response).status, 401);
});

Deno.test("suprsendRoute() on /event/ answers 202 OK, read as delivered", async () => {
  const route = suprsendRoute({ workspaces: { [KEY]: SECRET }, endpoint: "event" });
  const { profile, batch, request } = await built("event");
  const decoded = await decodeWith(route, request, NOW) as DecodedBatch;
  assert.equal(decoded.records.length, 4);
  const answer = await toTransportResponse(route.respond(decoded, accepted(4)));
  assert.deepEqual([answer.status, answer.body], [202, "OK"]);
  assert.deepEqual(profile.readResponse(answer, batch), {
    kind: "all",
    outcome: { status: "delivered" },
  });
});

Deno.test("suprsendRoute() rejects invalid events per record", async () => {
  const route = suprsendRoute({ workspaces: { [KEY]: SECRET } });
  const { request } = await built();
  const body = JSON.parse(new TextDecoder().decode(request.body));
  body[1].distinct_id = "";
  body[2].env = "another_workspace_key";
  // Re-sign the edited body the way the profile does.
  const profile = suprsendProfile({
    workspaceKey: KEY,
    workspaceSecret: SECRET,
    baseUrl: "http://127.0.0.1:9",
    variant: "v2",
  });
  const records = body.map((event: unknown, i: number) => ({
    id: `${i}`,
    key: `k${i}`,
    group: "events",
    stream: "",
    data: new TextEncoder().encode(JSON.stringify(event)),
    queuedAt: 0,
  }));
  const resigned = await profile.buildRequest(batchOf(records, "b"), NOW);
  const decoded = await decodeWith(route, resigned, NOW) as DecodedBatch;
  assert.deepEqual(decoded.records.map((record) => record.rejected?.reason), [
    undefined,
    "distinct_id is required",
    "env does not match the workspace",
    undefined,
  ]);
});

Deno.test("the receiver's own refusals on SuprSend routes (404, 405, 413) have SuprSend's error shape", async () => {
  const receiver = createReceiver({
    sink: recordingSink(),
    routes: suprsendRoutes({ workspaces: { [KEY]: SECRET } }),
  });
  await withServer(receiver, async (base) => {
    const answers = [
      await fetch(`${base}/event/`),
      await fetch(`${base}/v3/event/`, { method: "POST", body: "[]" }),
      await fetch(`${base}/v2/bulk/event/`, {
        method: "POST",
        body: "x".repeat(SUPRSEND_ROUTE_MAX_BODY_BYTES + 1),
      }),
    ];
    const seen = [];
    for (const answer of answers) seen.push([answer.status, await answer.json()]);
    for (const [, body] of seen) {
      assert.equal(typeof body.error?.message, "string", JSON.stringify(body));
      assert.deepEqual(Object.keys(body), ["error"]);
      assert.deepEqual(Object.keys(body.error), ["message"]);
    }
    assert.deepEqual(seen.map(([status]) => status), [405, 404, 413]);
  });
  await receiver.close();
});

Deno.test("suprsendRoutes() serves /event/ (object or array), /v2/event/ (one object) and /v2/bulk/event/ (array)", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({
    sink,
    routes: suprsendRoutes({ workspaces: { [KEY]: SECRET } }),
  });
  await withServer(receiver, async (base) => {
    const event = (name: string) => ({ event: name, distinct_id: "u1", properties: {}, env: KEY });
    const post = async (path: string, body: unknown) => {
      const text = new TextEncoder().encode(JSON.stringify(body));
      const date = new Date().toUTCString();
      const key = await importSuprsendKey(SECRET);
      const signature = await signSuprsend(
        key,
        suprsendStringToSign("POST", text, "application/json; charset=utf-8", date, path),
      );
      const answer = await fetch(`${base}${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          date,
          authorization: `${KEY}:${signature}`,
        },
        body: text,
      });
      return [answer.status, await answer.text()] as const;
    };
    assert.deepEqual(await post("/event/", event("single")), [202, "OK"]);
    assert.deepEqual(await post("/event/", [event("bulk1"), event("bulk2")]), [202, "OK"]);
    const [status, text] = await post("/v2/event/", { ...event("v2single"), $insert_id: "id-1" });
    assert.deepEqual([status, JSON.parse(text)], [202, { message_id: "id-1" }]);
    const [arrayStatus, arrayText] = await post("/v2/event/", [event("x")]);
    assert.equal(arrayStatus, 400);
    assert.equal(typeof JSON.parse(arrayText).error.message, "string");
    const [bulkStatus, bulkText] = await post("/v2/bulk/event/", [event("v2bulk")]);
    assert.deepEqual([bulkStatus, JSON.parse(bulkText).records[0].status], [200, "success"]);
    assert.deepEqual(sink.events.map((e) => e.event.event), [
      "single",
      "bulk1",
      "bulk2",
      "v2single",
      "v2bulk",
    ]);
  });
  await receiver.close();
});
