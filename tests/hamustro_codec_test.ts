import { create, equals, fromBinary, fromJson, isFieldSet, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import {
  type CollectionFields,
  encodeCollectionFields,
  encodePayload,
  frameCollection,
  type PayloadFields,
  protobufFraming,
} from "../src/hamustro/codec.ts";
import {
  encodeCollectionFieldsJson,
  encodePayloadJson,
  frameCollectionJson,
  jsonCollectionFraming,
} from "../src/hamustro/json_codec.ts";
import { decodeCollection } from "../src/hamustro/decode.ts";
import {
  type Collection,
  CollectionSchema,
  type Payload,
  PayloadSchema,
} from "../src/hamustro/gen/hamustro_pb.ts";

const utf8 = new TextDecoder();

/** The same payload built by protobuf-es from the plain fields (the independent encoder). */
function generatedPayload(fields: PayloadFields): Payload {
  const init: Record<string, unknown> = {
    at: BigInt(fields.at),
    event: fields.event,
    nr: fields.nr,
    parameters: Object.entries(fields.parameters ?? {}).map(([name, value]) => ({
      name,
      value: typeof value === "string" ? value : JSON.stringify(value),
    })),
  };
  for (const key of ["timezone", "tenantId", "userId", "ip", "country"] as const) {
    if (fields[key]) init[key] = fields[key];
  }
  return create(PayloadSchema, init);
}

function generatedCollection(fields: CollectionFields, payloads: PayloadFields[]): Collection {
  const init: Record<string, unknown> = { ...fields, payloads: payloads.map(generatedPayload) };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === "") delete init[key];
  }
  return create(CollectionSchema, init);
}

const COLLECTION: CollectionFields = {
  deviceId: "a".repeat(64),
  clientId: "client-1",
  session: "b".repeat(32),
  systemVersion: "14.1",
  productVersion: "2.3.0",
  env: 11,
  deviceMake: "Apple",
  deviceModel: "iPhone 15 – Pro",
  system: "iOS",
  systemLanguage: "hu-HU",
  browser: "Safari",
  browserVersion: "17.0",
  productGitHash: "0123456789abcdef",
  productLanguage: "日本語",
};

Deno.test("encodePayload writes the bytes protobuf-es writes for every field", () => {
  const payload: PayloadFields = {
    at: 1454514088,
    event: "App.Open",
    nr: 42,
    timezone: "Europe/Budapest",
    tenantId: "tenant-7",
    userId: "user-1",
    ip: "10.0.0.1",
    country: "HU",
    parameters: { screen: "home", count: 3, flag: true, nested: { a: [1, null] } },
  };
  const bytes = encodePayload(payload);
  assert.deepEqual(bytes, toBinary(PayloadSchema, generatedPayload(payload)));
  const decoded = fromBinary(PayloadSchema, bytes);
  assert.equal(decoded.at, 1454514088n);
  assert.equal(decoded.event, "App.Open");
  assert.equal(decoded.nr, 42);
  assert.equal(decoded.timezone, "Europe/Budapest");
  assert.equal(decoded.tenantId, "tenant-7");
  assert.equal(decoded.userId, "user-1");
  assert.equal(decoded.ip, "10.0.0.1");
  assert.equal(decoded.country, "HU");
  assert.deepEqual(
    decoded.parameters.map(({ name, value }) => [name, value]),
    [["screen", "home"], ["count", "3"], ["flag", "true"], ["nested", '{"a":[1,null]}']],
  );
});

Deno.test("encodePayload round-trips unicode, including astral characters and long strings", () => {
  const long = "ő🎉".repeat(200); // > 127 bytes: a two-byte length varint, encodeInto path
  const payload: PayloadFields = {
    at: 1,
    event: "Kosár 🛒 – 注文",
    nr: 1,
    userId: long,
    parameters: { "név": "Árvíztűrő tükörfúrógép", "emoji🎈": long },
  };
  const decoded = fromBinary(PayloadSchema, encodePayload(payload));
  assert.equal(decoded.event, "Kosár 🛒 – 注文");
  assert.equal(decoded.userId, long);
  assert.equal(decoded.parameters[0]?.name, "név");
  assert.equal(decoded.parameters[0]?.value, "Árvíztűrő tükörfúrógép");
  assert.equal(decoded.parameters[1]?.name, "emoji🎈");
  assert.equal(decoded.parameters[1]?.value, long);
});

Deno.test("encodePayload writes lone surrogates as U+FFFD, like TextEncoder", () => {
  for (const event of ["a\ud800b", "\udc00", "x".repeat(60) + "\ud83d"]) {
    const decoded = fromBinary(PayloadSchema, encodePayload({ at: 1, event, nr: 1 }));
    assert.equal(decoded.event, new TextDecoder().decode(new TextEncoder().encode(event)));
  }
});

Deno.test("encodePayload leaves absent and empty optional fields unset", () => {
  const decoded = fromBinary(
    PayloadSchema,
    encodePayload({ at: 0, event: "e", nr: 0, timezone: "", userId: undefined, parameters: {} }),
  );
  for (const field of PayloadSchema.fields) {
    assert.equal(
      isFieldSet(decoded, field),
      ["at", "event", "nr"].includes(field.name),
      field.name,
    );
  }
  // Required fields equal to zero are still on the wire.
  assert.deepEqual(
    encodePayload({ at: 0, event: "e", nr: 0 }),
    Uint8Array.of(8, 0, 18, 1, 101, 24, 0),
  );
});

Deno.test("encodePayload encodes large varints: at beyond 2^32 and 2^53, nr up to 2^32 - 1", () => {
  const cases: [number | bigint, bigint][] = [
    [2 ** 32, 2n ** 32n],
    [2 ** 32 + 12345, 2n ** 32n + 12345n],
    [Number.MAX_SAFE_INTEGER, BigInt(Number.MAX_SAFE_INTEGER)],
    [2n ** 63n + 5n, 2n ** 63n + 5n],
    [2n ** 64n - 1n, 2n ** 64n - 1n],
  ];
  for (const [at, expected] of cases) {
    const bytes = encodePayload({ at, event: "e", nr: 0xffff_ffff });
    const decoded = fromBinary(PayloadSchema, bytes);
    assert.equal(decoded.at, expected);
    assert.equal(decoded.nr, 0xffff_ffff);
    assert.deepEqual(
      bytes,
      toBinary(PayloadSchema, create(PayloadSchema, { at: expected, event: "e", nr: 0xffff_ffff })),
    );
  }
});

Deno.test("encodePayload refuses at and nr outside their types", () => {
  assert.throws(() => encodePayload({ at: -1, event: "e", nr: 1 }), RangeError);
  assert.throws(() => encodePayload({ at: 1.5, event: "e", nr: 1 }), /'at'/);
  assert.throws(() => encodePayload({ at: 2n ** 64n, event: "e", nr: 1 }), /'at'/);
  assert.throws(() => encodePayload({ at: 1, event: "e", nr: 2 ** 32 }), /'nr'/);
  assert.throws(() => encodePayload({ at: 1, event: "e", nr: -1 }), /'nr'/);
});

Deno.test("encodePayload keeps every one of many parameters in order", () => {
  const parameters: Record<string, string> = {};
  for (let i = 0; i < 500; i++) parameters[`key_${i}`] = `value ${"x".repeat(i % 70)} ${i}`;
  const decoded = fromBinary(
    PayloadSchema,
    encodePayload({ at: 7, event: "e", nr: 1, parameters }),
  );
  assert.equal(decoded.parameters.length, 500);
  assert.deepEqual(
    decoded.parameters.map(({ name, value }) => [name, value]),
    Object.entries(parameters),
  );
});

Deno.test("frameCollection produces the same message as protobuf-es for a whole Collection", () => {
  const payloads: PayloadFields[] = [
    { at: 1454514088, event: "App.Open", nr: 1, userId: "u1" },
    { at: 1454514089, event: "Kosár", nr: 2, parameters: { k: "v".repeat(300) } },
  ];
  const body = frameCollection(encodeCollectionFields(COLLECTION), payloads.map(encodePayload));
  assert.deepEqual(body, toBinary(CollectionSchema, generatedCollection(COLLECTION, payloads)));
  const decoded = decodeCollection(body, "protobuf");
  assert.equal(decoded.deviceId, COLLECTION.deviceId);
  assert.equal(decoded.env, 11);
  assert.equal(decoded.productLanguage, "日本語");
  assert.equal(decoded.payloads[1]?.parameters[0]?.value, "v".repeat(300));
});

Deno.test("a JSON Collection parses with the generated schema into the same message", () => {
  const payloads: PayloadFields[] = [
    {
      at: 2 ** 33,
      event: 'Kosár 🛒 "quoted" \\ \n',
      nr: 1,
      timezone: "UTC",
      tenantId: "t",
      userId: "u",
      ip: "::1",
      country: "HU",
      parameters: { "ü": "\u0000\u001f", n: 1.5 },
    },
    { at: 1, event: "e", nr: 0 },
  ];
  const body = frameCollectionJson(
    encodeCollectionFieldsJson(COLLECTION),
    payloads.map(encodePayloadJson),
  );
  const parsed = JSON.parse(utf8.decode(body));
  assert.equal(typeof parsed.at, "undefined");
  assert.equal(typeof parsed.payloads[0].at, "number");
  assert.equal(parsed.env, 11);
  const fromJsonBody = fromJson(CollectionSchema, parsed);
  assert.ok(equals(CollectionSchema, fromJsonBody, generatedCollection(COLLECTION, payloads)));
  assert.ok(equals(CollectionSchema, decodeCollection(body, "json"), fromJsonBody));
});

/** A small deterministic PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ["a", "Z", "0", " ", "é", "ő", "€", "注", "🎉", '"', "\\", "\n", "\u0001"];

function randomString(random: () => number, maxLength: number): string {
  const length = Math.floor(random() * maxLength);
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return out;
}

function randomPayload(random: () => number): PayloadFields {
  const parameters: Record<string, string> = {};
  const count = Math.floor(random() * 6);
  for (let i = 0; i < count; i++) {
    parameters[`p${i}${randomString(random, 5)}`] = randomString(random, 90);
  }
  const payload: PayloadFields = {
    at: Math.floor(random() * 2 ** 40),
    event: randomString(random, 30) || "e",
    nr: Math.floor(random() * 2 ** 32),
    parameters,
  };
  if (random() < 0.5) payload.userId = randomString(random, 200);
  if (random() < 0.5) payload.timezone = randomString(random, 20);
  if (random() < 0.3) payload.country = randomString(random, 3);
  return payload;
}

Deno.test("framing sizes equal the encoded body length for random Collections, in both formats", () => {
  const random = prng(20260101);
  for (let round = 0; round < 200; round++) {
    const payloads = Array.from({ length: Math.floor(random() * 40) }, () => randomPayload(random));
    const fields: CollectionFields = { ...COLLECTION, deviceModel: randomString(random, 150) };

    const header = encodeCollectionFields(fields);
    const binary = payloads.map(encodePayload);
    const framing = protobufFraming(header);
    const body = frameCollection(header, binary);
    let expected = framing.emptyBytes;
    binary.forEach((p, i) => expected += framing.itemBytes(p.length, i === 0, "payload"));
    assert.equal(body.length, expected);
    assert.deepEqual(body, toBinary(CollectionSchema, generatedCollection(fields, payloads)));

    const frame = encodeCollectionFieldsJson(fields);
    const json = payloads.map(encodePayloadJson);
    const jsonFraming = jsonCollectionFraming(frame);
    const jsonBody = frameCollectionJson(frame, json);
    let expectedJson = jsonFraming.emptyBytes;
    json.forEach((p, i) => expectedJson += jsonFraming.itemBytes(p.length, i === 0, "payload"));
    assert.equal(jsonBody.length, expectedJson);
    assert.ok(
      equals(
        CollectionSchema,
        decodeCollection(jsonBody, "json"),
        fromBinary(CollectionSchema, body),
      ),
    );
  }
});

Deno.test("encodePayload views stay intact while later payloads fill new slabs", () => {
  const random = prng(20261125);
  const payloads = Array.from({ length: 4000 }, () => randomPayload(random));
  const encoded = payloads.map(encodePayload);
  const buffers = new Set(encoded.map((bytes) => bytes.buffer));
  assert.ok(buffers.size > 2, `${buffers.size} slabs`);
  payloads.forEach((payload, i) => {
    assert.deepEqual(
      encoded[i],
      toBinary(PayloadSchema, generatedPayload(payload)),
      `payload ${i}`,
    );
  });
});
