import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { createEvent } from "../src/event.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import type { PreparedRequest } from "../src/ports/profile.ts";
import {
  SUPRSEND_LIMITS,
  suprsendProfile,
  type SuprsendProfileOptions,
  toSuprsendBulkResponse,
} from "../src/profiles/suprsend/profile.ts";
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

const OPTIONS = { workspaceKey: "ws_key_0123456789abcd", workspaceSecret: "ws_secret_value" };

/** SuprSend's documented signature, computed with node:crypto. */
function expectedAuthorization(request: PreparedRequest, key: string, secret: string): string {
  const md5 = createHash("md5").update(request.body).digest("hex");
  const url = new URL(request.url);
  const stringToSign = [
    "POST",
    md5,
    "application/json; charset=utf-8",
    request.headers.Date,
    url.pathname + url.search,
  ].join("\n");
  return `${key}:${createHmac("sha256", secret).update(stringToSign).digest("base64")}`;
}

Deno.test("suprsendProfile() builds the documented signed v2 bulk request", async () => {
  const fixture = loadFixture("suprsend_bulk.json");
  const profile = suprsendProfile(fixture.options as unknown as SuprsendProfileOptions);
  const { request } = await buildGolden(profile, fixture);
  assertGolden(request, fixture);
  assert.equal(
    request.headers.Authorization,
    expectedAuthorization(request, OPTIONS.workspaceKey, OPTIONS.workspaceSecret),
  );
});

Deno.test("suprsendProfile() posts the array to /event/ by default, as the official Node SDK does, with the same signing", async () => {
  const fixture = loadFixture("suprsend_legacy.json");
  const profile = suprsendProfile(fixture.options as unknown as SuprsendProfileOptions);
  const { request } = await buildGolden(profile, fixture);
  assertGolden(request, fixture);
  assert.equal(
    request.headers.Authorization,
    expectedAuthorization(request, OPTIONS.workspaceKey, OPTIONS.workspaceSecret),
  );
});

Deno.test("suprsendProfile() signs the full request path when baseUrl has a prefix", async () => {
  const profile = suprsendProfile({
    ...OPTIONS,
    variant: "v2",
    baseUrl: "http://127.0.0.1:8080/suprsend/",
  });
  const records = recordsOf(profile, [createEvent({ name: "ev", userId: "u" })]);
  const request = await profile.buildRequest(batchOf(records, "b1"), 1_700_000_000_000);
  assert.equal(request.url, "http://127.0.0.1:8080/suprsend/v2/bulk/event/");
  assert.equal(request.headers.Date, "Tue, 14 Nov 2023 22:13:20 GMT");
  assert.equal(
    request.headers.Authorization,
    expectedAuthorization(request, OPTIONS.workspaceKey, OPTIONS.workspaceSecret),
  );
  const wrongSecret = expectedAuthorization(request, OPTIONS.workspaceKey, "other");
  assert.notEqual(request.headers.Authorization, wrongSecret);
});

Deno.test("suprsendProfile() derives a stable v4-shaped $insert_id from a non-UUID key", () => {
  const profile = suprsendProfile(OPTIONS);
  const key = "user147 new comment 1687437670";
  const encode = () =>
    JSON.parse(
      new TextDecoder().decode(
        profile.encode(
          createEvent({ name: "ev", userId: "u", idempotencyKey: key }, {
            keyPolicy: profile.keyPolicy,
          }),
        ).data,
      ),
    );
  const first = encode();
  assert.equal(first.$idempotency_key, key);
  assert.equal(encode().$insert_id, first.$insert_id);
  assert.match(
    first.$insert_id,
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  const hex = createHash("sha256").update(key).digest("hex");
  assert.equal(first.$insert_id.replaceAll("-", "").slice(0, 12), hex.slice(0, 12));
  assert.equal(first.$insert_id.slice(-12), hex.slice(20, 32));
});

Deno.test("suprsendProfile() starts a new request with the 101st event", async () => {
  const profile = suprsendProfile(OPTIONS);
  const events = Array.from(
    { length: 101 },
    (_, i) => createEvent({ name: `ev${i}`, userId: "u" }),
  );
  const { chunks } = planBatches(profile, recordsOf(profile, events));
  assert.deepEqual(chunks.map((chunk) => chunk.length), [100, 1]);
  const body = bodyJson(await profile.buildRequest(batchOf(chunks[1]!, "b2"), 0));
  assert.deepEqual((body as { event: string }[]).map((event) => event.event), ["ev100"]);
});

Deno.test("suprsendProfile() keeps bodies under 800 KB with exact framing sizes", async () => {
  const profile = suprsendProfile(OPTIONS);
  const events = Array.from(
    { length: 12 },
    (_, i) =>
      createEvent({ name: `ev${i}`, userId: "u", properties: { blob: "x".repeat(95_000 + i) } }),
  );
  for (let i = 0; i < 30; i++) {
    events.push(
      createEvent({
        name: `r${i}`,
        userId: `u${randomText(10)}`,
        properties: { t: randomText(300) },
      }),
    );
  }
  const { chunks, oversize } = planBatches(profile, recordsOf(profile, events));
  assert.equal(oversize.length, 0);
  assert.ok(chunks.length >= 2);
  for (const chunk of chunks) {
    const request = await profile.buildRequest(batchOf(chunk, "b"), 0);
    assert.equal(request.body.byteLength, framedBytes(profile, chunk));
    assert.ok(request.body.byteLength <= SUPRSEND_LIMITS.maxBatchBytes);
    assert.equal((bodyJson(request) as unknown[]).length, chunk.length);
  }
});

Deno.test("suprsendProfile() reports an event over 100 KB instead of sending it", () => {
  const profile = suprsendProfile(OPTIONS);
  const big = createEvent({ name: "ev", userId: "u", properties: { blob: "é".repeat(51_200) } });
  assert.throws(
    () => profile.encode(big),
    (error) =>
      isEventValidationError(error) && error.rule === "maxBytes" &&
      error.message.includes("at most 102400 bytes"),
  );
});

Deno.test("suprsendProfile() requires a userId and an event name of at least 2 characters", () => {
  const profile = suprsendProfile(OPTIONS);
  assert.throws(
    () => profile.encode(createEvent({ name: "e", userId: "u" })),
    (error) => isEventValidationError(error) && error.field === "name",
  );
  assert.throws(
    () => profile.encode(createEvent({ name: "ev", anonymousId: "a" })),
    (error) => isEventValidationError(error) && error.field === "userId",
  );
});

Deno.test("suprsendProfile() maps v2 bulk records to per-record outcomes in order", () => {
  const profile = suprsendProfile({ ...OPTIONS, variant: "v2" });
  const records = recordsOf(
    profile,
    Array.from({ length: 5 }, (_, i) => createEvent({ name: `ev${i}`, userId: "u" })),
  );
  const answer = response(200, {
    records: [
      { status: "success", status_code: 202, error: null },
      { status: "error", status_code: 400, error: { message: "distinct_id missing" } },
      { status: "error", status_code: 500, error: { message: "internal" } },
      { status: "error", status_code: 429, error: null },
    ],
  });
  assert.deepEqual(profile.readResponse(answer, batchOf(records, "b")), {
    kind: "each",
    outcomes: [
      { status: "delivered" },
      { status: "failed", reason: "distinct_id missing", code: 400 },
      { status: "retry", reason: "internal", code: 500 },
      { status: "retry", reason: "record status 429", code: 429 },
      { status: "retry", reason: "no result for this record", code: "missing_record" },
    ],
  });
});

Deno.test("suprsendProfile() reads request-level errors from the error table", () => {
  const profile = suprsendProfile(OPTIONS);
  const batch = batchOf([], "b");
  assert.deepEqual(
    profile.readResponse(response(401, { error: { message: "signature mismatch" } }), batch),
    { kind: "all", outcome: { status: "failed", reason: "signature mismatch", code: 401 } },
  );
  assert.equal(profile.readResponse(response(413, ""), batch).kind, "split");
  assert.deepEqual(
    profile.readResponse(response(503, "", { "Retry-After": "2" }), batch),
    {
      kind: "all",
      outcome: { status: "retry", reason: "HTTP 503", code: 503, retryAfterMs: 2000 },
    },
  );
  const legacy = suprsendProfile({ ...OPTIONS, variant: "legacy" });
  assert.deepEqual(legacy.readResponse(response(202, "OK"), batch), {
    kind: "all",
    outcome: { status: "delivered" },
  });
});

Deno.test("toSuprsendBulkResponse() gives the SDK's success, partial and fail shapes", () => {
  const ok = { status: "delivered" } as const;
  const bad = { status: "failed", reason: "error_str", code: 500 } as const;
  assert.deepEqual(toSuprsendBulkResponse([{ record: { a: 1 }, outcome: ok }]), {
    status: "success",
    total: 1,
    success: 1,
    failure: 0,
    failed_records: [],
  });
  assert.deepEqual(
    toSuprsendBulkResponse([
      { record: { a: 1 }, outcome: { status: "duplicate" } },
      { record: { b: 2 }, outcome: bad },
    ]),
    {
      status: "partial",
      total: 2,
      success: 1,
      failure: 1,
      failed_records: [{ record: { b: 2 }, error: "error_str", code: 500 }],
    },
  );
  assert.equal(toSuprsendBulkResponse([{ record: null, outcome: bad }]).status, "fail");
});

Deno.test("suprsendProfile() refuses bad options without echoing the secret", () => {
  assert.throws(
    () => suprsendProfile({ workspaceKey: "k", workspaceSecret: "" }),
    (error) =>
      error instanceof TypeError && error.message.includes("'workspaceSecret'") &&
      error.message.endsWith("current value is empty"),
  );
  assert.throws(
    () => suprsendProfile({ ...OPTIONS, variant: "v3" as "v2" }),
    /'variant' must be "event", "v2" or "legacy"/,
  );
  assert.throws(() => suprsendProfile({ ...OPTIONS, baseUrl: "hub" }), /'baseUrl'/);
});

Deno.test("suprsendProfile() refuses an attachment URL that cannot be public before it is queued, unless it may be ignored", () => {
  const profile = suprsendProfile(OPTIONS);
  for (
    const url of [
      "http://localhost/a.pdf",
      "http://127.0.0.1/a.pdf",
      "https://10.1.2.3/a.pdf",
      "http://[::1]/a.pdf",
      "http://printer/a.pdf",
      "http://nas.local/a.pdf",
      "file:///tmp/a.pdf",
      "/tmp/a.pdf",
    ]
  ) {
    assert.throws(
      () => profile.encode(createEvent({ name: "invoice", userId: "u", attachments: [{ url }] })),
      (error) =>
        isEventValidationError(error) && error.field === "attachments[0].url" &&
        /public/.test(error.message),
      url,
    );
  }
  for (
    const attachments of [
      [{ url: "https://www.adobe.com/sample_file.pdf" }],
      [{ url: "http://8.8.8.8/a.pdf" }],
      [{ url: "http://localhost/a.pdf", ignoreIfError: true }],
    ]
  ) {
    profile.encode(createEvent({ name: "invoice", userId: "u", attachments }));
  }
});
