import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  createKeyPolicy,
  generateIdempotencyKey,
  isValidIdempotencyKey,
  type KeyPolicy,
  LENIENT_KEY_POLICY,
  STRICT_KEY_POLICY,
  validateIdempotencyKey,
} from "../src/idempotency_key.ts";
import { deriveIdempotencyKey } from "../src/hash/derive_idempotency_key.ts";
import { IdempotencyKeyError, isIdempotencyKeyError } from "../src/errors/idempotency_key_error.ts";
import { randomInt, seededRandom } from "./_random.ts";

function rejects(key: unknown, policy: KeyPolicy, rule: string): IdempotencyKeyError {
  try {
    validateIdempotencyKey(key, policy);
  } catch (error) {
    assert.ok(error instanceof IdempotencyKeyError, `expected IdempotencyKeyError, got ${error}`);
    assert.equal(error.rule, rule, error.message);
    assert.equal(error.policy, policy.name);
    assert.match(error.message, new RegExp(`'${rule}' rule`));
    return error;
  }
  assert.fail(`key ${JSON.stringify(key)} was accepted by '${policy.name}', expected rule ${rule}`);
}

Deno.test("strict policy accepts 8 to 64 characters of letters, digits, '.', '_' and '-'", () => {
  for (const key of ["abcdefgh", "A".repeat(64), "order-1234", "a.b_c-d9", "00000000"]) {
    assert.equal(validateIdempotencyKey(key, STRICT_KEY_POLICY), key);
    assert.equal(validateIdempotencyKey(key), key, "strict is the default policy");
  }
});

Deno.test("strict policy rejects each broken rule with the rule's name", () => {
  rejects(12345678, STRICT_KEY_POLICY, "type");
  rejects(undefined, STRICT_KEY_POLICY, "type");
  rejects(null, STRICT_KEY_POLICY, "type");
  rejects("abcdefg", STRICT_KEY_POLICY, "minLength");
  rejects("", STRICT_KEY_POLICY, "minLength");
  rejects("a".repeat(65), STRICT_KEY_POLICY, "maxLength");
  for (
    const bad of [
      "order 1234",
      "order/1234",
      "order+1234",
      "ordér-1234",
      "order-1234\n",
      "ключ-12345",
    ]
  ) {
    rejects(bad, STRICT_KEY_POLICY, "pattern");
  }
  // Strict does not trim: surrounding whitespace is a pattern violation, not silently removed.
  rejects(" order-1234 ", STRICT_KEY_POLICY, "pattern");
});

Deno.test("strict policy error describes the allowed form", () => {
  const error = rejects("bad key!", STRICT_KEY_POLICY, "pattern");
  assert.match(error.allowed, /8–64 characters/);
  assert.match(error.message, /letters, digits/);
});

Deno.test("lenient policy trims surrounding whitespace and allows 1 to 255 characters of anything", () => {
  assert.equal(validateIdempotencyKey("  x  ", LENIENT_KEY_POLICY), "x");
  assert.equal(
    validateIdempotencyKey("\tuser 147: new comment ✓\n", LENIENT_KEY_POLICY),
    "user 147: new comment ✓",
  );
  const max = " " + "k".repeat(255) + " ";
  assert.equal(validateIdempotencyKey(max, LENIENT_KEY_POLICY), "k".repeat(255));
  rejects("   ", LENIENT_KEY_POLICY, "minLength");
  rejects("", LENIENT_KEY_POLICY, "minLength");
  rejects("k".repeat(256), LENIENT_KEY_POLICY, "maxLength");
  rejects(42, LENIENT_KEY_POLICY, "type");
});

Deno.test("an error never echoes more than a short prefix of a long key", () => {
  const secret = "sk_live_" + "Zq9XvB2mT7pLw4Rk".repeat(12) + "_END_OF_SECRET";
  assert.ok(secret.length >= 200);
  for (
    const [key, policy] of [[secret, STRICT_KEY_POLICY], [
      secret + "x".repeat(100),
      LENIENT_KEY_POLICY,
    ]] as const
  ) {
    let message = "";
    try {
      validateIdempotencyKey(key, policy);
    } catch (error) {
      assert.ok(isIdempotencyKeyError(error));
      message = error.message;
    }
    assert.ok(message.length > 0, "the key must be rejected");
    assert.ok(!message.includes("END_OF_SECRET"), message);
    // No run of 20 consecutive characters of the key appears in the message.
    for (let i = 0; i + 20 <= key.length; i++) {
      assert.ok(!message.includes(key.slice(i, i + 20)), `message leaks key[${i}..${i + 20}]`);
    }
    assert.match(message, new RegExp(`${key.length} chars`));
  }
});

Deno.test("createKeyPolicy() applies min, max and pattern and anchors the pattern to the whole key", () => {
  const hex = createKeyPolicy({ name: "hex", minLength: 4, maxLength: 8, pattern: /[0-9a-f]+/ });
  assert.equal(validateIdempotencyKey("c0ffee", hex), "c0ffee");
  rejects("c0ffee!!", hex, "pattern"); // unanchored pattern must not match a substring
  rejects("abc", hex, "minLength");
  rejects("abcdef012", hex, "maxLength");
  // A source that starts with ^ and ends with $ is still not anchored as a whole.
  const alternation = createKeyPolicy({ pattern: /^abc|xyz$/ });
  rejects("abc-anything", alternation, "pattern");
  rejects("anything-xyz", alternation, "pattern");
  assert.equal(validateIdempotencyKey("xyz", alternation), "xyz");
  // The multiline flag must not let ^/$ match at a line break.
  const multiline = createKeyPolicy({ pattern: /^[a-z]+$/m });
  rejects("abc\n!!!", multiline, "pattern");
  // A global pattern keeps no state between calls.
  const global = createKeyPolicy({ pattern: /[a-z]+/g });
  for (let i = 0; i < 3; i++) assert.equal(validateIdempotencyKey("abcdef", global), "abcdef");
});

Deno.test("createKeyPolicy() defaults, trim option, and typed option errors", () => {
  const custom = createKeyPolicy();
  assert.equal(custom.name, "custom");
  assert.equal(custom.minLength, 1);
  assert.equal(custom.maxLength, 255);
  assert.equal(custom.trim, false);
  assert.equal(validateIdempotencyKey(" a ", custom), " a ");
  const trimming = createKeyPolicy({ name: "trim", minLength: 2, trim: true });
  assert.equal(validateIdempotencyKey(" ab ", trimming), "ab");
  rejects(" a ", trimming, "minLength");
  assert.ok(Object.isFrozen(custom));
  assert.throws(() => createKeyPolicy({ minLength: 0 }), {
    name: "RangeError",
    message:
      "Cannot create key policy as 'minLength' must be a positive integer: current value is 0",
  });
  assert.throws(() => createKeyPolicy({ minLength: 1.5 }), RangeError);
  assert.throws(
    () => createKeyPolicy({ minLength: 10, maxLength: 9 }),
    /'maxLength'.*current value is 9/,
  );
  assert.throws(() => createKeyPolicy({ maxLength: Infinity }), RangeError);
});

Deno.test("isValidIdempotencyKey() agrees with validateIdempotencyKey()", () => {
  assert.equal(isValidIdempotencyKey("order-1234"), true);
  assert.equal(isValidIdempotencyKey("short"), false);
  assert.equal(isValidIdempotencyKey(" x ", LENIENT_KEY_POLICY), true);
  assert.equal(isValidIdempotencyKey({}, LENIENT_KEY_POLICY), false);
});

Deno.test("generateIdempotencyKey() returns distinct UUID v4 keys valid under strict and lenient", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const key = generateIdempotencyKey();
    assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(validateIdempotencyKey(key, STRICT_KEY_POLICY), key);
    assert.equal(validateIdempotencyKey(key, LENIENT_KEY_POLICY), key);
    seen.add(key);
  }
  assert.equal(seen.size, 1000);
});

Deno.test("deriveIdempotencyKey() keeps safe parts verbatim and is deterministic", () => {
  assert.equal(
    deriveIdempotencyKey(["user147", "new_comment", 1687437670]),
    "user147-new_comment-1687437670",
  );
  assert.equal(deriveIdempotencyKey(["order", 12n, "v1.2"]), "order-12-v1.2");
  const parts = ["user@example.com", "signup", "ünïcødé", ""];
  assert.equal(deriveIdempotencyKey(parts), deriveIdempotencyKey([...parts]));
});

Deno.test("deriveIdempotencyKey() hashes an unsafe part to the first 16 hex chars of its sha256", () => {
  const email = "user@example.com";
  const expected = createHash("sha256").update(email, "utf8").digest("hex").slice(0, 16);
  assert.equal(deriveIdempotencyKey([email, "signup"]), `${expected}-signup`);
});

const HOSTILE_PARTS: ReadonlyArray<ReadonlyArray<string | number | bigint>> = [
  [""],
  ["", ""],
  ["a"],
  ["-"],
  ["a-b", "c"],
  ["a", "b-c"],
  ["a", "b", "c"],
  ["🎉", "\u0000", "\ud800"],
  ["x".repeat(41)],
  ["x".repeat(10_000), "y".repeat(10_000)],
  Array.from({ length: 200 }, (_, i) => `part${i}`),
  Array.from({ length: 30 }, () => ""),
  [" leading space", "trailing space "],
  ["user147", "new_comment", 1687437670],
  [-1, 1.5, Number.MAX_SAFE_INTEGER],
  ["日本語", "한국어", "العربية"],
];

Deno.test("deriveIdempotencyKey() returns strict-valid keys for hostile parts", () => {
  for (const parts of HOSTILE_PARTS) {
    const key = deriveIdempotencyKey(parts);
    assert.ok(
      isValidIdempotencyKey(key, STRICT_KEY_POLICY),
      `${JSON.stringify(parts).slice(0, 60)} → ${key}`,
    );
    assert.equal(deriveIdempotencyKey(parts), key, "deterministic");
  }
});

Deno.test("deriveIdempotencyKey() gives distinct keys for distinct part lists", () => {
  const lists: Array<ReadonlyArray<string | number | bigint>> = [...HOSTILE_PARTS];
  for (let i = 0; i < 2000; i++) {
    lists.push([`user${i % 50}`, `event-${i % 7}`, i]);
    lists.push([`u${i}`]);
    lists.push(["x".repeat(50), String(i)]);
    lists.push(Array.from({ length: 20 }, (_, j) => `${"p".repeat(5)}${i}_${j}`));
  }
  const keys = new Map<string, string>();
  for (const parts of lists) {
    const id = JSON.stringify(parts.map(String));
    const key = deriveIdempotencyKey(parts);
    const previous = keys.get(key);
    assert.ok(previous === undefined || previous === id, `${id} and ${previous} both give ${key}`);
    keys.set(key, id);
  }
  // Joining with '-' must not make ["a-b","c"] and ["a","b-c"] collide.
  assert.notEqual(deriveIdempotencyKey(["a-b", "c"]), deriveIdempotencyKey(["a", "b-c"]));
  assert.notEqual(deriveIdempotencyKey(["a", "b", "c"]), deriveIdempotencyKey(["a-b-c"]));
});

Deno.test("deriveIdempotencyKey() fits the given policy's length limits", () => {
  const tight = createKeyPolicy({
    name: "tight",
    minLength: 20,
    maxLength: 24,
    pattern: /[A-Za-z0-9._-]+/,
  });
  for (const parts of HOSTILE_PARTS) {
    const key = deriveIdempotencyKey(parts, tight);
    assert.ok(key.length >= 20 && key.length <= 24, key);
  }
  const short = createKeyPolicy({ name: "short", minLength: 8, maxLength: 10 });
  assert.ok(deriveIdempotencyKey(["a"], short).length <= 10);
  assert.equal(deriveIdempotencyKey(["a b", "c"], LENIENT_KEY_POLICY).length > 0, true);
});

Deno.test("deriveIdempotencyKey() rejects an empty part list", () => {
  assert.throws(() => deriveIdempotencyKey([]), {
    name: "RangeError",
    message: "Cannot derive idempotency key as 'parts' must not be empty: current length is 0",
  });
});

Deno.test("the strict policy accepts exactly the keys its pattern matches (table fast path vs the RegExp)", () => {
  const random = seededRandom(7);
  const alphabet = "aZ09._-~ /+:\u00e9\u0000\u007f\u0130\u212a-";
  for (let i = 0; i < 5000; i++) {
    let key = "";
    const length = randomInt(random, 8, 20);
    for (let j = 0; j < length; j++) {
      key += random() < 0.9
        ? "abcXYZ019._-"[randomInt(random, 0, 11)]
        : alphabet[randomInt(random, 0, alphabet.length - 1)];
    }
    assert.equal(
      isValidIdempotencyKey(key, STRICT_KEY_POLICY),
      /^[A-Za-z0-9._-]+$/.test(key),
      JSON.stringify(key),
    );
  }
});
