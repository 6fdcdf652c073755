import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createEvent } from "../src/event.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import {
  SKALIN_RATE_LIMIT,
  skalinProfile,
  type SkalinProfileOptions,
} from "../src/profiles/skalin/profile.ts";
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

const OPTIONS = { clientId: "2bb91c92dr779103" };
const sha16 = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);

Deno.test("skalinProfile() builds the documented bulk request of identities and features", async () => {
  const fixture = loadFixture("skalin_bulk.json");
  const profile = skalinProfile(fixture.options as unknown as SkalinProfileOptions);
  const { request } = await buildGolden(profile, fixture);
  assertGolden(request, fixture);
});

Deno.test("skalinProfile() sends a caller's 16-character eventId as given, derives it otherwise, and leaves a missing visitId to Skalin", () => {
  const profile = skalinProfile(OPTIONS);
  const decode = (input: Parameters<typeof createEvent>[0]) =>
    JSON.parse(new TextDecoder().decode(profile.encode(createEvent(input)).data));
  const timestamp = Date.UTC(2026, 10, 25, 23, 59, 59);
  const given = decode({
    name: "feat",
    userId: "u7",
    idempotencyKey: "sqfdpolsijrfitof",
    timestamp,
  });
  assert.equal(given.eventId, "sqfdpolsijrfitof");
  const hit = decode({ name: "feat", userId: "u7", idempotencyKey: "key-000001", timestamp });
  assert.equal(hit.eventId, sha16("key-000001"));
  assert.equal(hit.ts, "2026-11-25T23:59:59");
  // No visitId given: none is sent, so Skalin gives every event of the request the same visit.
  assert.equal("visitId" in hit, false);
  const generated = decode({ name: "feat", userId: "u7" });
  assert.match(generated.eventId, /^[0-9a-f]{16}$/);
  const session = decode({ name: "feat", userId: "u7", context: { sessionId: "s-1" } });
  assert.equal(session.visitId, sha16("session|s-1"));
  const visit = decode({ name: "feat", userId: "u7", context: { visitId: "9c915a48e71cdd42" } });
  assert.equal(visit.visitId, "9c915a48e71cdd42");
  assert.throws(
    () => decode({ name: "feat", userId: "u7", context: { visitId: "too-short" } }),
    (error) => isEventValidationError(error) && error.field === "context.visitId",
  );
});

Deno.test("skalinProfile() needs an identity and refuses alias", () => {
  const profile = skalinProfile(OPTIONS);
  assert.throws(
    () => profile.encode(createEvent({ name: "feat", anonymousId: "anon" })),
    (error) => isEventValidationError(error) && error.field === "userId",
  );
  assert.throws(
    () =>
      profile.encode(createEvent({ type: "alias", name: "$alias", userId: "u", previousId: "p" })),
    (error) => isEventValidationError(error) && error.field === "type",
  );
  const byEmail = profile.encode(
    createEvent({
      type: "identify",
      name: "$identify",
      anonymousId: "a",
      properties: { email: "e@x.io" },
    }),
  );
  assert.equal(byEmail.group, "identities");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(byEmail.data)).identity, {
    email: "e@x.io",
  });
});

Deno.test("skalinProfile() starts a new request with the 101st item of one type", async () => {
  const profile = skalinProfile(OPTIONS);
  const identities = Array.from(
    { length: 100 },
    (_, i) => createEvent({ type: "identify", name: "$identify", userId: `u${i}` }),
  );
  const features = Array.from(
    { length: 101 },
    (_, i) => createEvent({ name: `f${i}`, userId: "u" }),
  );
  const { chunks } = planBatches(profile, recordsOf(profile, [...identities, ...features]));
  assert.equal(chunks.length, 2);
  const bodies = await Promise.all(
    chunks.map(async (chunk) =>
      bodyJson(await profile.buildRequest(batchOf(chunk, "b"), 0)) as {
        identities: unknown[];
        features: { name: string }[];
      }
    ),
  );
  assert.deepEqual(bodies.map((body) => [body.identities.length, body.features.length]), [
    [100, 100],
    [0, 1],
  ]);
  assert.equal(bodies[1]!.features[0]!.name, "f100");
});

Deno.test("skalinProfile() framing predicts the exact body size for random inputs", async () => {
  const profile = skalinProfile({ ...OPTIONS, maxBatchBytes: 6_000 });
  for (let round = 0; round < 20; round++) {
    const events = Array.from(
      { length: 1 + Math.floor(Math.random() * 150) },
      (_, i) =>
        createEvent({
          type: Math.random() < 0.4 ? "identify" : "track",
          name: `n${randomText(15)}`,
          userId: `u${randomText(20)}`,
          context: { url: `https://x.io/${randomText(40)}`, email: `${i}@x.io` },
        }),
    );
    const { chunks, oversize } = planBatches(profile, recordsOf(profile, events));
    assert.equal(oversize.length, 0);
    for (const chunk of chunks) {
      const request = await profile.buildRequest(batchOf(chunk, "b"), 0);
      assert.equal(request.body.byteLength, framedBytes(profile, chunk));
      assert.ok(request.body.byteLength <= 6_000);
      const body = bodyJson(request) as { identities: unknown[]; features: unknown[] };
      assert.equal(body.identities.length + body.features.length, chunk.length);
    }
  }
});

Deno.test("skalinProfile() reports an oversize hit instead of sending it", () => {
  const profile = skalinProfile({ ...OPTIONS, maxBatchBytes: 1_000 });
  const event = createEvent({
    name: "f",
    userId: "u",
    context: { url: `https://x.io/${"a".repeat(1_000)}` },
  });
  assert.throws(
    () => profile.encode(event),
    (error) => isEventValidationError(error) && error.rule === "maxBytes",
  );
});

Deno.test("skalinProfile() applies Skalin's rate limit unless turned off", () => {
  assert.deepEqual(skalinProfile(OPTIONS).rateLimit, { requestsPerSecond: 100, burst: 500 });
  assert.equal(skalinProfile(OPTIONS).rateLimit, SKALIN_RATE_LIMIT);
  assert.equal(skalinProfile({ ...OPTIONS, rateLimit: false }).rateLimit, undefined);
  const custom = { requestsPerSecond: 5, burst: 5 };
  assert.equal(skalinProfile({ ...OPTIONS, rateLimit: custom }).rateLimit, custom);
});

Deno.test("skalinProfile() counts only HTTP 200 as accepted", () => {
  const profile = skalinProfile(OPTIONS);
  const batch = batchOf([], "b");
  assert.deepEqual(profile.readResponse(response(200, ""), batch), {
    kind: "all",
    outcome: { status: "delivered" },
  });
  assert.equal(
    (profile.readResponse(response(204, ""), batch) as { outcome: { status: string } }).outcome
      .status,
    "retry",
  );
  assert.deepEqual(profile.readResponse(response(429, "", { "Retry-After": "1" }), batch), {
    kind: "all",
    outcome: { status: "retry", reason: "HTTP 429", code: 429, retryAfterMs: 1000 },
  });
  assert.deepEqual(profile.readResponse(response(400, "bad client_id"), batch), {
    kind: "all",
    outcome: { status: "failed", reason: "bad client_id", code: 400 },
  });
});

Deno.test("skalinProfile() refuses bad options", () => {
  assert.throws(() => skalinProfile({ clientId: "" }), /'clientId' must be a non-empty string/);
  assert.throws(() => skalinProfile({ ...OPTIONS, maxBatchBytes: 10 }), RangeError);
});
