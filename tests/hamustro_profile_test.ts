import { fromBinary, fromJson } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chunkBySize } from "../src/kit/chunk.ts";
import { createEvent, type EventInput } from "../src/event.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import type { OutgoingBatch } from "../src/ports/profile.ts";
import type { QueuedRecord } from "../src/ports/storage.ts";
import { CollectionSchema } from "../src/hamustro/gen/hamustro_pb.ts";
import { hamustroProfile, type HamustroProfileOptions } from "../src/hamustro/profile.ts";

const md5 = (text: string | Uint8Array) => createHash("md5").update(text).digest("hex");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const expectedSignature = (time: string, body: Uint8Array, secret: string) =>
  createHash("sha256").update(`${time}|${md5(body)}|${secret}`).digest("base64");

const SECRET = "correct horse battery staple";
const OPTIONS: HamustroProfileOptions = {
  collectorUrl: "http://127.0.0.1:8080/collector/",
  sharedSecretKey: SECRET,
  deviceId: "raw-device-ő-1",
  clientId: "client-1",
  systemVersion: "14.1",
  productVersion: "2.3.0",
  env: "STAGING",
  deviceMake: "Apple",
  deviceModel: "iPhone",
  system: "iOS",
  systemLanguage: "hu",
  browser: "Safari",
  browserVersion: "17",
  productGitHash: "abc123",
  productLanguage: "en",
  timezone: "Europe/Budapest",
};
const NOW = 1_700_000_123_456;

function event(nr: number, input: Partial<EventInput> = {}) {
  return createEvent({
    name: "App.Open",
    userId: "user-1",
    timestamp: 1_454_514_088_999,
    context: { nr },
    ...input,
  });
}

function batchOf(records: QueuedRecord[], stream: string): OutgoingBatch {
  return { id: "batch-0001", stream, records, attempt: 0 };
}

function recordsOf(profile: ReturnType<typeof hamustroProfile>, count: number): QueuedRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const e = event(i + 1, { properties: { index: i, text: "é".repeat(i % 50) } });
    return { id: String(i), key: e.idempotencyKey, queuedAt: 0, ...profile.encode(e) };
  });
}

Deno.test("the session is md5 of sha256(device id) and the other fields, as node:crypto computes it", () => {
  const profile = hamustroProfile(OPTIONS);
  const deviceId = sha256(OPTIONS.deviceId);
  assert.equal(profile.collection.deviceId, deviceId);
  assert.equal(profile.session, md5(`${deviceId}:client-1:14.1:2.3.0:8`));
});

Deno.test("buildRequest sends a signed protobuf Collection whose every field decodes with the generated schema", async () => {
  const profile = hamustroProfile({ ...OPTIONS, headers: { "X-App": "demo" } });
  const first = event(1, {
    tenantId: "tenant-9",
    properties: { plan: "pro", seats: 3, trial: false },
    context: { nr: 1, ip: "10.1.2.3", country: "HU", timezone: "America/New_York" },
  });
  const second = event(2, { name: "Kosár 🛒", userId: "ü-2" });
  const records = [first, second].map((e, i) => ({
    id: String(i),
    key: e.idempotencyKey,
    queuedAt: 0,
    ...profile.encode(e),
  }));
  const request = await profile.buildRequest(batchOf(records, profile.session), NOW);

  assert.equal(request.method, "POST");
  assert.equal(request.url, "http://127.0.0.1:8080/collector/api/v1/track");
  assert.equal(request.headers["Content-Type"], "application/protobuf");
  assert.equal(request.headers["X-App"], "demo");
  assert.equal(request.headers["X-Hamustro-Time"], "1700000123");
  assert.equal(
    request.headers["X-Hamustro-Signature"],
    expectedSignature("1700000123", request.body, SECRET),
  );

  const collection = fromBinary(CollectionSchema, request.body);
  const deviceId = sha256(OPTIONS.deviceId);
  assert.equal(collection.deviceId, deviceId);
  assert.equal(collection.clientId, "client-1");
  assert.equal(collection.session, md5(`${deviceId}:client-1:14.1:2.3.0:8`));
  assert.equal(collection.systemVersion, "14.1");
  assert.equal(collection.productVersion, "2.3.0");
  assert.equal(collection.env, 8);
  assert.equal(collection.deviceMake, "Apple");
  assert.equal(collection.deviceModel, "iPhone");
  assert.equal(collection.system, "iOS");
  assert.equal(collection.systemLanguage, "hu");
  assert.equal(collection.browser, "Safari");
  assert.equal(collection.browserVersion, "17");
  assert.equal(collection.productGitHash, "abc123");
  assert.equal(collection.productLanguage, "en");
  assert.equal(collection.payloads.length, 2);

  const [p1, p2] = collection.payloads;
  assert.equal(p1?.at, 1_454_514_088n);
  assert.equal(p1?.event, "App.Open");
  assert.equal(p1?.nr, 1);
  assert.equal(p1?.timezone, "America/New_York");
  assert.equal(p1?.tenantId, "tenant-9");
  assert.equal(p1?.userId, "user-1");
  assert.equal(p1?.ip, "10.1.2.3");
  assert.equal(p1?.country, "HU");
  assert.deepEqual(
    p1?.parameters.map(({ name, value }) => [name, value]),
    [["plan", "pro"], ["seats", "3"], ["trial", "false"]],
  );
  assert.equal(p2?.event, "Kosár 🛒");
  assert.equal(p2?.nr, 2);
  assert.equal(p2?.userId, "ü-2");
  assert.equal(p2?.timezone, "Europe/Budapest");
  assert.equal(p2?.ip, "");
  assert.equal(p2?.parameters.length, 0);
});

Deno.test("the JSON format sends the proto field names and parses with the generated schema", async () => {
  const profile = hamustroProfile({ ...OPTIONS, format: "json" });
  const records = recordsOf(profile, 3);
  const request = await profile.buildRequest(batchOf(records, profile.session), NOW);
  assert.equal(request.headers["Content-Type"], "application/json");
  assert.equal(
    request.headers["X-Hamustro-Signature"],
    expectedSignature("1700000123", request.body, SECRET),
  );
  const json = JSON.parse(new TextDecoder().decode(request.body));
  assert.equal(json.device_id, sha256(OPTIONS.deviceId));
  assert.equal(json.payloads[2].at, 1_454_514_088);
  assert.equal(json.payloads[2].nr, 3);
  const collection = fromJson(CollectionSchema, json);
  assert.equal(collection.session, profile.session);
  assert.deepEqual(collection.payloads.map((p) => p.nr), [1, 2, 3]);
  assert.deepEqual({ ...collection.payloads[1]?.parameters[0] }, {
    $typeName: "hamustro.Parameter",
    name: "index",
    value: "1",
  });
});

Deno.test("a large queue is split into Collections that each fit the byte cap exactly", async () => {
  for (const format of ["protobuf", "json"] as const) {
    const maxBatchBytes = 20_000;
    const profile = hamustroProfile({ ...OPTIONS, format, maxBatchBytes });
    const records = recordsOf(profile, 1_500);
    const plan = chunkBySize(records, {
      sizeOf: (record) => record.data.length,
      groupOf: (record) => record.group,
      framing: profile.framing,
      maxBytes: profile.limits.maxBatchBytes,
      maxItems: profile.limits.maxBatchEvents,
    });
    assert.equal(plan.oversize.length, 0);
    assert.ok(plan.chunks.length > 3, `${format}: ${plan.chunks.length} chunks`);
    const seen: number[] = [];
    for (const chunk of plan.chunks) {
      const request = await profile.buildRequest(batchOf(chunk, profile.session), NOW);
      let planned = profile.framing.emptyBytes;
      chunk.forEach((record, i) => {
        planned += profile.framing.itemBytes(record.data.length, i === 0, record.group);
      });
      assert.equal(request.body.length, planned);
      assert.ok(request.body.length <= maxBatchBytes);
      const collection = format === "protobuf"
        ? fromBinary(CollectionSchema, request.body)
        : fromJson(CollectionSchema, JSON.parse(new TextDecoder().decode(request.body)));
      seen.push(...collection.payloads.map((p) => p.nr));
    }
    assert.deepEqual(seen, records.map((_, i) => i + 1));
  }
});

Deno.test("encode refuses an event without a valid context.nr, naming the field", () => {
  const profile = hamustroProfile(OPTIONS);
  const missing = createEvent({ name: "e", userId: "u" });
  assert.throws(() => profile.encode(missing), (error) => {
    assert.ok(isEventValidationError(error));
    assert.equal(error.field, "context.nr");
    return true;
  });
  assert.throws(() => profile.encode(event(-1)), /context\.nr/);
  assert.throws(() => profile.encode(event(2 ** 32)), /context\.nr/);
  assert.throws(() => profile.encode(event(1, { context: { nr: 1, ip: 5 } })), /context\.ip/);
});

Deno.test("encode refuses a payload larger than maxEventBytes", () => {
  const profile = hamustroProfile({ ...OPTIONS, maxEventBytes: 100 });
  assert.throws(
    () => profile.encode(event(1, { properties: { big: "x".repeat(200) } })),
    (error) => isEventValidationError(error) && error.rule === "maxBytes",
  );
});

Deno.test("user headers cannot replace the content type or the signature headers", async () => {
  const profile = hamustroProfile(OPTIONS);
  profile.setHeaders({ "content-type": "text/plain", "X-Hamustro-Time": "1", "X-Trace": "t" });
  const request = await profile.buildRequest(
    batchOf(recordsOf(profile, 1), profile.session),
    NOW,
  );
  assert.equal(request.headers["X-Trace"], "t");
  assert.equal(request.headers["content-type"], undefined);
  assert.equal(request.headers["X-Hamustro-Time"], "1700000123");
  assert.ok(!Object.values(request.headers).some((value) => value.includes(SECRET)));
});

Deno.test("an earlier session's records are sent under that session's own Collection fields", async () => {
  const old = hamustroProfile({ ...OPTIONS, productVersion: "2.2.0" });
  const oldRecords = recordsOf(old, 2);
  const profile = hamustroProfile(OPTIONS);
  await assert.rejects(
    async () => await profile.buildRequest(batchOf(oldRecords, old.session), NOW),
    /unknown/,
  );
  assert.throws(
    () => profile.addCollection({ ...old.collection, session: "0".repeat(32) }),
    RangeError,
  );
  assert.equal(profile.addCollection(old.collection), old.session);
  const request = await profile.buildRequest(batchOf(oldRecords, old.session), NOW);
  const collection = fromBinary(CollectionSchema, request.body);
  assert.equal(collection.productVersion, "2.2.0");
  assert.equal(
    collection.session,
    md5(`${sha256(OPTIONS.deviceId)}:client-1:14.1:2.2.0:8`),
  );
});

Deno.test("records queued in the other format are converted before sending", async () => {
  const jsonProfile = hamustroProfile({ ...OPTIONS, format: "json" });
  const jsonRecords = recordsOf(jsonProfile, 2);
  const profile = hamustroProfile(OPTIONS);
  const request = await profile.buildRequest(batchOf(jsonRecords, profile.session), NOW);
  const collection = fromBinary(CollectionSchema, request.body);
  assert.deepEqual(collection.payloads.map((p) => [p.nr, p.parameters[0]?.value]), [
    [1, "0"],
    [2, "1"],
  ]);
  const back = await jsonProfile.buildRequest(batchOf(recordsOf(profile, 1), profile.session), NOW);
  assert.equal(JSON.parse(new TextDecoder().decode(back.body)).payloads[0].nr, 1);
});

Deno.test("readResponse delivers only on 200 (the seed deletes after nothing else), splits on 413, fails on 400 and retries the rest", () => {
  const profile = hamustroProfile(OPTIONS);
  const batch = batchOf([], profile.session);
  const read = (status: number, body = "", headers: Record<string, string> = {}) =>
    profile.readResponse({ status, body, headers: new Headers(headers) }, batch);
  assert.deepEqual(read(200), { kind: "all", outcome: { status: "delivered" } });
  for (const status of [201, 202, 204]) {
    const outcome = read(status);
    assert.equal(outcome.kind === "all" && outcome.outcome.status, "retry", String(status));
  }
  assert.equal(read(413).kind, "split");
  assert.deepEqual(read(400, '{"error":"invalid_body","detail":"bad"}'), {
    kind: "all",
    outcome: { status: "failed", code: 400, reason: "HTTP 400: invalid_body: bad" },
  });
  assert.deepEqual(read(503, "", { "Retry-After": "7" }), {
    kind: "all",
    outcome: { status: "retry", code: 503, reason: "HTTP 503", retryAfterMs: 7000 },
  });
  for (const status of [401, 403, 404, 405, 429, 500]) {
    const outcome = read(status);
    assert.equal(outcome.kind === "all" && outcome.outcome.status, "retry", String(status));
  }
  // A Retry-After date is read against the injected clock, not the system's.
  const now = Date.parse("2016-02-03T16:00:00Z");
  const clocked = hamustroProfile({ ...OPTIONS, clock: { now: () => now } });
  const dated = clocked.readResponse({
    status: 503,
    body: "",
    headers: new Headers({ "Retry-After": new Date(now + 30_000).toUTCString() }),
  }, batch);
  assert.deepEqual(dated, {
    kind: "all",
    outcome: { status: "retry", code: 503, reason: "HTTP 503", retryAfterMs: 30_000 },
  });
  const lenient = hamustroProfile({ ...OPTIONS, permanentStatuses: [] });
  const outcome = lenient.readResponse({ status: 400, body: "", headers: new Headers() }, batch);
  assert.equal(outcome.kind === "all" && outcome.outcome.status, "retry");
});

Deno.test("bad options throw typed errors that name the option and never show the secret", () => {
  assert.throws(() => hamustroProfile({ ...OPTIONS, collectorUrl: "ftp://x" }), TypeError);
  assert.throws(() => hamustroProfile({ ...OPTIONS, clientId: "" }), /'clientId'/);
  assert.throws(() => hamustroProfile({ ...OPTIONS, env: "PROD" as "PRODUCTION" }), RangeError);
  assert.throws(
    () => hamustroProfile({ ...OPTIONS, maxBatchBytes: 0 }),
    {
      name: "RangeError",
      message:
        "Cannot create the Hamustro profile as 'maxBatchBytes' must be a positive integer: current value is 0",
    },
  );
  assert.throws(
    () => hamustroProfile({ ...OPTIONS, sharedSecretKey: 42 as unknown as string }),
    (error) => error instanceof TypeError && !error.message.includes("42"),
  );
});
