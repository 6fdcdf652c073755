import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  HASH_TEST_SIZES,
  HASH_TEST_TEXTS,
  randomBytes,
  referenceDigests,
} from "./_hash_vectors.ts";

// The pure JavaScript path where WebAssembly cannot run, taken for real in a child process
// (a separate file: tests/hash_test.ts stays portable to Node, this one spawns Deno).

Deno.test("where WebAssembly is missing the hashers fall back to pure JavaScript and give node:crypto's digests", async () => {
  const values = [...HASH_TEST_SIZES.map(randomBytes), ...HASH_TEST_TEXTS];
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
