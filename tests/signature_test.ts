import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { signHamustro, verifyHamustro } from "../src/hamustro/signature.ts";
import { timingSafeEqual } from "../src/_util/timing_safe_equal.ts";
import { encodeBase64 } from "../src/_util/base64.ts";
import { sha256Bytes } from "../wasm/hash.ts";
import { randomInt, seededRandom } from "./_random.ts";

function expectedSignature(
  time: number | string,
  body: string | Uint8Array,
  secret: string,
): string {
  const bodyMd5 = createHash("md5").update(body).digest("hex");
  return createHash("sha256").update(`${time}|${bodyMd5}|${secret}`, "utf8").digest("base64");
}

function randomBytes(random: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => randomInt(random, 0, 255));
}

Deno.test("signHamustro() is base64 of the raw sha256 of 'time|md5hex(body)|secret'", () => {
  const random = seededRandom(3);
  const bodies: Array<string | Uint8Array> = [
    "",
    "{}",
    '{"events":[{"name":"é✓🎉"}]}',
    randomBytes(random, 1024),
    randomBytes(random, 70_000),
  ];
  for (const body of bodies) {
    for (
      const [time, secret] of [[1454514088, "s3cret"], ["1454514088", "ünïcødé secret"], [
        0,
        "",
      ]] as const
    ) {
      const signature = signHamustro(time, body, secret);
      assert.equal(signature, expectedSignature(time, body, secret));
      assert.equal(signature.length, 44, "raw 32-byte digest, not hex");
      assert.match(signature, /^[A-Za-z0-9+/]{43}=$/);
    }
  }
});

Deno.test("a string body is signed as its UTF-8 bytes", () => {
  const body = '{"name":"café"}';
  assert.equal(signHamustro(1, body, "k"), signHamustro(1, new TextEncoder().encode(body), "k"));
});

Deno.test("verifyHamustro() accepts the right signature and rejects any single-bit change", () => {
  const random = seededRandom(11);
  const body = randomBytes(random, 512);
  const time = 1454514088;
  const secret = "s3cret";
  const signature = signHamustro(time, body, secret);
  assert.equal(verifyHamustro(time, body, secret, signature), true);
  // Every bit of the body.
  for (let bit = 0; bit < body.length * 8; bit++) {
    const changed = body.slice();
    changed[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(verifyHamustro(time, changed, secret, signature), false, `body bit ${bit}`);
  }
  // Every bit of the signature's decoded digest.
  const digest = Uint8Array.from(atob(signature), (c) => c.charCodeAt(0));
  for (let bit = 0; bit < digest.length * 8; bit++) {
    const changed = digest.slice();
    changed[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(
      verifyHamustro(time, body, secret, encodeBase64(changed)),
      false,
      `signature bit ${bit}`,
    );
  }
  // Every bit of the secret and the time string.
  for (const [which, text] of [["secret", secret], ["time", String(time)]] as const) {
    for (let i = 0; i < text.length; i++) {
      for (let b = 0; b < 7; b++) {
        const changed = text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << b)) +
          text.slice(i + 1);
        const ok = which === "secret"
          ? verifyHamustro(time, body, changed, signature)
          : verifyHamustro(changed, body, secret, signature);
        assert.equal(ok, false, `${which} char ${i} bit ${b}`);
      }
    }
  }
  assert.equal(verifyHamustro(time, body, secret, signature.slice(0, 43)), false, "truncated");
  assert.equal(verifyHamustro(time, body, secret, signature + "="), false, "extended");
  assert.equal(verifyHamustro(time, body, secret, ""), false, "empty");
});

Deno.test("timingSafeEqual() is true exactly for equal strings", () => {
  assert.equal(timingSafeEqual("", ""), true);
  assert.equal(timingSafeEqual("abc", "abc"), true);
  assert.equal(timingSafeEqual("abc", "abd"), false);
  assert.equal(timingSafeEqual("abc", "ab"), false);
  assert.equal(timingSafeEqual("", "a"), false);
  assert.equal(timingSafeEqual("a", ""), false);
  assert.equal(
    timingSafeEqual("abcabc", "abc"),
    false,
    "a repeat of the shorter string is not equal",
  );
  assert.equal(timingSafeEqual("\u0100", "\u0000"), false, "high byte of a UTF-16 unit counts");
  const random = seededRandom(5);
  for (let i = 0; i < 500; i++) {
    const a = Array.from(
      { length: randomInt(random, 0, 6) },
      () => String.fromCharCode(randomInt(random, 97, 99)),
    ).join("");
    const b = Array.from(
      { length: randomInt(random, 0, 6) },
      () => String.fromCharCode(randomInt(random, 97, 99)),
    ).join("");
    assert.equal(timingSafeEqual(a, b), a === b, `${a} vs ${b}`);
  }
});

Deno.test("encodeBase64() matches btoa for every length and byte value", () => {
  const random = seededRandom(9);
  for (let length = 0; length < 70; length++) {
    const bytes = randomBytes(random, length);
    assert.equal(encodeBase64(bytes), btoa(String.fromCharCode(...bytes)), `length ${length}`);
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(encodeBase64(all), btoa(String.fromCharCode(...all)));
});

Deno.test("raw digests are copies, not views into reused WebAssembly memory", () => {
  const first = sha256Bytes("first");
  const copy = first.slice();
  sha256Bytes("second");
  assert.deepEqual(first, copy);
});
