import assert from "node:assert/strict";
import { createEvent } from "../src/event.ts";
import type { DecodedBatch } from "../src/receiver/route.ts";
import { suprsendProfile } from "../src/profiles/suprsend/profile.ts";
import { suprsendRoute } from "../src/profiles/suprsend/route.ts";
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

async function built(variant: "v2" | "legacy" = "v2", secret = SECRET) {
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

Deno.test("suprsendRoute() legacy variant answers 202 OK, read as delivered", async () => {
  const route = suprsendRoute({ workspaces: { [KEY]: SECRET }, variant: "legacy" });
  const { profile, batch, request } = await built("legacy");
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
