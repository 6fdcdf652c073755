import assert from "node:assert/strict";
import { utf8ByteLength, writeUtf8Into } from "../src/_util/utf8.ts";
import { randomInt, randomText, seededRandom } from "./_random.ts";

const encoder = new TextEncoder();

Deno.test("utf8ByteLength() equals TextEncoder's length at every encoding boundary", () => {
  const cases = [
    "",
    "a",
    "\u007f",
    "\u0080",
    "\u07ff",
    "\u0800",
    "\ud7ff",
    "\ue000",
    "\uffff",
    "🎉",
    "\u{10ffff}",
    "\ud800", // lone high surrogate
    "\udfff", // lone low surrogate
    "\ud800a",
    "a\udc00",
    "\udc00\ud800", // reversed pair: two lone surrogates
    "\ud800\ud800\udc00", // lone high, then a real pair
    "\ud83c", // high surrogate at the very end
  ];
  for (const text of cases) {
    assert.equal(utf8ByteLength(text), encoder.encode(text).byteLength, JSON.stringify(text));
  }
});

Deno.test("utf8ByteLength() equals TextEncoder's length on random strings with surrogate pairs and lone surrogates", () => {
  for (let seed = 1; seed <= 300; seed++) {
    const random = seededRandom(seed);
    const text = randomText(random, randomInt(random, 0, 400), seed % 2 === 0);
    assert.equal(utf8ByteLength(text), encoder.encode(text).byteLength, `seed ${seed}`);
  }
});

Deno.test("utf8ByteLength() measures JSON-encoded events as sent", () => {
  const random = seededRandom(7);
  const event = JSON.stringify({
    name: randomText(random, 50, true),
    props: { text: randomText(random, 300) },
  });
  assert.equal(utf8ByteLength(event), encoder.encode(event).byteLength);
});

Deno.test("writeUtf8Into() writes what TextEncoder writes, ASCII prefix or not, lone surrogates included", () => {
  const random = seededRandom(99);
  const buffer = new Uint8Array(4096);
  for (let i = 0; i < 2000; i++) {
    const text = (random() < 0.5 ? "ascii-prefix/" : "") +
      randomText(random, Math.floor(random() * 60), true);
    const start = Math.floor(random() * 100);
    const written = writeUtf8Into(buffer, start, text);
    assert.deepEqual(buffer.subarray(start, start + written), new TextEncoder().encode(text));
  }
});
