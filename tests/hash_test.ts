import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { loadHashers, md5Bytes, md5Hex, sha256Bytes, sha256Hex } from "../wasm/hash.ts";

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

function referenceDigests(value: string | Uint8Array) {
  const md5 = createHash("md5").update(value).digest("hex");
  const sha256 = createHash("sha256").update(value).digest("hex");
  return { md5, md5Bytes: md5, sha256, sha256Bytes: sha256 };
}

const SIZES = [0, 1, 55, 56, 63, 64, 65, 1000, 4096, 70_000];
const TEXTS = ["", "abc", "héllo wörld ✓ 🎉", "é".repeat(6000), "🎉".repeat(5000)];

Deno.test("once loadHashers() resolves 'webassembly', the WebAssembly hashers give node:crypto's digests", async () => {
  assert.equal(await loadHashers(), "webassembly");
  for (const value of [...SIZES.map(randomBytes), ...TEXTS]) {
    const expected = referenceDigests(value);
    assert.equal(md5Hex(value), expected.md5);
    assert.equal(sha256Hex(value), expected.sha256);
    assert.equal(Buffer.from(md5Bytes(value)).toString("hex"), expected.md5);
    assert.equal(Buffer.from(sha256Bytes(value)).toString("hex"), expected.sha256);
  }
});

Deno.test("where WebAssembly is missing the hashers fall back to pure JavaScript and give node:crypto's digests", async () => {
  const values = [...SIZES.map(randomBytes), ...TEXTS];
  const inputs = values.map((value) =>
    typeof value === "string" ? { text: value } : { base64: Buffer.from(value).toString("base64") }
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      new URL("./_hash_child.ts", import.meta.url).pathname,
      "--without-webassembly",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(inputs)));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const report = JSON.parse(new TextDecoder().decode(stdout));
  assert.equal(report.wasm, "undefined", "the child runs without WebAssembly");
  assert.equal(report.implementation, "javascript");
  assert.equal(report.crc32Loaded, false);
  assert.equal(
    report.crc32,
    null,
    "crc32Of() answers undefined: the caller's JavaScript CRC-32 runs",
  );
  assert.deepEqual(report.digests, values.map(referenceDigests));
});
