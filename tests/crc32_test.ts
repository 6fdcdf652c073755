import assert from "node:assert/strict";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32, frameChecksum } from "../src/drivers/storage/file/_crc32.ts";
import { loadCrc32 } from "../wasm/crc32.ts";
import { seededRandom } from "./_random.ts";

const reference = (bytes: Uint8Array): number => zlibCrc32(bytes) >>> 0;

Deno.test("crc32() matches node:zlib over every length and offset around the 8-byte step", () => {
  const random = seededRandom(7);
  const bytes = Uint8Array.from({ length: 4096 + 13 }, () => Math.floor(random() * 256));
  for (let start = 0; start < 9; start++) {
    for (let end = start; end < start + 40; end++) {
      assert.equal(
        crc32(bytes, 0, start, end),
        reference(bytes.subarray(start, end)),
        `${start}..${end}`,
      );
    }
  }
  assert.equal(crc32(bytes), reference(bytes));
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926); // the standard check value
});

Deno.test("crc32() continues across calls: two halves give the checksum of the whole", () => {
  const random = seededRandom(11);
  const bytes = Uint8Array.from({ length: 1001 }, () => Math.floor(random() * 256));
  for (const cut of [0, 1, 7, 8, 9, 500, 1000, 1001]) {
    assert.equal(
      crc32(bytes, crc32(bytes, 0, 0, cut), cut, bytes.length),
      reference(bytes),
      `cut ${cut}`,
    );
  }
});

Deno.test("frameChecksum() is the CRC-32 of the length bytes then the payload, on both sides of the native and WebAssembly thresholds, with and without the native CRC-32, before and after the WebAssembly one is loaded", async () => {
  assert.equal(typeof zlibCrc32, "function", "Deno has node:zlib's crc32: the native path runs");
  const sizes = [1, 100, 250, 251, 252, 4095, 4096, 4097, 70_000];
  for (const size of [...sizes, ...(await loadCrc32() ? sizes : [])]) {
    const bytes = new Uint8Array(16 + size);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + size) & 0xff;
    const expected = reference(Uint8Array.from([...bytes.subarray(3, 7), ...bytes.subarray(11)]));
    assert.equal(frameChecksum(bytes, 3, 11, bytes.length), expected, `size ${size}`);
    assert.equal(
      frameChecksum(bytes, 3, 11, bytes.length, undefined),
      expected,
      `size ${size}, no native`,
    );
    let calls = 0;
    const counted = (data: Uint8Array, value?: number) => (calls++, zlibCrc32(data, value));
    assert.equal(frameChecksum(bytes, 3, 11, bytes.length, counted), expected, `size ${size}`);
    assert.equal(
      calls,
      bytes.length - 11 >= 256 ? 1 : 0,
      `size ${size}: native from 256 payload bytes`,
    );
  }
});
