import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { md5Bytes, md5Hex, sha256Bytes, sha256Hex } from "../wasm/hash.ts";

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + 65536)));
  }
  return bytes;
}

Deno.test("md5Hex() and sha256Hex() match node:crypto for strings and bytes of many sizes", () => {
  for (const size of [0, 1, 55, 56, 63, 64, 65, 1000, 4096, 70_000]) {
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
