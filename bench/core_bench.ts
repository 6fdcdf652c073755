/**
 * Core primitives against `node:crypto` in the same run (compare the ratios,
 * not absolute figures: the machine is shared), and the hashers' two
 * implementations (hash-wasm, @noble/hashes). Run with `deno task bench`.
 */
import { createHash } from "node:crypto";
import { md5 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { loadHashers, md5Hex, sha256Hex } from "../wasm/hash.ts";
import { hamustroSession } from "../src/hamustro/session.ts";
import { signHamustro } from "../src/hamustro/signature.ts";
import { STRICT_KEY_POLICY, validateIdempotencyKey } from "../src/idempotency_key.ts";
import { chunkBySize } from "../src/kit/chunk.ts";
import { utf8ByteLength } from "../src/_util/utf8.ts";

// The hash functions answer with @noble/hashes until hash-wasm's hashers are ready: measure those.
await loadHashers();

function bytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + 7) & 255;
  return out;
}

const SIZES = [["64 B", 64], ["1 KiB", 1024], ["512 KiB", 512 * 1024]] as const;

for (const [label, size] of SIZES) {
  const data = bytes(size);
  for (const algorithm of ["md5", "sha256"] as const) {
    const ours = algorithm === "md5" ? md5Hex : sha256Hex;
    const group = `${algorithm} ${label}`;
    Deno.bench({
      name: `node:crypto ${algorithm} ${label}`,
      group,
      baseline: true,
      fn: () => {
        createHash(algorithm).update(data).digest("hex");
      },
    });
    Deno.bench({ name: `hash-wasm ${algorithm} ${label}`, group, fn: () => void ours(data) });
    // What the hash functions fall back to where WebAssembly cannot compile (workerd, edge).
    const noble = algorithm === "md5" ? md5 : sha256;
    Deno.bench({
      name: `@noble/hashes ${algorithm} ${label}`,
      group,
      fn: () => void bytesToHex(noble(data)),
    });
  }
}

const deviceId = sha256Hex("5F3C2A1E-9B7D-4C1A-8E2F-0123456789AB");
const session = {
  deviceId,
  clientId: "client-42",
  systemVersion: "Android 13",
  productVersion: "4.2.0",
  env: "PRODUCTION",
} as const;
Deno.bench({
  name: "node:crypto session id",
  group: "session id",
  baseline: true,
  fn: () => {
    createHash("md5").update(`${deviceId}:client-42:Android 13:4.2.0:0`).digest("hex");
  },
});
Deno.bench({
  name: "hamustroSession()",
  group: "session id",
  fn: () => void hamustroSession(session),
});

for (const [label, size] of [["1 KiB", 1024], ["512 KiB", 512 * 1024]] as const) {
  const body = bytes(size);
  Deno.bench({
    name: `node:crypto signature ${label}`,
    group: `signature ${label}`,
    baseline: true,
    fn: () => {
      const bodyMd5 = createHash("md5").update(body).digest("hex");
      createHash("sha256").update(`1454514088|${bodyMd5}|s3cret`).digest("base64");
    },
  });
  Deno.bench({
    name: `signHamustro() ${label}`,
    group: `signature ${label}`,
    fn: () => void signHamustro(1454514088, body, "s3cret"),
  });
}

const keys = [
  "order-1234-5678",
  "9c915a48-e71c-4d42-8a3b-1f2e3d4c5b6a",
  "user147-new_comment-1687437670",
];
Deno.bench({
  name: "validateIdempotencyKey() strict ×3",
  group: "keys",
  fn: () => {
    for (const key of keys) validateIdempotencyKey(key, STRICT_KEY_POLICY);
  },
});

// 100 k events of ≈320 bytes with sizes precomputed, so the chunking figure is
// the cost beyond JSON encoding; divide the time per iteration by 100 000.
const EVENT_COUNT = 100_000;
const objects = Array.from({ length: EVENT_COUNT }, (_, i) => ({
  type: i % 10 === 0 ? "identify" : "track",
  name: "checkout_completed",
  userId: `user-${i % 5000}`,
  timestamp: 1_700_000_000_000 + i,
  idempotencyKey: `9c915a48-e71c-4d42-8a3b-${String(i).padStart(12, "0")}`,
  properties: {
    cart: "c".repeat(60 + (i % 40)),
    total: i * 1.5,
    currency: "EUR",
    items: [1, 2, 3],
  },
}));
const events = objects.map((object) => {
  const json = JSON.stringify(object);
  return { type: object.type, json, size: utf8ByteLength(json) };
});
const encoder = new TextEncoder();
Deno.bench({
  name: "JSON.stringify 100k events",
  group: "chunking 100k events",
  baseline: true,
  fn: () => {
    for (const object of objects) JSON.stringify(object);
  },
});
Deno.bench({
  name: "TextEncoder.encode 100k events",
  group: "chunking 100k events",
  fn: () => {
    for (const event of events) encoder.encode(event.json);
  },
});
Deno.bench({
  name: "utf8ByteLength 100k events",
  group: "chunking 100k events",
  fn: () => {
    for (const event of events) utf8ByteLength(event.json);
  },
});
Deno.bench({
  name: "chunkBySize 100k events (sizes precomputed)",
  group: "chunking 100k events",
  fn: () => {
    chunkBySize(events, {
      sizeOf: (event) => event.size,
      groupOf: (event) => event.type,
      maxBytes: 512_000,
      maxItems: 1000,
      maxItemsPerGroup: 100,
    });
  },
});
