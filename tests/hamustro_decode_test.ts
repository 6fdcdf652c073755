import assert from "node:assert/strict";
import {
  decodeCollection,
  type DecodedCollection,
  readCollection,
} from "../src/hamustro/decode.ts";
import {
  encodeCollectionFields,
  encodePayload,
  frameCollection,
  type PayloadFields,
} from "../src/hamustro/codec.ts";
import type { Collection } from "../src/hamustro/gen/hamustro_pb.ts";
import { randomInt, randomText, seededRandom } from "./_random.ts";

/** A test-side protobuf writer, so bodies can hold what no encoder of ours writes. */
class Wire {
  bytes: number[] = [];
  varint(value: bigint | number): this {
    let v = BigInt(value);
    while (v > 127n) {
      this.bytes.push(Number(v & 127n) | 128);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
    return this;
  }
  /** A varint padded with continuation bytes to `length` bytes (still the same value). */
  longVarint(value: bigint, length: number): this {
    for (let i = 0; i < length - 1; i++) {
      this.bytes.push(Number(value & 127n) | 128);
      value >>= 7n;
    }
    this.bytes.push(Number(value & 127n));
    return this;
  }
  tag(field: number, wireType: number): this {
    return this.varint((BigInt(field) << 3n) | BigInt(wireType));
  }
  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.bytes.push(bytes[i]!);
    return this;
  }
  delimited(field: number, bytes: ArrayLike<number>): this {
    return this.tag(field, 2).varint(bytes.length).raw(bytes);
  }
  get array(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const encoder = new TextEncoder();

function randomStringBytes(random: () => number): number[] {
  const roll = random();
  if (roll < 0.15) return [];
  if (roll < 0.25) {
    // Not UTF-8: stray continuation bytes, truncated sequences, overlongs, a BOM.
    const pool = [0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0x82, 0xed, 0xa0, 0xf0, 0xf8, 0xff, 0x41, 0xef];
    return Array.from({ length: randomInt(random, 1, 12) }, () => pool[randomInt(random, 0, 12)]!);
  }
  if (roll < 0.3) return [0xef, 0xbb, 0xbf, ...encoder.encode("bom")];
  if (roll < 0.35) return [...encoder.encode("x".repeat(randomInt(random, 30, 200)))];
  return [...encoder.encode(randomText(random, randomInt(random, 1, 40)))];
}

function randomUint64(random: () => number): bigint {
  const pick = randomInt(random, 0, 6);
  if (pick === 0) return BigInt(randomInt(random, 0, 127));
  if (pick === 1) return BigInt(randomInt(random, 1_400_000_000, 1_900_000_000));
  if (pick === 2) return 2n ** 53n + BigInt(randomInt(random, -3, 3));
  if (pick === 3) return 2n ** 64n - 1n - BigInt(randomInt(random, 0, 3));
  if (pick === 4) return 2n ** 32n + BigInt(randomInt(random, -2, 2));
  if (pick === 5) return BigInt(Math.floor(random() * 2 ** 52)) * 4096n;
  return 2n ** 63n + BigInt(randomInt(random, 0, 1000));
}

/** A field no schema message knows, of a random wire type (groups nested, sometimes badly). */
function unknownField(w: Wire, random: () => number, depth = 0): void {
  const field = [16, 20, 99, 1000, 2 ** 29 - 1][randomInt(random, 0, 4)]!;
  const wireType = [0, 1, 2, 3, 5][randomInt(random, 0, 4)]!;
  w.tag(field, wireType);
  if (wireType === 0) w.longVarint(randomUint64(random), randomInt(random, 1, 12));
  else if (wireType === 1) w.raw(Array.from({ length: 8 }, () => randomInt(random, 0, 255)));
  else if (wireType === 5) w.raw([1, 2, 3, 4]);
  else if (wireType === 2) w.varint(3).raw([1, 2, 3]);
  else {
    if (depth < 2 && random() < 0.5) unknownField(w, random, depth + 1);
    w.tag(random() < 0.97 ? field : field + 1, 4);
  }
}

function maybeUnknown(w: Wire, random: () => number): void {
  if (random() < 0.08) unknownField(w, random);
}

/** A string field, now and then with the wrong wire type (read as declared by protobuf-es). */
function stringField(w: Wire, random: () => number, field: number): void {
  if (random() < 0.01) {
    w.tag(field, [0, 1, 3, 4, 5][randomInt(random, 0, 4)]!).varint(randomInt(random, 0, 3));
    w.raw(encoder.encode("abc"));
    return;
  }
  w.delimited(field, randomStringBytes(random));
}

function randomParameter(random: () => number): number[] {
  const w = new Wire();
  if (random() < 0.95) stringField(w, random, 1);
  maybeUnknown(w, random);
  if (random() < 0.95) stringField(w, random, 2);
  if (random() < 0.05) stringField(w, random, 1);
  return w.bytes;
}

function randomPayload(random: () => number): number[] {
  const w = new Wire();
  const parts: (() => void)[] = [];
  if (random() < 0.95) {
    parts.push(() => {
      const value = randomUint64(random);
      const min = value === 0n ? 1 : value.toString(2).length;
      const length = random() < 0.2 ? randomInt(random, Math.ceil(min / 7), 11) : 0;
      w.tag(1, 0);
      if (length > 0) w.longVarint(value, length);
      else w.varint(value);
    });
  }
  if (random() < 0.95) parts.push(() => stringField(w, random, 2));
  if (random() < 0.95) {
    parts.push(() => {
      w.tag(3, 0);
      const roll = random();
      if (roll < 0.1) w.longVarint(2n ** 40n + BigInt(randomInt(random, 0, 999)), 6);
      else if (roll < 0.15) {
        w.longVarint(BigInt(randomInt(random, 0, 99)), randomInt(random, 6, 11));
      } else w.varint(roll < 0.3 ? 2 ** 32 - 1 : randomInt(random, 0, 100_000));
    });
  }
  for (let field = 4; field <= 8; field++) {
    if (random() < 0.5) parts.push(() => stringField(w, random, field));
  }
  for (let i = randomInt(random, 0, 4); i > 0; i--) {
    parts.push(() => w.delimited(9, randomParameter(random)));
  }
  if (random() < 0.1) parts.push(() => stringField(w, random, 2)); // a repeated scalar: last wins
  for (let i = parts.length - 1; i > 0; i--) {
    const j = randomInt(random, 0, i);
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  for (const part of parts) {
    part();
    maybeUnknown(w, random);
  }
  return w.bytes;
}

function randomCollection(random: () => number): Uint8Array {
  const w = new Wire();
  const parts: (() => void)[] = [];
  for (let field = 1; field <= 5; field++) {
    if (random() < 0.97) parts.push(() => stringField(w, random, field));
  }
  if (random() < 0.97) {
    parts.push(() => {
      const roll = random();
      w.tag(6, 0);
      if (roll < 0.08) w.varint(randomInt(random, 12, 300)); // closed enum: unknown value
      else if (roll < 0.12) w.varint(2n ** 64n - 1n); // -1 as int32
      else w.varint(randomInt(random, 0, 11));
    });
  }
  for (let field = 7; field <= 14; field++) {
    if (random() < 0.4) parts.push(() => stringField(w, random, field));
  }
  for (let i = randomInt(random, 0, 5); i > 0; i--) {
    parts.push(() => w.delimited(15, randomPayload(random)));
  }
  for (let i = parts.length - 1; i > 0; i--) {
    const j = randomInt(random, 0, i);
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  for (const part of parts) {
    part();
    maybeUnknown(w, random);
  }
  const body = w.array;
  const mutation = random();
  if (mutation < 0.12 && body.length > 0) {
    return body.subarray(0, randomInt(random, 0, body.length - 1));
  }
  if (mutation < 0.2 && body.length > 0) {
    const copy = body.slice();
    copy[randomInt(random, 0, copy.length - 1)] = randomInt(random, 0, 255);
    return copy;
  }
  if (mutation < 0.23) {
    return Uint8Array.from([...body, [0x07, 0x0c, 0x00, 0xff][randomInt(random, 0, 3)]!]);
  }
  return body;
}

/** Both decoders' results in one comparable shape (`at` as bigint, unset strings as ""). */
function plain(collection: Collection | DecodedCollection) {
  return {
    deviceId: collection.deviceId,
    clientId: collection.clientId,
    session: collection.session,
    systemVersion: collection.systemVersion,
    productVersion: collection.productVersion,
    env: collection.env,
    deviceMake: collection.deviceMake,
    deviceModel: collection.deviceModel,
    system: collection.system,
    systemLanguage: collection.systemLanguage,
    browser: collection.browser,
    browserVersion: collection.browserVersion,
    productGitHash: collection.productGitHash,
    productLanguage: collection.productLanguage,
    payloads: collection.payloads.map((p) => ({
      at: BigInt(p.at),
      event: p.event,
      nr: p.nr,
      timezone: p.timezone,
      tenantId: p.tenantId,
      userId: p.userId,
      ip: p.ip,
      country: p.country,
      parameters: p.parameters.map(({ name, value }) => ({ name, value })),
    })),
  };
}

type Outcome = { ok: ReturnType<typeof plain> } | { error: string };

function outcome(decode: () => Collection | DecodedCollection): Outcome {
  try {
    return { ok: plain(decode()) };
  } catch (error) {
    assert.ok(error instanceof SyntaxError, `expected a SyntaxError, got ${error}`);
    return { error: error.message };
  }
}

/** Same result, or both refused: a missing field with the same message, bad bytes as bad bytes. */
function assertSameOutcome(body: Uint8Array, label: string): "ok" | "missing" | "malformed" {
  const expected = outcome(() => decodeCollection(body, "protobuf"));
  const actual = outcome(() => readCollection(body, "protobuf"));
  if ("ok" in expected) {
    if (!("ok" in actual)) {
      assert.fail(`${label}: hand decoder refused a body protobuf-es reads: ${actual.error}`);
    }
    assert.deepEqual(actual.ok, expected.ok, label);
    return "ok";
  }
  assert.ok(
    "error" in actual,
    `${label}: hand decoder read a body protobuf-es refuses (${expected.error})`,
  );
  if (expected.error.startsWith("Cannot accept")) {
    assert.equal(actual.error, expected.error, label);
    return "missing";
  }
  assert.match(actual.error, /^Cannot decode the protobuf collection: /, label);
  return "malformed";
}

Deno.test("readCollection reads 600 random protobuf Collections exactly as fromBinary plus the required check", () => {
  const counts = { ok: 0, missing: 0, malformed: 0 };
  for (let seed = 1; seed <= 600; seed++) {
    const body = randomCollection(seededRandom(seed));
    counts[assertSameOutcome(body, `seed ${seed}`)]++;
  }
  // The generator must exercise every kind of outcome, not only one.
  assert.ok(counts.ok >= 100, JSON.stringify(counts));
  assert.ok(counts.missing >= 50, JSON.stringify(counts));
  assert.ok(counts.malformed >= 50, JSON.stringify(counts));
});

Deno.test("readCollection agrees with fromBinary on every prefix and every single-byte change of a body", () => {
  const header = encodeCollectionFields({
    deviceId: "d".repeat(64),
    clientId: "c1",
    session: "s".repeat(32),
    systemVersion: "14.1",
    productVersion: "2.3",
    env: "STAGING",
    deviceMake: "Äpple",
  });
  const body = frameCollection(header, [
    encodePayload({
      at: 2n ** 60n,
      event: "App.Open",
      nr: 4_000_000_000,
      userId: "ü",
      parameters: { k: "v", n: 1 },
    }),
    encodePayload({ at: 1, event: "e", nr: 2, timezone: "Europe/Budapest" }),
  ]);
  for (let end = 0; end <= body.length; end++) {
    assertSameOutcome(body.subarray(0, end), `prefix ${end}`);
  }
  for (let i = 0; i < body.length; i++) {
    for (const byte of [0x00, 0x7f, 0x80, 0xff, body[i]! ^ 0x04]) {
      const changed = body.slice();
      changed[i] = byte;
      assertSameOutcome(changed, `byte ${i} = ${byte}`);
    }
  }
});

Deno.test("readCollection names the first missing required field in declaration order", () => {
  const payload = (fields: Wire) => new Wire().delimited(15, fields.bytes);
  const complete = () =>
    new Wire().delimited(1, [0x64]).delimited(2, [0x63]).delimited(3, [0x73])
      .delimited(4, [0x31]).delimited(5, [0x32]).tag(6, 0).varint(0);
  const cases: [Uint8Array, string][] = [
    [new Wire().delimited(2, [0x63]).array, "device_id"],
    [new Wire().delimited(1, [0x64]).tag(6, 0).varint(99).array, "client_id"],
    [
      // The payload's missing nr comes after the collection's own missing env.
      new Wire().raw(payload(new Wire().tag(1, 0).varint(1).delimited(2, [0x65])).bytes)
        .delimited(1, [0x64]).delimited(2, [0x63]).delimited(3, [0x73]).delimited(4, [0x31])
        .delimited(5, [0x32]).array,
      "env",
    ],
    [
      complete().raw(
        payload(new Wire().tag(1, 0).varint(1).delimited(2, [0x65]).tag(3, 0).varint(1)).bytes,
      )
        .raw(
          payload(new Wire().tag(3, 0).varint(2).delimited(9, new Wire().delimited(2, [1]).bytes))
            .bytes,
        )
        .array,
      "payloads[1].at",
    ],
    [
      complete().raw(
        payload(
          new Wire().tag(1, 0).varint(1).delimited(2, [0x65]).tag(3, 0).varint(1)
            .delimited(9, new Wire().delimited(1, [1]).delimited(2, [1]).bytes)
            .delimited(9, new Wire().delimited(1, [1]).bytes),
        ).bytes,
      ).array,
      "payloads[0].parameters[1].value",
    ],
  ];
  for (const [body, field] of cases) {
    assert.throws(() => readCollection(body, "protobuf"), {
      name: "SyntaxError",
      message: `Cannot accept the collection as required field '${field}' is missing`,
    });
    assertSameOutcome(body, field);
  }
});

Deno.test("readCollection keeps at beyond 2^53 exact as a bigint and smaller values as numbers", () => {
  const header = encodeCollectionFields({
    deviceId: "d",
    clientId: "c",
    session: "s",
    systemVersion: "1",
    productVersion: "2",
    env: 0,
  });
  const ats: (number | bigint)[] = [0, 2 ** 53 - 1, 2n ** 53n, 2n ** 64n - 1n, 1_454_514_088];
  const payloads: PayloadFields[] = ats.map((at, i) => ({ at, event: "e", nr: i }));
  const read = readCollection(frameCollection(header, payloads.map(encodePayload)), "protobuf");
  assert.deepEqual(read.payloads.map((p) => p.at), [
    0,
    2 ** 53 - 1,
    2n ** 53n,
    2n ** 64n - 1n,
    1_454_514_088,
  ]);
});

Deno.test("readCollection gives each payload the byte length it was read from", () => {
  const header = encodeCollectionFields({
    deviceId: "d",
    clientId: "c",
    session: "s",
    systemVersion: "1",
    productVersion: "2",
    env: 0,
  });
  const encoded = [
    encodePayload({ at: 1, event: "e", nr: 1 }),
    encodePayload({ at: 2, event: "ë".repeat(300), nr: 2, parameters: { a: "b" } }),
  ];
  const read = readCollection(frameCollection(header, encoded), "protobuf");
  assert.deepEqual(read.payloads.map((p) => p.byteLength), encoded.map((p) => p.length));
});

Deno.test("readCollection agrees with fromBinary on deep groups, over-long varints and tags", () => {
  const header = () =>
    new Wire().delimited(1, [0x64]).delimited(2, [0x63]).delimited(3, [0x73])
      .delimited(4, [0x31]).delimited(5, [0x32]).tag(6, 0).varint(0);
  const group = (depth: number) => {
    const w = new Wire();
    for (let i = 0; i < depth; i++) w.tag(20, 3);
    for (let i = 0; i < depth; i++) w.tag(20, 4);
    return w.bytes;
  };
  const payloadWith = (extra: number[]) =>
    new Wire().tag(1, 0).varint(1).delimited(2, [0x65]).tag(3, 0).varint(1).raw(extra).bytes;
  const bodies: [string, Uint8Array][] = [];
  for (let depth = 95; depth <= 101; depth++) {
    bodies.push([`group ${depth} deep in the collection`, header().raw(group(depth)).array]);
    bodies.push([
      `group ${depth} deep in a payload`,
      header().delimited(15, payloadWith(group(depth))).array,
    ]);
    const parameter = new Wire().delimited(1, [0x6b]).delimited(2, [0x76]).raw(group(depth));
    bodies.push([
      `group ${depth} deep in a parameter`,
      header().delimited(15, payloadWith(new Wire().delimited(9, parameter.bytes).bytes)).array,
    ]);
  }
  // Varints of 9 to 12 bytes whose last bytes are 0x80, 0x81, 0x7f or 0x01.
  for (let length = 9; length <= 12; length++) {
    for (const last of [0x80, 0x81, 0x7f, 0x01, 0x00]) {
      const varint = [...Array(length - 1).fill(0xff), last];
      const label = `${length}-byte varint ending ${last}`;
      bodies.push([
        `at: ${label}`,
        header().delimited(
          15,
          new Wire().tag(1, 0).raw(varint).delimited(2, [1]).tag(3, 0).varint(1).bytes,
        )
          .array,
      ]);
      bodies.push([
        `nr: ${label}`,
        header().delimited(
          15,
          new Wire().tag(1, 0).varint(1).delimited(2, [1]).tag(3, 0).raw(varint).bytes,
        )
          .array,
      ]);
      bodies.push([`env: ${label}`, header().tag(6, 0).raw(varint).array]);
      bodies.push([`unknown: ${label}`, header().tag(21, 0).raw(varint).array]);
      bodies.push([`tag: ${label}`, header().raw(varint).raw([0]).array]);
    }
  }
  for (
    const tag of [
      [0x80, 0x80, 0x80, 0x80, 0x10],
      [0x80, 0x80, 0x80, 0x80, 0x18],
      [0x88, 0x80, 0x80, 0x80, 0x01],
      [0xf8, 0xff, 0xff, 0xff, 0x0f],
      [0x07],
      [0x06],
    ]
  ) {
    // A varint 0 follows, which is the whole field when the tag is read as wire type 0.
    bodies.push([`tag ${tag}`, header().raw(tag).raw([0]).array]);
  }
  for (const [label, body] of bodies) assertSameOutcome(body, label);
});

Deno.test("an env outside the enum is kept as its int32 number by both decoders, as golang/protobuf does", () => {
  const header = () =>
    new Wire().delimited(1, [0x64]).delimited(2, [0x63]).delimited(3, [0x73])
      .delimited(4, [0x31]).delimited(5, [0x32]);
  const payload = new Wire().tag(1, 0).varint(1).delimited(2, [0x65]).tag(3, 0).varint(1).bytes;
  for (
    const [value, expected] of [[12n, 12], [300n, 300], [2n ** 64n - 1n, -1], [
      2n ** 32n + 5n,
      5,
    ]] as [bigint, number][]
  ) {
    // With another unknown field, which protobuf-es alone would lose the value next to.
    const body = header().tag(6, 0).varint(value).tag(40, 0).varint(1).delimited(15, payload)
      .array;
    assert.equal(readCollection(body, "protobuf").env, expected, String(value));
    assert.equal(decodeCollection(body, "protobuf").env, expected, String(value));
    assertSameOutcome(body, String(value));
  }
  const json = (env: unknown) =>
    encoder.encode(JSON.stringify({
      device_id: "d",
      client_id: "c",
      session: "s",
      system_version: "1",
      product_version: "2",
      env,
      payloads: [{ at: 1, event: "e", nr: 1 }],
    }));
  assert.equal(readCollection(json(12), "json").env, 12);
  assert.equal(readCollection(json(-7), "json").env, -7);
  assert.equal(readCollection(json("BETA"), "json").env, 4);
  assert.throws(() => readCollection(json("GAMMA"), "json"), SyntaxError);
  assert.throws(() => readCollection(json(2 ** 31), "json"), SyntaxError);
});

/** The reference collector's JSON answers (jsonpb over Go's json.Decoder), as bodies → decoded or not. */
const JSONPB_CASES: readonly [string, string, boolean][] = [
  ["a fractional at", '"at":1454681104.0', false],
  ["an exponent at", '"at":1.454681104e9', false],
  ["a fractional nr", '"nr":1.0', false],
  ["an integer at", '"at":1454681104', true],
  ["a quoted at", '"at":"1454681104"', true],
];

Deno.test("JSON bodies are read as the reference collector's jsonpb reads them", () => {
  const body = (payloadFields: string, before = "", after = "") =>
    encoder.encode(
      `${before}{"device_id":"d","client_id":"c","session":"s","system_version":"1",` +
        `"product_version":"2","env":0,"payloads":[{"event":"e",` +
        `${payloadFields.startsWith('"nr"') ? '"at":1' : '"nr":1'},${payloadFields}}]}${after}`,
    );
  for (const [label, fields, decodes] of JSONPB_CASES) {
    if (decodes) assert.equal(readCollection(body(fields), "json").payloads.length, 1, label);
    else assert.throws(() => readCollection(body(fields), "json"), /integers/, label);
  }
  // A UTF-8 byte-order mark is not JSON whitespace for Go: refused.
  assert.throws(() => readCollection(body('"at":1', "\ufeff"), "json"), SyntaxError);
  // Whitespace before, and anything after the first object, is read past as json.Decoder does.
  for (const after of ["\n", " garbage", "}", '{"another":1}', "\u0000\u00ff"]) {
    assert.equal(
      readCollection(body('"at":1', " \r\n\t", after), "json").payloads.length,
      1,
      JSON.stringify(after),
    );
  }
  // Strings that only look like numbers, or hold a dot, are not numbers.
  assert.equal(
    readCollection(
      body('"at":1,"user_id":"1.5e3","parameters":[{"name":"1.0","value":"]}"}]'),
      "json",
    )
      .payloads[0]?.userId,
    "1.5e3",
  );
});

Deno.test("invalid UTF-8 inside a JSON string becomes U+FFFD, as Go's encoding/json makes it; outside strings it is refused", () => {
  const text = (event: string) =>
    `{"device_id":"d","client_id":"c","session":"s","system_version":"1","product_version":"2",` +
    `"env":0,"payloads":[{"at":1,"event":"${event}","nr":1}]}`;
  const [head, tail] = text("\u0000").split("\u0000") as [string, string];
  const inside = Uint8Array.from([
    ...encoder.encode(head),
    0x61,
    0xff,
    0x62,
    ...encoder.encode(tail),
  ]);
  assert.equal(readCollection(inside, "json").payloads[0]?.event, "a\ufffdb");
  // The byte between the payloads' "]" and the object's "}".
  const outside = Uint8Array.from([...encoder.encode(text("e").slice(0, -1)), 0xff, 0x7d]);
  assert.throws(() => readCollection(outside, "json"), SyntaxError);
});
