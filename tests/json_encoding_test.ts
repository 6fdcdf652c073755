import assert from "node:assert/strict";
import type { IdemtrackEvent } from "../src/event.ts";
import { encodedBytes } from "../src/ports/profile.ts";
import { PackedQueue } from "../src/pipeline/queue/_packed_queue.ts";
import { SlabWriter } from "../src/_util/slab_writer.ts";
import { carry } from "../src/_util/internal.ts";
import { jsonProfile, jsonWireText } from "../src/profiles/json/profile.ts";
import { randomInt, randomText, seededRandom } from "./_random.ts";

const encoder = new TextEncoder();
const iso = (ms: number) => new Date(ms).toISOString();

function randomString(random: () => number): string {
  const roll = random();
  if (roll < 0.5) return `plain-${randomInt(random, 0, 1e6)}/path?q=${randomInt(random, 0, 99)}`;
  if (roll < 0.6) return "";
  return randomText(random, randomInt(random, 1, 40), true) +
    (random() < 0.2 ? "\n\t\b\f\r\u0001\u001f\u2028\u2029\u007f" : "");
}

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.1,
  1e21,
  1e-7,
  5e-324,
  2 ** 53,
  -(2 ** 63),
  123.456,
  NaN,
  Infinity,
];

function randomValue(random: () => number, depth: number): unknown {
  const roll = random();
  if (roll < 0.3) return randomString(random);
  if (roll < 0.45) return NUMBERS[randomInt(random, 0, NUMBERS.length - 1)]! * (random() + 0.5);
  if (roll < 0.5) return random() < 0.5;
  if (roll < 0.55) return null;
  if (roll < 0.58) return undefined;
  if (depth > 3) return "leaf";
  if (roll < 0.75) {
    return Array.from({ length: randomInt(random, 0, 4) }, () => randomValue(random, depth + 1));
  }
  return randomObject(random, depth + 1);
}

function randomObject(random: () => number, depth: number): Record<string, unknown> {
  const object: Record<string, unknown> = random() < 0.1 ? Object.create(null) : {};
  for (let i = randomInt(random, 0, 6); i > 0; i--) {
    const key = random() < 0.7 ? `k${randomInt(random, 0, 20)}` : randomString(random);
    object[key] = randomValue(random, depth);
  }
  return object;
}

function randomEvent(random: () => number): IdemtrackEvent {
  const event: IdemtrackEvent = {
    type: (["track", "identify", "alias"] as const)[randomInt(random, 0, 2)]!,
    name: randomString(random),
    properties: randomObject(random, 0) as IdemtrackEvent["properties"],
    timestamp: randomInt(random, 0, 4_000_000_000_000),
    idempotencyKey: `key-${randomInt(random, 0, 1e9)}`,
  };
  if (random() < 0.8) event.userId = randomString(random);
  if (random() < 0.3) event.anonymousId = randomString(random);
  if (random() < 0.2) event.previousId = randomString(random);
  if (random() < 0.3) event.context = randomObject(random, 0) as IdemtrackEvent["context"];
  if (random() < 0.2) event.tenantId = randomString(random);
  if (random() < 0.1) event.brandId = randomString(random);
  if (random() < 0.1) {
    event.attachments = [{ url: "https://example.com/a.pdf", filename: "a.pdf" }];
  }
  return event;
}

Deno.test("the JSON profile encodes exactly JSON.stringify's text for 3000 random events", () => {
  const random = seededRandom(20261125);
  const profile = jsonProfile({ endpoint: "http://collector.test" });
  const kept: Array<[Uint8Array, Uint8Array]> = [];
  for (let i = 0; i < 3000; i++) {
    const event = randomEvent(random);
    const expected = encoder.encode(jsonWireText(event, iso));
    const data = encodedBytes(profile.encode(event));
    assert.deepEqual(data, expected, `event ${i}: ${jsonWireText(event, iso)}`);
    kept.push([data, expected]);
  }
  // What was handed out earlier is untouched by later events.
  for (const [data, expected] of kept) assert.deepEqual(data, expected);
});

Deno.test("the wire text leaves out absent fields exactly as JSON.stringify leaves out undefined ones", () => {
  // The documented object with every field, absent ones undefined: what the wire text must equal.
  const reference = (event: IdemtrackEvent) =>
    JSON.stringify({
      type: event.type,
      event: event.name,
      user_id: event.userId,
      anonymous_id: event.anonymousId,
      previous_id: event.previousId,
      properties: event.properties,
      context: event.context,
      timestamp: iso(event.timestamp),
      idempotency_key: event.idempotencyKey,
      tenant_id: event.tenantId,
      brand_id: event.brandId,
      attachments: event.attachments?.map((a) => ({
        url: a.url,
        filename: a.filename,
        ignore_if_error: a.ignoreIfError ?? false,
      })),
    });
  const random = seededRandom(20260301);
  for (let i = 0; i < 3000; i++) {
    const event = randomEvent(random);
    assert.equal(jsonWireText(event, iso), reference(event), `event ${i}`);
  }
  // Fields present but undefined, or null, are written as before too.
  const odd = {
    ...randomEvent(random),
    userId: undefined,
    anonymousId: null,
    context: undefined,
  } as unknown as IdemtrackEvent;
  assert.equal(jsonWireText(odd, iso), reference(odd));
});

Deno.test("values JSON.stringify treats specially are encoded as it writes them", () => {
  class Point {
    constructor(readonly x: number, readonly y: number) {}
  }
  const deep: Record<string, unknown> = {};
  let cursor = deep;
  for (let i = 0; i < 80; i++) cursor = (cursor.next = {}) as Record<string, unknown>;
  const values: unknown[] = [
    { at: new Date(0), toJSON: undefined },
    { custom: { toJSON: () => "custom" } },
    new Point(1, 2),
    [undefined, () => 1, Symbol("s"), NaN, -0, Infinity],
    { skip: undefined, fn: () => 1, sym: Symbol("s"), kept: 1 },
    Object.assign(Object.create({ inherited: 1 }), { own: 2 }),
    deep,
    "lone \ud800 surrogate and \udc00 another",
    'quote " backslash \\ tab \t nul \u0000 del \u007f',
  ];
  const profile = jsonProfile({ endpoint: "http://collector.test" });
  for (const value of values) {
    const event: IdemtrackEvent = {
      type: "track",
      name: "special",
      userId: "u1",
      properties: { value } as IdemtrackEvent["properties"],
      timestamp: 0,
      idempotencyKey: "key-special-1",
    };
    const text = new TextDecoder().decode(encodedBytes(profile.encode(event)));
    assert.equal(text, jsonWireText(event, iso));
    assert.ok(text.includes(`"properties":{${value === undefined ? "" : `"value":`}`), text);
  }
});

Deno.test("a body joined straight from the client's packed queue is the body built from records, in a buffer of its own", async () => {
  const profile = jsonProfile({ endpoint: "http://collector.test" });
  const random = seededRandom(7);
  const events = Array.from({ length: 200 }, () => randomEvent(random));
  events.push({
    ...events[0]!,
    properties: { blob: "x".repeat(90_000), text: "é€😀".repeat(9_000) },
  });
  // As the client queues them: packed into slabs, the 90 KB one in a buffer of its own.
  const writer = new SlabWriter();
  const queue = new PackedQueue("r-");
  events.forEach((event, i) => {
    writer.stage(profile.encode(event).text, event.idempotencyKey);
    queue.push(writer, "track", "", 0, i + 1);
  });
  const run = queue.takeRun(events.length);
  // As restored from storage, or built by hand: records with bytes.
  const records = events.map((event, i) => ({
    id: `r${i}`,
    key: event.idempotencyKey,
    group: "track",
    stream: "",
    queuedAt: 0,
    data: encoder.encode(profile.encode(event).text),
  }));
  const batch = { id: "batch-0001", stream: "", attempt: 0 };
  const fromRun = (await profile.buildRequest(
    carry({ ...batch, records: run.records() }, {
      data: () => run.data(),
      size: run.length,
      joinJson: (p: Uint8Array, s: Uint8Array) => run.joinJson(p, s),
    }),
    0,
  )).body;
  const fromRecords = (await profile.buildRequest({ ...batch, records }, 0)).body;
  assert.deepEqual(fromRun, fromRecords);
  assert.equal(fromRun.byteLength, fromRun.buffer.byteLength, "owns its whole buffer");
  const parsed = JSON.parse(new TextDecoder().decode(fromRun)) as { events: unknown[] };
  assert.equal(parsed.events.length, events.length);
  assert.deepEqual(parsed.events[200], JSON.parse(jsonWireText(events[200]!, iso)));
});

Deno.test("an event that cannot be serialized throws and leaves the next one exact", () => {
  const profile = jsonProfile({ endpoint: "http://collector.test" });
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const event: IdemtrackEvent = {
    type: "track",
    name: "cyclic",
    userId: "u1",
    properties: cyclic as IdemtrackEvent["properties"],
    timestamp: 0,
    idempotencyKey: "key-cyclic-1",
  };
  assert.throws(() => profile.encode(event), TypeError);
  const next = { ...event, properties: { b: 2 } };
  assert.deepEqual(encodedBytes(profile.encode(next)), encoder.encode(jsonWireText(next, iso)));
});

Deno.test("an event encoded from inside another's encoding (a getter) comes out exact, and so does the outer one", () => {
  const profile = jsonProfile({ endpoint: "http://collector.test" });
  const inner: IdemtrackEvent = {
    type: "track",
    name: "inner",
    userId: "u2",
    properties: { n: 2 },
    timestamp: 0,
    idempotencyKey: "key-inner-1",
  };
  let innerBytes: Uint8Array | undefined;
  const properties = {
    get sneaky() {
      innerBytes = encodedBytes(profile.encode(inner));
      return "outer value";
    },
  };
  const outer = { ...inner, name: "outer", properties } as unknown as IdemtrackEvent;
  const data = encodedBytes(profile.encode(outer));
  assert.deepEqual(data, encoder.encode(jsonWireText(outer, iso)));
  assert.deepEqual(innerBytes, encoder.encode(jsonWireText(inner, iso)));
});
