import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createEvent } from "../src/event.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import { isIdempotencyKeyError } from "../src/errors/idempotency_key_error.ts";
import {
  SAASQUATCH_FRAMING,
  saasquatchProfile,
  type SaasquatchProfileOptions,
} from "../src/profiles/saasquatch/profile.ts";
import {
  assertGolden,
  batchOf,
  buildGolden,
  framedBytes,
  loadFixture,
  planBatches,
  randomText,
  recordsOf,
  response,
} from "./_profile_helpers.ts";

const OPTIONS = { tenantAlias: "test_abc", apiKey: "API_KEY" };
const BATCHED = { ...OPTIONS, callKey: "batch" } as const;

Deno.test("saasquatchProfile() builds the documented REST request with Basic auth", async () => {
  const fixture = loadFixture("saasquatch_purchase.json");
  const profile = saasquatchProfile(fixture.options as unknown as SaasquatchProfileOptions);
  const { request } = await buildGolden(profile, fixture);
  assertGolden(request, fixture);
  assert.equal(
    request.headers.Authorization,
    `Basic ${Buffer.from(":API_KEY").toString("base64")}`,
  );
});

Deno.test("saasquatchProfile() URL-encodes path segments, defaults accountId to userId and sends a JWT", async () => {
  const fixture = loadFixture("saasquatch_jwt_encoded_path.json");
  const profile = saasquatchProfile(fixture.options as unknown as SaasquatchProfileOptions);
  const { request } = await buildGolden(profile, fixture);
  assertGolden(request, fixture);
  assert.equal(request.headers.Authorization, undefined);
});

Deno.test("saasquatchProfile() can send the JWT as a Bearer token", async () => {
  const profile = saasquatchProfile({ tenantAlias: "t", jwt: "j.w.t", jwtHeader: "bearer" });
  const [record] = recordsOf(profile, [createEvent({ name: "x", userId: "u" })]);
  const request = await profile.buildRequest(batchOf([record!], "batch-key-1"), 0);
  assert.equal(request.headers.Authorization, "Bearer j.w.t");
  assert.equal(request.headers["X-SaaSquatch-User-Token"], undefined);
});

Deno.test("saasquatchProfile() never puts two users' events in one request", () => {
  const profile = saasquatchProfile(BATCHED);
  const events = [
    createEvent({ name: "a", userId: "u1" }),
    createEvent({ name: "b", userId: "u2" }),
    createEvent({ name: "c", userId: "u1", context: { accountId: "acc" } }),
    createEvent({ name: "d", userId: "u1" }),
  ];
  const { chunks } = planBatches(profile, recordsOf(profile, events));
  assert.deepEqual(
    chunks.map((chunk) => chunk.map((record) => record.stream)),
    [["u1/u1", "u1/u1"], ["u2/u2"], ["acc/u1"]],
  );
});

Deno.test("saasquatchProfile() with callKey batch rejects a batch key that breaks the strict policy before sending", () => {
  const profile = saasquatchProfile(BATCHED);
  const records = recordsOf(profile, [createEvent({ name: "x", userId: "u" })]);
  for (const [id, rule] of [["short", "minLength"], ["has a space", "pattern"]] as const) {
    assert.throws(
      () => profile.buildRequest(batchOf(records, id), 0),
      (error) =>
        isIdempotencyKeyError(error) && error.rule === rule && error.policy === "strict" &&
        error.message.includes("8–64 characters"),
    );
  }
});

Deno.test("saasquatchProfile() refuses field strings over 1500 UTF-8 bytes and arrays of arrays", () => {
  const profile = saasquatchProfile(OPTIONS);
  const ok = createEvent({ name: "x", userId: "u", properties: { note: "é".repeat(750) } });
  assert.doesNotThrow(() => profile.encode(ok));
  const long = createEvent({
    name: "x",
    userId: "u",
    properties: { nested: { list: ["a", "é".repeat(751)] } },
  });
  assert.throws(
    () => profile.encode(long),
    (error) =>
      isEventValidationError(error) && error.field === "properties.nested.list[1]" &&
      error.rule === "maxBytes" && error.message.includes("1502 UTF-8 bytes"),
  );
  const nestedArray = createEvent({ name: "x", userId: "u", properties: { m: [[1, 2]] } });
  assert.throws(
    () => profile.encode(nestedArray),
    (error) => isEventValidationError(error) && error.field === "properties.m[0]",
  );
});

Deno.test("saasquatchProfile() accepts only track events of a known user", () => {
  const profile = saasquatchProfile(OPTIONS);
  assert.throws(
    () => profile.encode(createEvent({ type: "identify", name: "$identify", userId: "u" })),
    (error) => isEventValidationError(error) && error.field === "type",
  );
  assert.throws(
    () => profile.encode(createEvent({ name: "x", anonymousId: "anon" })),
    (error) => isEventValidationError(error) && error.field === "userId",
  );
});

Deno.test("saasquatchProfile() with callKey batch starts a new request with the 101st event of a user", async () => {
  const profile = saasquatchProfile(BATCHED);
  const events = Array.from({ length: 101 }, (_, i) => createEvent({ name: `e${i}`, userId: "u" }));
  const { chunks, oversize } = planBatches(profile, recordsOf(profile, events));
  assert.deepEqual(chunks.map((chunk) => chunk.length), [100, 1]);
  assert.equal(oversize.length, 0);
  const request = await profile.buildRequest(batchOf(chunks[0]!, "batch-key-1"), 0);
  const body = JSON.parse(new TextDecoder().decode(request.body));
  assert.equal(body.events.length, 100);
  assert.equal(body.events[99].key, "e99");
});

Deno.test("saasquatchProfile() reports an event larger than the body cap instead of queueing it", () => {
  const profile = saasquatchProfile({ ...OPTIONS, maxBatchBytes: 10_000 });
  const properties = Object.fromEntries(
    Array.from({ length: 10 }, (_, i) => [`f${i}`, "x".repeat(1500)]),
  );
  assert.throws(
    () => profile.encode(createEvent({ name: "big", userId: "u", properties })),
    (error) =>
      isEventValidationError(error) && error.rule === "maxBytes" && error.field === "event",
  );
});

Deno.test("saasquatchProfile() framing bounds every body and counts items exactly", async () => {
  const profile = saasquatchProfile({ ...OPTIONS, maxBatchBytes: 8_000 });
  for (let round = 0; round < 20; round++) {
    const userId = `u${randomText(40)}`;
    const events = Array.from(
      { length: 1 + Math.floor(Math.random() * 60) },
      () =>
        createEvent({
          name: `n${randomText(20)}`,
          userId,
          context: { accountId: `a${randomText(40)}` },
          properties: { text: randomText(200), n: Math.random() },
        }),
    );
    const { chunks } = planBatches(profile, recordsOf(profile, events));
    for (const chunk of chunks) {
      const request = await profile.buildRequest(batchOf(chunk, `key-${round}-abcdef`), 0);
      const body = new TextDecoder().decode(request.body);
      const envelope = body.slice(0, body.indexOf('"events":[') + 10) + "]}";
      const envelopeBytes = new TextEncoder().encode(envelope).byteLength;
      assert.ok(envelopeBytes <= SAASQUATCH_FRAMING.emptyBytes);
      assert.equal(
        request.body.byteLength - envelopeBytes,
        framedBytes(profile, chunk) - SAASQUATCH_FRAMING.emptyBytes,
      );
      assert.ok(request.body.byteLength <= profile.limits.maxBatchBytes);
      JSON.parse(body);
    }
  }
});

Deno.test("saasquatchProfile() reads 200 as delivered and 409 as duplicate", () => {
  const profile = saasquatchProfile(OPTIONS);
  const batch = batchOf([], "batch-key-1");
  const ok = response(200, { userId: "u", accountId: "a", events: [{ id: "e1", key: "x" }] });
  assert.deepEqual(profile.readResponse(ok, batch), {
    kind: "all",
    outcome: { status: "delivered" },
  });
  assert.deepEqual(profile.readResponse(response(409, ""), batch), {
    kind: "all",
    outcome: { status: "duplicate" },
  });
});

Deno.test("saasquatchProfile() reads the documented errors per the error table", () => {
  const profile = saasquatchProfile(OPTIONS);
  const batch = batchOf([], "batch-key-1");
  const error = (status: number, message: string, apiErrorCode: string) =>
    response(status, { statusCode: status, message, apiErrorCode });
  for (const status of [400, 401, 402, 403, 404]) {
    assert.deepEqual(profile.readResponse(error(status, `m${status}`, `C${status}`), batch), {
      kind: "all",
      outcome: { status: "failed", reason: `m${status}`, code: `C${status}` },
    });
  }
  assert.deepEqual(
    profile.readResponse(
      response(429, { message: "Rate limit exceeded", apiErrorCode: "RS033" }, {
        "Retry-After": "7",
      }),
      batch,
    ),
    {
      kind: "all",
      outcome: {
        status: "retry",
        reason: "Rate limit exceeded",
        code: "RS033",
        retryAfterMs: 7000,
      },
    },
  );
  for (const status of [500, 502, 503]) {
    const outcome = profile.readResponse(response(status, "<html>oops</html>"), batch);
    assert.deepEqual(outcome, {
      kind: "all",
      outcome: { status: "retry", reason: "<html>oops</html>", code: status },
    });
  }
  assert.equal(profile.readResponse(response(413, ""), batch).kind, "split");
});

Deno.test("saasquatchProfile() refuses bad options without echoing secrets", () => {
  assert.throws(() => saasquatchProfile({ tenantAlias: "t" }), TypeError);
  assert.throws(
    () => saasquatchProfile({ tenantAlias: "t", apiKey: "k", jwt: "j" }),
    /exactly one of 'apiKey' and 'jwt'/,
  );
  assert.throws(() => saasquatchProfile({ tenantAlias: "", apiKey: "k" }), /'tenantAlias'/);
  assert.throws(
    () => saasquatchProfile({ tenantAlias: "t", apiKey: " " }),
    (error) => error instanceof TypeError && error.message.endsWith("current value is empty"),
  );
  assert.throws(
    () => saasquatchProfile({ ...OPTIONS, maxBatchEvents: 0 }),
    /'maxBatchEvents' must be a positive integer: current value is 0/,
  );
});
