import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import {
  HASH_TEST_SIZES,
  HASH_TEST_TEXTS,
  randomBytes,
  referenceDigests,
} from "./_hash_vectors.ts";
import { loadHashers, md5Bytes, md5Hex, sha256Bytes, sha256Hex } from "../wasm/hash.ts";

Deno.test("md5Hex() and sha256Hex() match node:crypto for strings and bytes of many sizes", () => {
  for (const size of HASH_TEST_SIZES) {
    const bytes = randomBytes(size);
    assert.equal(md5Hex(bytes), createHash("md5").update(bytes).digest("hex"), `md5 ${size}`);
    assert.equal(
      sha256Hex(bytes),
      createHash("sha256").update(bytes).digest("hex"),
      `sha256 ${size}`,
    );
  }
  const text = "héllo wörld ✓ 🎉";
  assert.equal(md5Hex(text), createHash("md5").update(text, "utf8").digest("hex"));
  assert.equal(sha256Hex(text), createHash("sha256").update(text, "utf8").digest("hex"));
});

Deno.test("md5Bytes() and sha256Bytes() return the raw digests", () => {
  const input = randomBytes(333);
  assert.deepEqual(md5Bytes(input), new Uint8Array(createHash("md5").update(input).digest()));
  assert.deepEqual(sha256Bytes(input), new Uint8Array(createHash("sha256").update(input).digest()));
  assert.equal(sha256Bytes("x").length, 32);
});

Deno.test("reused hashers do not leak state between calls", () => {
  const first = sha256Hex("a");
  sha256Hex(randomBytes(10_000));
  assert.equal(sha256Hex("a"), first);
});

Deno.test("once loadHashers() resolves 'webassembly', the WebAssembly hashers give node:crypto's digests", async () => {
  assert.equal(await loadHashers(), "webassembly");
  for (const value of [...HASH_TEST_SIZES.map(randomBytes), ...HASH_TEST_TEXTS]) {
    const expected = referenceDigests(value);
    assert.equal(md5Hex(value), expected.md5);
    assert.equal(sha256Hex(value), expected.sha256);
    assert.equal(Buffer.from(md5Bytes(value)).toString("hex"), expected.md5);
    assert.equal(Buffer.from(sha256Bytes(value)).toString("hex"), expected.sha256);
  }
});
