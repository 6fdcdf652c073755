/**
 * Hamustro encoding costs, hand-written codec vs protobuf-es reflection, in
 * one run (compare the ratios, not the absolute numbers, on a busy machine).
 *
 * Run: `npx -y deno@2 bench --allow-all bench/hamustro_bench.ts`
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { chunkBySize } from "../src/kit/chunk.ts";
import { createEvent } from "../src/event.ts";
import { signHamustro } from "../src/hamustro/signature.ts";
import {
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
import { CollectionSchema, PayloadSchema } from "../src/hamustro/gen/hamustro_pb.ts";
import { decodeCollection, readCollection } from "../src/hamustro/decode.ts";
import { hamustroProfile } from "../src/hamustro/profile.ts";
import { hamustroRoute } from "../src/hamustro/route.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { loadHashers } from "../wasm/hash.ts";

// The hash functions answer with @noble/hashes until hash-wasm's hashers are ready: measure those.
await loadHashers();

const SECRET = "bench-secret";
const profile = hamustroProfile({
  collectorUrl: "http://127.0.0.1:1",
  sharedSecretKey: SECRET,
  deviceId: "device-1",
  clientId: "bench-client",
  systemVersion: "14.1",
  productVersion: "2.3.0",
  env: "PRODUCTION",
  deviceMake: "Apple",
  deviceModel: "iPhone",
  timezone: "Europe/Budapest",
});

/** A typical event: name, user, time zone, serial number and four parameters. */
function payloadOf(i: number): PayloadFields {
  return {
    at: 1_700_000_000 + i,
    event: "Checkout.Completed",
    nr: i + 1,
    timezone: "Europe/Budapest",
    userId: `user-${i % 1000}`,
    parameters: { plan: "pro", seats: String(i % 50), currency: "EUR", source: "mobile" },
  };
}

const payloads = Array.from({ length: 10_000 }, (_, i) => payloadOf(i));
const events = payloads.map((p) =>
  createEvent({
    name: p.event,
    userId: p.userId,
    timestamp: Number(p.at) * 1000,
    properties: p.parameters ?? {},
    context: { nr: p.nr },
  })
);
let cursor = 0;
const next = () => payloads[cursor++ % payloads.length]!;

function generated(p: PayloadFields) {
  return create(PayloadSchema, {
    at: BigInt(p.at),
    event: p.event,
    nr: p.nr,
    timezone: p.timezone,
    userId: p.userId,
    parameters: Object.entries(p.parameters ?? {}).map(([name, value]) => ({
      name,
      value: String(value),
    })),
  });
}

Deno.bench("payload: protobuf-es toBinary(create(PayloadSchema))", {
  group: "payload",
  baseline: true,
}, () => {
  toBinary(PayloadSchema, generated(next()));
});
Deno.bench("payload: hand encodePayload", { group: "payload" }, () => {
  encodePayload(next());
});
Deno.bench("payload: hand encodePayloadJson", { group: "payload" }, () => {
  encodePayloadJson(next());
});
let eventCursor = 0;
Deno.bench("payload: profile.encode(event) (mapping + hand encoder)", { group: "payload" }, () => {
  profile.encode(events[eventCursor++ % events.length]!);
});

// A 500 KB Collection: as many pre-encoded payloads as fit.
const MAX_BYTES = 512_000;
const header = encodeCollectionFields(profile.collection);
const encoded = payloads.map(encodePayload);
const fitting = chunkBySize(encoded, {
  sizeOf: (p) => p.length,
  framing: protobufFraming(header),
  maxBytes: MAX_BYTES,
}).chunks[0]!;
const fittingPayloads = payloads.slice(0, fitting.length);
const jsonFrame = encodeCollectionFieldsJson(profile.collection);
const jsonPayloads = chunkBySize(payloads.map(encodePayloadJson), {
  sizeOf: (p) => p.length,
  framing: jsonCollectionFraming(jsonFrame),
  maxBytes: MAX_BYTES,
}).chunks[0]!;
console.log(
  `500 KB Collection: ${fitting.length} payloads, ${
    frameCollection(header, fitting).length
  } bytes (protobuf); ${jsonPayloads.length} payloads (JSON)`,
);
const collectionMessage = create(CollectionSchema, {
  ...profile.collection,
  env: 0,
  payloads: fittingPayloads.map(generated),
});
const collectionInit = () => ({ ...profile.collection, env: 0 });

Deno.bench("collection: protobuf-es create+toBinary of the whole Collection, signed", {
  group: "collection",
  baseline: true,
}, () => {
  const body = toBinary(
    CollectionSchema,
    create(CollectionSchema, { ...collectionInit(), payloads: fittingPayloads.map(generated) }),
  );
  signHamustro(1_700_000_000, body, SECRET);
});
Deno.bench("collection: protobuf-es toBinary of a built Collection, signed", {
  group: "collection",
}, () => {
  signHamustro(1_700_000_000, toBinary(CollectionSchema, collectionMessage), SECRET);
});
Deno.bench("collection: frameCollection of pre-encoded payloads, signed", {
  group: "collection",
}, () => {
  signHamustro(1_700_000_000, frameCollection(header, fitting), SECRET);
});
Deno.bench("collection: frameCollection only (no signature)", { group: "collection" }, () => {
  frameCollection(header, fitting);
});
Deno.bench("collection: frameCollectionJson of pre-encoded payloads, signed", {
  group: "collection",
}, () => {
  signHamustro(1_700_000_000, frameCollectionJson(jsonFrame, jsonPayloads), SECRET);
});

// Decoding at the receiver: the same 500 KB protobuf body.
const fittingBody = frameCollection(header, fitting);
Deno.bench("decode: protobuf-es fromBinary of a 500 KB Collection", {
  group: "decode",
  baseline: true,
}, () => {
  fromBinary(CollectionSchema, fittingBody);
});
Deno.bench("decode: protobuf-es fromBinary + required-field check (decodeCollection)", {
  group: "decode",
}, () => {
  decodeCollection(fittingBody, "protobuf");
});
Deno.bench("decode: hand readCollection (required fields checked)", { group: "decode" }, () => {
  readCollection(fittingBody, "protobuf");
});

// The receiver: route (signature, decode, session) + core (size checks, dedupe claims, sink).
// A fresh receiver (empty memory store) per iteration, so every payload is claimed.
const route = hamustroRoute({ sharedSecretKey: SECRET });
Deno.bench(`receiver: one signed 500 KB Collection (${fitting.length} payloads), hamustroRoute`, {
  group: "receiver",
}, async () => {
  const receiver = createReceiver({ routes: [route], sink: { write: () => {} } });
  const time = String(Math.floor(Date.now() / 1000));
  const answer = await receiver(
    new Request("http://127.0.0.1/api/v1/track", {
      method: "POST",
      headers: {
        "Content-Type": "application/protobuf",
        "X-Hamustro-Time": time,
        "X-Hamustro-Signature": signHamustro(time, fittingBody, SECRET),
      },
      body: fittingBody as Uint8Array<ArrayBuffer>,
    }),
  );
  if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
});
