// The five vendor profiles against requests written by hand from each
// vendor's documentation, and their reading of the vendors' answers.
import assert from "node:assert/strict";
import { createEvent, type EventInput } from "../src/event.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import type { Profile } from "../src/ports/profile.ts";
import { SEGMENT_LIMITS, segmentProfile } from "../src/profiles/segment/profile.ts";
import { rudderstackProfile } from "../src/profiles/rudderstack/profile.ts";
import { posthogProfile } from "../src/profiles/posthog/profile.ts";
import { eventUuid } from "../src/profiles/posthog/event_uuid.ts";
import { AMPLITUDE_THROTTLE_WAIT_MS, amplitudeProfile } from "../src/profiles/amplitude/profile.ts";
import { mixpanelInsertId, mixpanelProfile } from "../src/profiles/mixpanel/profile.ts";
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

type Options = Record<string, unknown>;
const GOLDEN: [string, (options: Options) => Profile][] = [
  ["segment", (options) => segmentProfile(options as never)],
  ["rudderstack", (options) => rudderstackProfile(options as never)],
  ["posthog", (options) => posthogProfile(options as never)],
  ["amplitude", (options) => amplitudeProfile(options as never)],
  ["mixpanel", (options) => mixpanelProfile(options as never)],
];

for (const [name, create] of GOLDEN) {
  Deno.test(`${name}Profile() builds the documented batch request, with the vendor's dedupe id from the event key`, async () => {
    const fixture = loadFixture(`vendors/${name}_batch.json`);
    const profile = create(fixture.options);
    const { request } = await buildGolden(profile, fixture);
    assertGolden(request, fixture);
  });
}

const track = (input: Partial<EventInput> = {}) =>
  createEvent({ name: "order_paid", userId: "user-1", ...input });

Deno.test("eventUuid() keeps a UUID key and derives the same UUIDv5 for any other key in every process", () => {
  assert.equal(
    eventUuid("F650F058-192C-4E52-B72D-9634116F59EB"),
    "f650f058-192c-4e52-b72d-9634116f59eb",
  );
  // Python: uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/idemtrack/idemtrack"), key)
  assert.equal(eventUuid("order-1234-paid"), "cdd8de45-0c2f-5121-a761-ae120196be96");
  const keys = Array.from({ length: 200 }, (_, i) => `key.${i}_${randomText(20).length}`);
  const ids = keys.map(eventUuid);
  assert.equal(new Set(ids).size, new Set(keys).size);
  for (const id of ids) {
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});

Deno.test("mixpanelInsertId() keeps keys Mixpanel accepts and turns the rest into 36 characters of [0-9a-f-]", () => {
  assert.equal(mixpanelInsertId("order-1234-paid"), "order-1234-paid");
  for (const key of ["with_underscore", "dots.in.it", "x".repeat(37), "y".repeat(64)]) {
    const id = mixpanelInsertId(key);
    assert.match(id, /^[A-Za-z0-9-]{36}$/, key);
    assert.equal(id, mixpanelInsertId(key));
  }
});

Deno.test("vendor profiles refuse calls the vendor cannot take at encode(), naming the field", () => {
  const cases: [Profile, EventInput, string][] = [
    [segmentProfile({ writeKey: "wk" }), { name: "x" }, "userId"],
    [
      segmentProfile({ writeKey: "wk" }),
      { type: "alias", name: "$alias", userId: "u" },
      "previousId",
    ],
    [posthogProfile({ apiKey: "phc" }), { name: "x" }, "userId"],
    [amplitudeProfile({ apiKey: "k" }), {
      type: "alias",
      name: "$alias",
      userId: "user-1",
      previousId: "p-1234",
    }, "type"],
    [amplitudeProfile({ apiKey: "k" }), { name: "x", userId: "u1" }, "userId"],
    [mixpanelProfile({ projectToken: "t", apiSecret: "s" }), { name: "x" }, "userId"],
  ];
  for (const [profile, input, field] of cases) {
    assert.throws(
      () => profile.encode(createEvent(input)),
      (error) => isEventValidationError(error) && error.field === field,
      `${profile.name} ${JSON.stringify(input)}`,
    );
  }
  assert.doesNotThrow(() =>
    amplitudeProfile({ apiKey: "k", minIdLength: 2 }).encode(
      createEvent({ name: "x", userId: "u1" }),
    )
  );
  const tooMany = Object.fromEntries(Array.from({ length: 252 }, (_, i) => [`p${i}`, i]));
  assert.throws(
    () =>
      mixpanelProfile({ projectToken: "t", apiSecret: "s" }).encode(track({ properties: tooMany })),
    (error) => isEventValidationError(error) && error.field === "properties",
  );
});

Deno.test("vendor profiles fail at once on misconfiguration, without echoing secrets", () => {
  assert.throws(() => segmentProfile({ writeKey: "" }), /'writeKey' must be a non-empty string/);
  assert.throws(
    () => segmentProfile({ writeKey: "wk", baseUrl: "api.segment.io" }),
    /'baseUrl' must be an absolute URL/,
  );
  assert.throws(() => rudderstackProfile({ writeKey: "wk", dataPlaneUrl: "" }), TypeError);
  assert.throws(() => posthogProfile({ apiKey: " " }), /'apiKey'.*current value is empty/);
  assert.throws(() => amplitudeProfile({ apiKey: "k", minIdLength: 0 }), RangeError);
  assert.throws(() => mixpanelProfile({ projectToken: "t" }), /'apiSecret' must be given/);
  assert.throws(
    () =>
      mixpanelProfile({
        projectToken: "t",
        serviceAccountUsername: "sa",
        serviceAccountSecret: "hunter2",
      }),
    (error) =>
      error instanceof TypeError && /projectId/.test(error.message) &&
      !error.message.includes("hunter2"),
  );
});

Deno.test("segmentProfile() fills requests up to 500 KB and refuses a call over 32 KB", async () => {
  const profile = segmentProfile({ writeKey: "wk" });
  // ~18 KB of UTF-8 each (1-3 bytes a character, quotes and escapes included): 60 of them need
  // at least three requests of at most 500 KB.
  const blob = 'é✓a"\\\n'.repeat(1500);
  const events = Array.from({ length: 60 }, (_, n) => track({ properties: { n, blob } }));
  const { chunks, oversize } = planBatches(profile, recordsOf(profile, events));
  assert.equal(oversize.length, 0);
  assert.ok(chunks.length >= 3, `${chunks.length} requests`);
  for (const chunk of chunks) {
    const request = await profile.buildRequest(batchOf(chunk, "batch-0001"), 0);
    assert.equal(request.body.byteLength, framedBytes(profile, chunk));
    assert.ok(request.body.byteLength <= SEGMENT_LIMITS.maxBatchBytes);
  }
  assert.throws(
    () => profile.encode(track({ properties: { blob: "x".repeat(33 * 1024) } })),
    (error) => isEventValidationError(error) && error.rule === "maxBytes",
  );
});

Deno.test("amplitudeProfile() and mixpanelProfile() start a new request with the 2001st event", () => {
  for (
    const profile of [
      amplitudeProfile({ apiKey: "k" }),
      mixpanelProfile({ projectToken: "t", apiSecret: "s" }),
    ]
  ) {
    const events = Array.from({ length: 2001 }, (_, n) => track({ properties: { n } }));
    const { chunks } = planBatches(profile, recordsOf(profile, events));
    assert.deepEqual(chunks.map((chunk) => chunk.length), [2000, 1], profile.name);
  }
});

Deno.test("segmentProfile() reads statuses as analytics-node does: 400 and 501 final, 429 waits Retry-After, 413 splits", () => {
  const profile = segmentProfile({ writeKey: "wk" });
  const batch = batchOf(recordsOf(profile, [track()]), "batch-0001");
  assert.deepEqual(profile.readResponse(response(200, { success: true }), batch), {
    kind: "all",
    outcome: { status: "delivered" },
  });
  const bad = profile.readResponse(
    response(400, { success: false, message: "Invalid JSON" }),
    batch,
  );
  assert.deepEqual(bad, {
    kind: "all",
    outcome: { status: "failed", code: 400, reason: "Invalid JSON" },
  });
  assert.equal(
    (profile.readResponse(response(501), batch) as { outcome: { status: string } }).outcome.status,
    "failed",
  );
  assert.equal(
    (profile.readResponse(response(460), batch) as { outcome: { status: string } }).outcome.status,
    "retry",
  );
  assert.deepEqual(profile.readResponse(response(429, "", { "retry-after": "7" }), batch), {
    kind: "all",
    outcome: { status: "retry", code: 429, reason: "HTTP 429", retryAfterMs: 7000 },
  });
  assert.equal(profile.readResponse(response(413), batch).kind, "split");
});

Deno.test("posthogProfile() retries 5xx and 429, splits on 413 and fails on a bad key", () => {
  const profile = posthogProfile({ apiKey: "phc" });
  const batch = batchOf(recordsOf(profile, [track()]), "batch-0001");
  const status = (code: number, body: unknown = "") => {
    const outcome = profile.readResponse(response(code, body), batch);
    return outcome.kind === "all" ? outcome.outcome.status : outcome.kind;
  };
  assert.equal(status(200, { status: "Ok" }), "delivered");
  assert.equal(status(503), "retry");
  assert.equal(status(429), "retry");
  assert.equal(status(413), "split");
  assert.equal(
    status(401, {
      type: "authentication_error",
      code: "invalid_api_key",
      detail: "Project API key invalid",
    }),
    "failed",
  );
});

Deno.test("amplitudeProfile() reads the body's code: a 400 fails only the listed events, a 429 fails quota-exceeded users and delays throttled events", () => {
  const profile = amplitudeProfile({ apiKey: "k" });
  const events = ["user-1", "user-2", "user-3"].map((userId) => track({ userId }));
  const batch = batchOf(recordsOf(profile, events), "batch-0001");
  const invalid = profile.readResponse(
    response(400, {
      code: 400,
      error: "Request has events with invalid fields",
      events_with_invalid_fields: { time: [1] },
      events_with_missing_fields: {},
    }),
    batch,
  );
  assert.equal(invalid.kind, "each");
  assert.deepEqual(
    invalid.kind === "each" ? invalid.outcomes.map((outcome) => outcome.status) : [],
    ["retry", "failed", "retry"],
  );
  const keyError = profile.readResponse(
    response(400, { code: 400, error: "Invalid API key: k" }),
    batch,
  );
  assert.equal(keyError.kind === "all" && keyError.outcome.status, "failed");
  const throttled = profile.readResponse(
    response(429, {
      code: 429,
      error: "Too many requests for some devices and users",
      exceeded_daily_quota_users: { "user-3": 500000 },
      throttled_events: [0],
    }),
    batch,
  );
  assert.equal(throttled.kind, "each");
  if (throttled.kind === "each") {
    assert.deepEqual(throttled.outcomes.map((outcome) => outcome.status), [
      "retry",
      "retry",
      "failed",
    ]);
    const first = throttled.outcomes[0]!;
    assert.equal(first.status === "retry" && first.retryAfterMs, AMPLITUDE_THROTTLE_WAIT_MS);
  }
  // The body's code wins over the status line, as analytics-node reads it.
  const tooLarge = profile.readResponse(
    response(200, { code: 413, error: "Payload too large" }),
    batch,
  );
  assert.equal(tooLarge.kind, "split");
});

Deno.test("mixpanelProfile() counts a strict 400's other records as imported and fails the listed ones", () => {
  const profile = mixpanelProfile({ projectToken: "t", apiSecret: "s" });
  const batch = batchOf(recordsOf(profile, [track(), track(), track()]), "batch-0001");
  const outcome = profile.readResponse(
    response(400, {
      code: 400,
      error: "some data points in the request failed validation",
      failed_records: [{ index: 2, $insert_id: "x", field: "properties.time", message: "too old" }],
      num_records_imported: 2,
      status: "Bad Request",
    }),
    batch,
  );
  assert.deepEqual(outcome, {
    kind: "each",
    outcomes: [
      { status: "delivered" },
      { status: "delivered" },
      { status: "failed", code: 400, reason: "properties.time: too old" },
    ],
  });
  const limited = profile.readResponse(response(429, "", { "retry-after": "3" }), batch);
  assert.deepEqual(limited.kind === "all" && limited.outcome, {
    status: "retry",
    code: 429,
    reason: "HTTP 429",
    retryAfterMs: 3000,
  });
});
