import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createEvent } from "../src/event.ts";
import type { DecodedBatch, RouteContext } from "../src/receiver/route.ts";
import { hamustroProfile, type HamustroProfileOptions } from "../src/hamustro/profile.ts";
import { hamustroRoute } from "../src/hamustro/route.ts";
import { encodeCollectionFields, frameCollection } from "../src/hamustro/codec.ts";
import { environmentLabel } from "../src/hamustro/environment.ts";
import {
  type Collection,
  CollectionSchema,
  type Payload,
  PayloadSchema,
} from "../src/hamustro/gen/hamustro_pb.ts";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createReceiver } from "../src/receiver/receiver.ts";
import type { AcceptedEvent } from "../src/receiver/sink.ts";
import { randomInt, randomText, seededRandom } from "./_random.ts";

const SECRET = "receiver-secret-value";
const NOW = 1_700_000_000_000;
const TIME = String(NOW / 1000);
const md5 = (text: string | Uint8Array) => createHash("md5").update(text).digest("hex");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
/** Signs as the reference Python client does, with node:crypto. */
const sign = (time: string, body: Uint8Array, secret = SECRET) =>
  createHash("sha256").update(`${time}|${md5(body)}|${secret}`).digest("base64");

const DEVICE = sha256("device-1");
const SESSION = md5(`${DEVICE}:c1:14.1:2.3:0`);
const context = (now = NOW, remoteAddr?: string): RouteContext =>
  remoteAddr === undefined ? { now, params: {} } : { now, params: {}, remoteAddr };

function jsonBody(payloads: unknown[], extra: Record<string, unknown> = {}): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    device_id: DEVICE,
    client_id: "c1",
    session: SESSION,
    system_version: "14.1",
    product_version: "2.3",
    env: "PRODUCTION",
    payloads,
    ...extra,
  }));
}

function request(
  body: Uint8Array,
  headers: Record<string, string | undefined> = {},
  time = TIME,
): Request {
  const all: Record<string, string> = {};
  const merged = {
    "Content-Type": "application/json",
    "X-Hamustro-Time": time,
    "X-Hamustro-Signature": sign(time, body),
    ...headers,
  };
  for (const [name, value] of Object.entries(merged)) if (value !== undefined) all[name] = value;
  return new Request("http://127.0.0.1/api/v1/track", {
    method: "POST",
    headers: all,
    body: body as Uint8Array<ArrayBuffer>,
  });
}

async function refusal(answer: DecodedBatch | Response, status: number, error: string) {
  assert.ok(answer instanceof Response, "expected a Response");
  assert.equal(answer.status, status);
  const text = await answer.text();
  assert.ok(!text.includes(SECRET));
  assert.equal(JSON.parse(text).error, error);
}

const route = hamustroRoute({ sharedSecretKey: SECRET });
const PAYLOADS = [
  {
    at: 1454514088,
    event: "App.Open",
    nr: 1,
    user_id: "u1",
    parameters: [{ name: "k", value: "v" }],
  },
  { at: "1454514089", event: "App.Close", nr: 2, ip: "10.0.0.9" },
];

Deno.test("a signed JSON collection decodes into one record per payload keyed session:nr:digest", async () => {
  const body = jsonBody(PAYLOADS);
  const decoded = await route.decode(
    request(body, { "Content-Type": "application/json; charset=utf-8" }),
    body,
    context(NOW, "192.0.2.7"),
  );
  assert.ok(!(decoded instanceof Response));
  assert.equal(decoded.tenant, "hamustro");
  assert.match(decoded.records[0]!.key!, new RegExp(`^${SESSION}:1:[0-9a-f]{16}$`));
  assert.match(decoded.records[1]!.key!, new RegExp(`^${SESSION}:2:[0-9a-f]{16}$`));
  assert.deepEqual(decoded.records[0]?.event, {
    device_id: DEVICE,
    client_id: "c1",
    session: SESSION,
    system_version: "14.1",
    product_version: "2.3",
    env: "PRODUCTION",
    at: 1454514088,
    event: "App.Open",
    nr: 1,
    user_id: "u1",
    parameters: [{ name: "k", value: "v" }],
  });
  assert.equal(decoded.records[1]?.event.ip, "10.0.0.9");
  assert.equal(decoded.records[1]?.event.at, 1454514089);
  const answer = route.respond(decoded, [{ status: "accepted" }, { status: "duplicate" }]);
  assert.equal(answer.status, 200);
});

/**
 * The payload digest as first released (every field as its decimal or text form, mixed unit by
 * unit): keys already in dedupe stores must keep matching resends after an upgrade.
 */
function releasedDigest(payload: {
  at: string;
  event: string;
  nr: number;
  timezone?: string;
  tenant_id?: string;
  user_id?: string;
  ip?: string;
  country?: string;
  parameters?: { name: string; value: string }[];
}): string {
  let lane1 = 0xdeadbeef ^ payload.nr;
  let lane2 = 0x41c6ce57 ^ payload.nr;
  const mix = (text: string) => {
    let h1 = lane1;
    let h2 = lane2;
    for (let i = 0; i < text.length; i++) {
      h1 = Math.imul(h1 ^ text.charCodeAt(i), 2654435761);
      h2 = Math.imul(h2 ^ text.charCodeAt(i), 1597334677);
    }
    lane1 = Math.imul(h1 ^ text.length ^ 0x9e3779b9, 2654435761);
    lane2 = Math.imul(h2 ^ text.length ^ 0x85ebca6b, 1597334677);
  };
  mix(payload.at);
  for (const field of ["event", "timezone", "tenant_id", "user_id", "ip", "country"] as const) {
    mix(payload[field] ?? "");
  }
  for (const { name, value } of payload.parameters ?? []) {
    mix(name);
    mix(value);
  }
  mix(String((payload.parameters ?? []).length));
  const h1 = Math.imul(lane1 ^ (lane1 >>> 16), 2246822507) ^
    Math.imul(lane2 ^ (lane2 >>> 13), 3266489909);
  const h2 = Math.imul(lane2 ^ (lane2 >>> 16), 2246822507) ^
    Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0).toString(16).padStart(8, "0") + (h1 >>> 0).toString(16).padStart(8, "0");
}

Deno.test("payload keys stay those of the released digest for every kind of 'at' and parameter count", async () => {
  const parameters = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ name: `k${i}`, value: `välue ${i} 😀` }));
  const payloads = [
    "0",
    "7",
    "10",
    "1454514088",
    "1454514088000",
    "9007199254740991",
    "9007199254740993",
    "18446744073709551615",
  ].map((at, i) => ({
    at,
    event: `Event.${i}`,
    nr: i + 1,
    timezone: i % 2 === 0 ? "Europe/Budapest" : undefined,
    tenant_id: i === 3 ? "t" : undefined,
    user_id: `u${i}`,
    country: i === 5 ? "HU" : undefined,
    parameters: parameters([0, 1, 9, 10, 12][i % 5]!),
  }));
  const body = jsonBody(payloads);
  const decoded = await route.decode(request(body), body, context());
  assert.ok(!(decoded instanceof Response));
  assert.deepEqual(
    decoded.records.map((record) => record.key),
    payloads.map((payload) => `${SESSION}:${payload.nr}:${releasedDigest(payload)}`),
  );
});

Deno.test("what the profile sends in either format decodes and authenticates at the route", async () => {
  for (const format of ["protobuf", "json"] as const) {
    const options: HamustroProfileOptions = {
      collectorUrl: "http://127.0.0.1:1",
      sharedSecretKey: SECRET,
      deviceId: "device-1",
      clientId: "c1",
      systemVersion: "14.1",
      productVersion: "2.3",
      env: "DEVELOPMENT",
      browser: "Firefox",
      format,
    };
    const profile = hamustroProfile(options);
    const records = [1, 2, 3].map((nr) => {
      const event = createEvent({ name: "e", userId: "u", context: { nr }, timestamp: NOW });
      return { id: String(nr), key: event.idempotencyKey, queuedAt: 0, ...profile.encode(event) };
    });
    const batch = { id: "batch-0001", stream: profile.session, records, attempt: 0 };
    const prepared = await profile.buildRequest(batch, NOW);
    const incoming = new Request(prepared.url, {
      method: prepared.method,
      headers: prepared.headers,
      body: prepared.body as Uint8Array<ArrayBuffer>,
    });
    const decoded = await route.decode(incoming, prepared.body, context());
    assert.ok(!(decoded instanceof Response), format);
    assert.deepEqual(
      decoded.records.map((r) => r.key?.slice(0, -17)),
      [1, 2, 3].map((nr) => `${profile.session}:${nr}`),
    );
    assert.equal(decoded.records[0]?.event.env, "DEVELOPMENT");
    assert.equal(decoded.records[0]?.event.browser, "Firefox");
    // A resend of the same batch, signed later, carries the same dedupe keys.
    const resent = await profile.buildRequest({ ...batch, attempt: 1 }, NOW + 60_000);
    const again = await route.decode(
      new Request(resent.url, {
        method: "POST",
        headers: resent.headers,
        body: resent.body as Uint8Array<ArrayBuffer>,
      }),
      resent.body,
      context(NOW + 60_000),
    );
    assert.ok(!(again instanceof Response));
    assert.deepEqual(again.records.map((r) => r.key), decoded.records.map((r) => r.key));
  }
});

Deno.test("missing, forged or mismatched signatures get 401 without echoing the secret", async () => {
  const body = jsonBody(PAYLOADS);
  await refusal(
    await route.decode(request(body, { "X-Hamustro-Time": undefined }), body, context()),
    401,
    "missing_time",
  );
  await refusal(
    await route.decode(request(body, { "X-Hamustro-Signature": undefined }), body, context()),
    401,
    "missing_signature",
  );
  await refusal(
    await route.decode(
      request(body, { "X-Hamustro-Signature": sign(TIME, body, "wrong-secret") }),
      body,
      context(),
    ),
    401,
    "invalid_signature",
  );
  const tampered = jsonBody([{ ...PAYLOADS[0], nr: 99 }]);
  await refusal(await route.decode(request(body), tampered, context()), 401, "invalid_signature");
  await refusal(
    await route.decode(request(body, {}, "17e8"), body, context()),
    401,
    "invalid_time",
  );
});

Deno.test("a request signed outside the time window is refused as a replay", async () => {
  const body = jsonBody(PAYLOADS);
  const old = String(NOW / 1000 - 301);
  await refusal(await route.decode(request(body, {}, old), body, context()), 401, "stale_time");
  const future = String(NOW / 1000 + 301);
  await refusal(await route.decode(request(body, {}, future), body, context()), 401, "stale_time");
  const inside = String(NOW / 1000 - 299);
  assert.ok(!(await route.decode(request(body, {}, inside), body, context()) instanceof Response));
  const strict = hamustroRoute({ sharedSecretKey: SECRET, maxClockSkewMs: 10_000 });
  const late = String(NOW / 1000 - 11);
  await refusal(await strict.decode(request(body, {}, late), body, context()), 401, "stale_time");
});

Deno.test("optional signatures are checked only when a Hamustro header is present", async () => {
  const optional = hamustroRoute({ sharedSecretKey: SECRET, signature: "optional" });
  const body = jsonBody(PAYLOADS);
  const unsigned = request(body, {
    "X-Hamustro-Time": undefined,
    "X-Hamustro-Signature": undefined,
  });
  assert.ok(!(await optional.decode(unsigned, body, context()) instanceof Response));
  await refusal(
    await route.decode(
      request(body, { "X-Hamustro-Time": undefined, "X-Hamustro-Signature": undefined }),
      body,
      context(),
    ),
    401,
    "missing_time",
  );
  await refusal(
    await optional.decode(request(body, { "X-Hamustro-Signature": undefined }), body, context()),
    401,
    "missing_signature",
  );
  await refusal(
    await optional.decode(request(body, { "X-Hamustro-Signature": "AAAA" }), body, context()),
    401,
    "invalid_signature",
  );
});

Deno.test("bad content types and undecodable bodies get 400 naming the problem", async () => {
  const body = jsonBody(PAYLOADS);
  await refusal(
    await route.decode(request(body, { "Content-Type": "text/plain" }), body, context()),
    400,
    "unsupported_content_type",
  );
  await refusal(
    await route.decode(request(body, { "Content-Type": undefined }), body, context()),
    400,
    "unsupported_content_type",
  );
  const garbage = Uint8Array.of(0x0a, 0xff, 0x01);
  await refusal(
    await route.decode(
      request(garbage, { "Content-Type": "application/protobuf" }),
      garbage,
      context(),
    ),
    400,
    "invalid_body",
  );
  for (
    const [bad, mention] of [
      [jsonBody(PAYLOADS, { unknown_key: 1 }), "unknown_key"],
      [jsonBody(PAYLOADS, { env: "PROD" }), "Environment"],
      [jsonBody([{ at: 1, event: "e" }]), "payloads[0].nr"],
      [
        jsonBody([{ at: 1, nr: 1, event: "e", parameters: [{ name: "k" }] }]),
        "payloads[0].parameters[0].value",
      ],
      [new TextEncoder().encode("{not json"), "json"],
    ] as const
  ) {
    const answer = await route.decode(request(bad), bad, context());
    assert.ok(answer instanceof Response);
    assert.equal(answer.status, 400);
    const detail = JSON.parse(await answer.text()).detail as string;
    assert.ok(detail.includes(mention), `${detail} should mention ${mention}`);
  }
});

Deno.test("a protobuf collection without its required env is refused with 400", async () => {
  const field = (tag: number, text: string) => {
    const bytes = new TextEncoder().encode(text);
    return [tag, bytes.length, ...bytes];
  };
  const body = Uint8Array.from([
    ...field(0x0a, DEVICE),
    ...field(0x12, "c1"),
    ...field(0x1a, SESSION),
    ...field(0x22, "14.1"),
    ...field(0x2a, "2.3"),
  ]);
  const answer = await route.decode(
    request(body, { "Content-Type": "application/protobuf" }),
    body,
    context(),
  );
  assert.ok(answer instanceof Response);
  assert.equal(answer.status, 400);
  assert.match(JSON.parse(await answer.text()).detail, /'env'/);
});

Deno.test("a session that does not match the collection's fields is refused with 400", async () => {
  const body = jsonBody(PAYLOADS, { session: md5(`${DEVICE}:c1:14.1:2.3:1`) });
  await refusal(await route.decode(request(body), body, context()), 400, "invalid_session");
});

Deno.test("a valid collection without payloads is answered 204", async () => {
  const body = jsonBody([]);
  const answer = await route.decode(request(body), body, context());
  assert.ok(answer instanceof Response);
  assert.equal(answer.status, 204);
});

Deno.test("respond asks for a resend when the sink refused a payload for now, and fails for good otherwise", async () => {
  const batch: DecodedBatch = { tenant: "hamustro", records: [] };
  const retry = route.respond(batch, [
    { status: "accepted" },
    { status: "rejected", code: "sink_busy", reason: "try later", retryable: true },
  ]);
  assert.equal(retry.status, 503);
  assert.equal(JSON.parse(await retry.text()).error, "sink_busy");
  const fail = route.respond(batch, [
    { status: "rejected", code: "bad_event", reason: "no", retryable: false },
    { status: "accepted" },
  ]);
  assert.equal(fail.status, 400);
  assert.equal(route.respond(batch, [{ status: "duplicate" }]).status, 200);
});

Deno.test("bad route options throw typed errors", () => {
  assert.throws(() => hamustroRoute({ sharedSecretKey: "" }), TypeError);
  assert.throws(
    () => hamustroRoute({ sharedSecretKey: SECRET, signature: "off" as "optional" }),
    TypeError,
  );
  assert.throws(() => hamustroRoute({ sharedSecretKey: SECRET, maxClockSkewMs: -1 }), RangeError);
});

/** Protobuf wire bytes written by the test, so payloads can hold any bytes (even invalid UTF-8). */
function wireField(tag: number, bytes: ArrayLike<number>): number[] {
  const out = [tag];
  let length = bytes.length;
  while (length > 127) {
    out.push((length & 127) | 128);
    length >>>= 7;
  }
  out.push(length, ...Array.from(bytes));
  return out;
}

function wireVarint(tag: number, value: bigint): number[] {
  const out = [tag];
  while (value > 127n) {
    out.push(Number(value & 127n) | 128);
    value >>= 7n;
  }
  out.push(Number(value));
  return out;
}

/** Strings whose JSON is as much larger than their bytes as possible, and ordinary ones. */
function adversarialBytes(random: () => number): number[] {
  const kind = randomInt(random, 0, 4);
  const length = randomInt(random, 0, 300);
  if (kind === 0) return Array.from({ length }, () => randomInt(random, 0, 0x1f)); // \u00XX
  if (kind === 1) return Array.from({ length }, () => [0x22, 0x5c][randomInt(random, 0, 1)]!);
  if (kind === 2) return Array.from({ length }, () => randomInt(random, 0x80, 0xff)); // U+FFFD
  return [...new TextEncoder().encode(randomText(random, length))];
}

function protobufRequest(header: Uint8Array, payloads: Uint8Array[]): [Request, Uint8Array] {
  const body = frameCollection(header, payloads);
  const incoming = request(body, { "Content-Type": "application/protobuf" });
  return [incoming, body];
}

const HEADER = encodeCollectionFields({
  deviceId: DEVICE,
  clientId: "c1",
  session: SESSION,
  systemVersion: "14.1",
  productVersion: "2.3",
  env: "PRODUCTION",
});

Deno.test("the size bound of each protobuf payload is never below its event's JSON size", async () => {
  const utf8Bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;
  let records = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const random = seededRandom(seed);
    const payloads = Array.from({ length: randomInt(random, 1, 6) }, () => {
      const bytes = [
        ...wireVarint(0x08, [0n, 2n ** 64n - 1n, 2n ** 53n][randomInt(random, 0, 2)]!),
        ...wireField(0x12, adversarialBytes(random)),
        ...wireVarint(0x18, 2n ** 32n - 1n),
      ];
      for (const tag of [0x22, 0x2a, 0x32, 0x3a, 0x42]) {
        if (random() < 0.5) {
          bytes.push(...wireField(tag, random() < 0.3 ? [] : adversarialBytes(random)));
        }
      }
      for (let i = randomInt(random, 0, 40); i > 0; i--) {
        const empty = random() < 0.5;
        bytes.push(...wireField(0x4a, [
          ...wireField(0x0a, empty ? [] : adversarialBytes(random)),
          ...wireField(0x12, empty ? [] : adversarialBytes(random)),
        ]));
      }
      return Uint8Array.from(bytes);
    });
    const [incoming, body] = protobufRequest(HEADER, payloads);
    const remoteAddr = random() < 0.5 ? "2001:db8:85a3::8a2e:370:7334" : undefined;
    const decoded = await route.decode(incoming, body, context(NOW, remoteAddr));
    assert.ok(!(decoded instanceof Response), `seed ${seed}`);
    for (const record of decoded.records) {
      records++;
      const bound = record.jsonBytesUpperBound;
      assert.ok(bound !== undefined);
      assert.ok(
        bound >= utf8Bytes(record.event),
        `seed ${seed}: ${bound} < ${utf8Bytes(record.event)}`,
      );
    }
  }
  assert.ok(records > 150);
});

Deno.test("the receiver still refuses a protobuf payload one byte over maxEventBytes, and takes one at it", async () => {
  const small = Uint8Array.from([
    ...wireVarint(0x08, 1n),
    ...wireField(0x12, [0x65]),
    ...wireVarint(0x18, 1n),
  ]);
  const large = Uint8Array.from([
    ...wireVarint(0x08, 1n),
    ...wireField(0x12, [0x65]),
    ...wireVarint(0x18, 2n),
    ...wireField(0x4a, [...wireField(0x0a, [0x6b]), ...wireField(0x12, Array(3000).fill(0x01))]),
  ]);
  // The exact size of the large event, measured from what the route hands over.
  const [probe, probeBody] = protobufRequest(HEADER, [small, large]);
  const decoded = await route.decode(probe, probeBody, context(NOW));
  assert.ok(!(decoded instanceof Response));
  const exact = new TextEncoder().encode(JSON.stringify(decoded.records[1]!.event)).length;
  for (const [maxEventBytes, largeAccepted] of [[exact - 1, false], [exact, true]] as const) {
    const stored: AcceptedEvent[] = [];
    const receiver = createReceiver({
      routes: [route],
      sink: { write: (events) => void stored.push(...events) },
      maxEventBytes,
      clock: { now: () => NOW },
    });
    const [incoming] = protobufRequest(HEADER, [small, large]);
    const answer = await receiver(incoming);
    assert.equal(answer.status, largeAccepted ? 200 : 400, `maxEventBytes ${maxEventBytes}`);
    if (!largeAccepted) assert.equal((await answer.json()).error, "event_too_large");
    assert.deepEqual(stored.map((e) => e.event.nr), largeAccepted ? [1, 2] : [1]);
  }
});

Deno.test("the conflict memory forgets the oldest session:nr first once full, and keeps the newer ones", async () => {
  const route = hamustroRoute({
    sharedSecretKey: "s3cret",
    signature: "optional",
    conflictMemory: 2,
  });
  const device = createHash("sha256").update("device-1").digest("hex");
  const session = createHash("md5").update(`${device}:c1:14.1:2.3:0`).digest("hex");
  const flags = async (payloads: unknown[]) => {
    const body = new TextEncoder().encode(JSON.stringify({
      device_id: device,
      client_id: "c1",
      session,
      system_version: "14.1",
      product_version: "2.3",
      env: 0,
      payloads,
    }));
    const request = new Request("http://127.0.0.1/api/v1/track", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const batch = await route.decode(request, body, { now: Date.now(), params: {} });
    assert.ok(!(batch instanceof Response));
    return batch.records.map((record) => record.event.nr_conflict === true);
  };
  // Three numbers seen in turn: nr 1 is forgotten (the oldest), nr 2 and 3 are remembered.
  for (const nr of [1, 2, 3]) assert.deepEqual(await flags([{ at: 1, event: "a", nr }]), [false]);
  assert.deepEqual(await flags([{ at: 1, event: "other", nr: 3 }]), [true]);
  assert.deepEqual(await flags([{ at: 1, event: "other", nr: 2 }]), [true]);
  // nr 1 was forgotten: a different payload under it is no longer a conflict (and pushes out nr 2).
  assert.deepEqual(await flags([{ at: 1, event: "other", nr: 1 }]), [false]);
  assert.deepEqual(await flags([{ at: 1, event: "third", nr: 3 }]), [true]);
});

/**
 * The event of a payload as the route hands it to the sink, written from the message protobuf-es
 * `fromBinary` reads: the Collection's fields (optional ones when set), then the payload's, `ip`
 * filled in from the client's address when empty.
 */
function expectedEventJson(collection: Collection, payload: Payload, clientIp?: string): string {
  const event: Record<string, unknown> = {
    device_id: collection.deviceId,
    client_id: collection.clientId,
    session: collection.session,
    system_version: collection.systemVersion,
    product_version: collection.productVersion,
    env: environmentLabel(collection.env),
  };
  const optional = [
    ["device_make", collection.deviceMake],
    ["device_model", collection.deviceModel],
    ["system", collection.system],
    ["system_language", collection.systemLanguage],
    ["browser", collection.browser],
    ["browser_version", collection.browserVersion],
    ["product_git_hash", collection.productGitHash],
    ["product_language", collection.productLanguage],
  ] as const;
  for (const [name, value] of optional) if (value) event[name] = value;
  event.at = payload.at <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(payload.at)
    : String(payload.at);
  event.event = payload.event;
  event.nr = payload.nr;
  if (payload.timezone) event.timezone = payload.timezone;
  if (payload.tenantId) event.tenant_id = payload.tenantId;
  if (payload.userId) event.user_id = payload.userId;
  if (payload.ip || clientIp) event.ip = payload.ip || clientIp;
  if (payload.country) event.country = payload.country;
  event.parameters = payload.parameters.map(({ name, value }) => ({ name, value }));
  return JSON.stringify(event);
}

Deno.test("each protobuf payload's event and key are those of fromBinary's message, byte for byte, wherever the collection's fields are and whichever strings repeat", async () => {
  // Repeated and near the lengths where the reader changes how it builds strings (32/33, 64/65).
  const pool = [
    "",
    "a",
    "App.Open",
    "Europe/Budapest",
    "x".repeat(32),
    "y".repeat(33),
    "z".repeat(64),
  ]
    .concat(["w".repeat(65), "välue", '\u0000"\\']);
  let events = 0;
  for (let seed = 1; seed <= 80; seed++) {
    const random = seededRandom(seed);
    const text = () =>
      random() < 0.6
        ? pool[randomInt(random, 0, pool.length - 1)]!
        : randomText(random, randomInt(random, 0, 40));
    const maybe = () => (random() < 0.5 ? text() : "");
    const header = {
      deviceId: DEVICE,
      clientId: "c1",
      session: SESSION,
      systemVersion: "14.1",
      productVersion: "2.3",
      env: 0,
    };
    const encoder = new TextEncoder();
    // device_make, device_model, system, browser, product_language: each set or not.
    const optional = () =>
      [0x3a, 0x42, 0x4a, 0x5a, 0x72].flatMap((tag) =>
        random() < 0.5 ? wireField(tag, encoder.encode(text())) : []
      );
    const payloads = Array.from({ length: randomInt(random, 1, 12) }, () =>
      create(PayloadSchema, {
        at: [
          0n,
          7n,
          1454514088n,
          2n ** 53n - 1n,
          2n ** 53n + 1n,
          2n ** 64n - 1n,
        ][randomInt(random, 0, 5)]!,
        event: text() || "e",
        nr: randomInt(random, 1, 4),
        timezone: maybe(),
        tenantId: maybe(),
        userId: maybe(),
        ip: random() < 0.2 ? "1.2.3.4" : "",
        country: maybe(),
        parameters: Array.from(
          { length: randomInt(random, 0, 4) },
          () => ({ name: text(), value: text() }),
        ),
      }));
    // Fields repeated later override earlier ones: optional fields may follow the payloads.
    const body = Uint8Array.from([
      ...toBinary(CollectionSchema, create(CollectionSchema, header)),
      ...optional(),
      ...payloads.flatMap((payload) => wireField(0x7a, toBinary(PayloadSchema, payload))),
      ...(random() < 0.4 ? optional() : []),
    ]);
    const clientIp = random() < 0.5 ? "8.8.4.4" : undefined;
    const incoming = request(body, {
      "Content-Type": "application/protobuf",
      "X-Forwarded-For": clientIp,
    });
    const decoded = await route.decode(incoming, body, context());
    assert.ok(!(decoded instanceof Response), `seed ${seed}`);
    const collection = fromBinary(CollectionSchema, body);
    assert.deepEqual(
      decoded.records.map((record) =>
        JSON.stringify(record.event).replace(',"nr_conflict":true', "")
      ),
      collection.payloads.map((payload) => expectedEventJson(collection, payload, clientIp)),
      `seed ${seed}`,
    );
    assert.deepEqual(
      decoded.records.map((record) => record.key),
      collection.payloads.map((payload) =>
        `${SESSION}:${payload.nr}:${
          releasedDigest({
            at: String(payload.at),
            event: payload.event,
            nr: payload.nr,
            timezone: payload.timezone,
            tenant_id: payload.tenantId,
            user_id: payload.userId,
            ip: payload.ip,
            country: payload.country,
            parameters: payload.parameters,
          })
        }`
      ),
      `seed ${seed}`,
    );
    events += decoded.records.length;
  }
  assert.ok(events > 300);
});

Deno.test("a number repeated within a request is checked against its first payload there, even once the memory has forgotten it", async () => {
  const route = hamustroRoute({ sharedSecretKey: SECRET, conflictMemory: 2 });
  const flags = async (payloads: { nr: number; event: string }[]) => {
    const body = jsonBody(payloads.map((payload) => ({ at: 1, ...payload })));
    const batch = await route.decode(request(body), body, context());
    assert.ok(!(batch instanceof Response));
    return batch.records.map((record) => record.event.nr_conflict === true);
  };
  assert.deepEqual(await flags([{ nr: 5, event: "a" }]), [false]);
  // nr 5 is found in the memory (the same payload), then forgotten by nr 7 and 8, then reused.
  assert.deepEqual(
    await flags([
      { nr: 6, event: "x" },
      { nr: 5, event: "a" },
      { nr: 7, event: "y" },
      { nr: 8, event: "z" },
      { nr: 5, event: "b" },
    ]),
    [false, false, false, false, true],
  );
  // Rising numbers with one repeated at the end, and one repeated at once.
  assert.deepEqual(
    await flags([{ nr: 10, event: "a" }, { nr: 11, event: "b" }, { nr: 10, event: "c" }]),
    [false, false, true],
  );
  assert.deepEqual(
    await flags([{ nr: 20, event: "a" }, { nr: 20, event: "a" }, { nr: 20, event: "b" }]),
    [false, false, true],
  );
});
