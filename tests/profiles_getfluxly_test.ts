import assert from "node:assert/strict";
import { createEvent } from "../src/event.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import { isIdempotencyKeyError } from "../src/errors/idempotency_key_error.ts";
import {
  GETFLUXLY_LIMITS,
  getfluxlyProfile,
  type GetfluxlyProfileOptions,
} from "../src/profiles/getfluxly/profile.ts";
import {
  assertGolden,
  batchOf,
  bodyJson,
  buildGolden,
  framedBytes,
  loadFixture,
  planBatches,
  randomText,
  recordsOf,
  response,
} from "./_profile_helpers.ts";

const OPTIONS = { token: "gflux_secret_test123" };

Deno.test("getfluxlyProfile() builds the documented batch request with X-Idempotency-Key", async () => {
  const fixture = loadFixture("getfluxly_batch.json");
  const profile = getfluxlyProfile(fixture.options as unknown as GetfluxlyProfileOptions);
  const { request } = await buildGolden(profile, fixture);
  assertGolden(request, fixture);
});

Deno.test("getfluxlyProfile() sends each alias alone to /v1/identify/alias", async () => {
  const fixture = loadFixture("getfluxly_alias.json");
  const profile = getfluxlyProfile(fixture.options as unknown as GetfluxlyProfileOptions);
  const { request } = await buildGolden(profile, fixture);
  assertGolden(request, fixture);
  const aliases = [1, 2, 3].map((i) =>
    createEvent({ type: "alias", name: "$alias", userId: `u${i}`, previousId: `p${i}` })
  );
  const tracks = [1, 2].map((i) => createEvent({ name: `t${i}`, userId: "u" }));
  const { chunks } = planBatches(profile, recordsOf(profile, [...tracks, ...aliases]));
  assert.deepEqual(chunks.map((chunk) => chunk.length), [2, 1, 1, 1]);
  await assert.rejects(
    async () =>
      await profile.buildRequest({
        id: "alias-two",
        stream: chunks[1]![0]!.stream,
        records: [chunks[1]![0]!, chunks[2]![0]!],
        attempt: 0,
      }, 0),
    /exactly 1 record/,
  );
});

Deno.test("getfluxlyProfile() refuses alias with a publishable key before queueing", () => {
  const profile = getfluxlyProfile({ token: "gflux_pub_abc" });
  assert.throws(
    () =>
      profile.encode(
        createEvent({ type: "alias", name: "$alias", userId: "u", anonymousId: "a" }),
      ),
    (error) => isEventValidationError(error) && error.message.includes("gflux_secret_"),
  );
});

Deno.test("getfluxlyProfile() validates names, property counts and the request key", async () => {
  const profile = getfluxlyProfile(OPTIONS);
  for (const name of ["Order Paid", "orderPaid", `a${"b".repeat(64)}`]) {
    assert.throws(
      () => profile.encode(createEvent({ name, userId: "u" })),
      (error) => isEventValidationError(error) && error.field === "name",
      name,
    );
  }
  const properties = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, i]));
  assert.throws(
    () => profile.encode(createEvent({ name: "ok_name", userId: "u", properties })),
    (error) => isEventValidationError(error) && error.field === "properties",
  );
  const records = recordsOf(profile, [createEvent({ name: "ok_name", userId: "u" })]);
  await assert.rejects(
    async () => await profile.buildRequest(batchOf(records, "bad key!"), 0),
    (error) => isIdempotencyKeyError(error),
  );
});

Deno.test("getfluxlyProfile() sends at most flush_at (20) events per request by default, up to the API's 100, and keeps bodies under 256 KB", async () => {
  const seedLike = getfluxlyProfile(OPTIONS);
  const small = Array.from({ length: 101 }, (_, i) => createEvent({ name: `e_${i}`, userId: "u" }));
  assert.deepEqual(
    planBatches(seedLike, recordsOf(seedLike, small)).chunks.map((chunk) => chunk.length),
    [20, 20, 20, 20, 20, 1],
  );
  const profile = getfluxlyProfile({ ...OPTIONS, maxBatchEvents: 100 });
  assert.deepEqual(
    planBatches(profile, recordsOf(profile, small)).chunks.map((chunk) => chunk.length),
    [100, 1],
  );
  assert.throws(() => getfluxlyProfile({ ...OPTIONS, maxBatchEvents: 101 }), RangeError);
  const big = Array.from(
    { length: 20 },
    (_, i) =>
      createEvent({
        name: "big",
        userId: `u${randomText(8)}`,
        properties: { blob: randomText(9000), i },
      }),
  );
  const { chunks, oversize } = planBatches(profile, recordsOf(profile, big));
  assert.equal(oversize.length, 0);
  for (const chunk of chunks) {
    const request = await profile.buildRequest(batchOf(chunk, "batch-key-1"), 0);
    assert.equal(request.body.byteLength, framedBytes(profile, chunk));
    assert.ok(request.body.byteLength <= GETFLUXLY_LIMITS.maxBatchBytes);
    assert.equal((bodyJson(request) as { events: unknown[] }).events.length, chunk.length);
  }
});

Deno.test("getfluxlyProfile() reports an event over 32 KB instead of sending it", () => {
  const profile = getfluxlyProfile(OPTIONS);
  assert.throws(
    () =>
      profile.encode(
        createEvent({ name: "big", userId: "u", properties: { b: "x".repeat(33_000) } }),
      ),
    (error) => isEventValidationError(error) && error.rule === "maxBytes",
  );
});

Deno.test("getfluxlyProfile() maps accepted/rejected/errors per record", () => {
  const profile = getfluxlyProfile(OPTIONS);
  const records = recordsOf(
    profile,
    Array.from({ length: 4 }, (_, i) => createEvent({ name: `e_${i}`, userId: "u" })),
  );
  const answer = response(202, {
    accepted: 2,
    rejected: 2,
    errors: [
      { index: 1, error: "validation_error", detail: "properties: too many keys" },
      { index: 3, error: "server_error", detail: "shard unavailable" },
      { index: 9, error: "validation_error", detail: "out of range: ignored" },
    ],
    request_id: "req_1",
  });
  assert.deepEqual(profile.readResponse(answer, batchOf(records, "batch-key-1")), {
    kind: "each",
    outcomes: [
      { status: "delivered" },
      { status: "failed", reason: "properties: too many keys", code: "validation_error" },
      { status: "delivered" },
      { status: "retry", reason: "shard unavailable", code: "server_error" },
    ],
  });
});

Deno.test("getfluxlyProfile() reads the documented error table", () => {
  const profile = getfluxlyProfile(OPTIONS);
  const batch = batchOf([], "batch-key-1");
  const table: [number, string, string][] = [
    [400, "validation_error", "failed"],
    [401, "unauthenticated", "failed"],
    [403, "wrong_key_type", "failed"],
    [404, "not_found", "failed"],
    [408, "timeout", "retry"],
    [409, "alias_conflict", "failed"],
    [425, "too_early", "retry"],
    [429, "rate_limited", "retry"],
    [500, "server_error", "retry"],
    [503, "server_error", "retry"],
  ];
  for (const [status, code, expected] of table) {
    const outcome = profile.readResponse(
      response(status, { error: code, detail: `d${status}` }),
      batch,
    );
    assert.deepEqual(outcome, {
      kind: "all",
      outcome: expected === "failed"
        ? { status: "failed", reason: `d${status}`, code }
        : { status: "retry", reason: `d${status}`, code },
    }, String(status));
  }
  assert.deepEqual(
    profile.readResponse(
      response(429, { error: "rate_limited", detail: "slow down" }, { "Retry-After": "3" }),
      batch,
    ),
    {
      kind: "all",
      outcome: { status: "retry", reason: "slow down", code: "rate_limited", retryAfterMs: 3000 },
    },
  );
  assert.equal(
    profile.readResponse(response(413, { error: "payload_too_large" }), batch).kind,
    "split",
  );
});

Deno.test("getfluxlyProfile() reads the alias answer", () => {
  const profile = getfluxlyProfile(OPTIONS);
  const records = recordsOf(profile, [
    createEvent({ type: "alias", name: "$alias", userId: "u1", anonymousId: "a1" }),
  ]);
  const batch = batchOf(records, "alias-key-1");
  const merged = {
    alias: { user_id: "u1", anonymous_id: "a1", merged_at: "2026-11-25T08:00:00Z" },
  };
  assert.deepEqual(profile.readResponse(response(200, merged), batch), {
    kind: "all",
    outcome: { status: "delivered" },
  });
  assert.deepEqual(profile.readResponse(response(200, {}), batch), {
    kind: "all",
    outcome: {
      status: "retry",
      reason: "alias response did not include alias data",
      code: "invalid_response",
    },
  });
  assert.deepEqual(
    profile.readResponse(response(409, { error: "alias_conflict", detail: "taken" }), batch),
    { kind: "all", outcome: { status: "failed", reason: "taken", code: "alias_conflict" } },
  );
});

Deno.test("getfluxlyProfile() refuses a missing token without echoing it", () => {
  assert.throws(
    () => getfluxlyProfile({ token: "" }),
    (error) => error instanceof TypeError && error.message.endsWith("current value is empty"),
  );
});
