import assert from "node:assert/strict";
import { TokenBucket } from "../src/kit/token_bucket.ts";
import { randomInt, seededRandom } from "./_random.ts";

Deno.test("a token bucket starts full and grants the burst at once", () => {
  let now = 1000;
  const bucket = new TokenBucket({ ratePerSecond: 100, burst: 500, now: () => now });
  for (let i = 0; i < 500; i++) assert.equal(bucket.take(), 0, `take ${i}`);
  assert.equal(bucket.take(), 10, "100/s: the next token comes in 10 ms");
  now += 9;
  assert.equal(bucket.take(), 1);
  now += 1;
  assert.equal(bucket.take(), 0);
});

Deno.test("a refused take() takes nothing", () => {
  let now = 0;
  const bucket = new TokenBucket({ ratePerSecond: 1, burst: 3, now: () => now });
  assert.equal(bucket.take(3), 0);
  assert.equal(bucket.take(2), 2000);
  assert.equal(bucket.take(2), 2000);
  now += 1000;
  assert.equal(bucket.take(2), 1000);
  assert.ok(Math.abs(bucket.available - 1) < 1e-9);
});

Deno.test("a token bucket refills at the rate and never above the burst", () => {
  let now = 0;
  const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5, now: () => now });
  assert.equal(bucket.take(5), 0);
  now += 250;
  assert.ok(Math.abs(bucket.available - 2.5) < 1e-9);
  now += 1_000_000;
  assert.equal(bucket.available, 5);
  now -= 500_000; // a clock going backwards adds nothing and takes nothing
  assert.equal(bucket.available, 5);
});

Deno.test("waiting the returned time is always enough for take() to succeed", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const random = seededRandom(seed);
    let now = randomInt(random, 0, 1e9);
    const burst = randomInt(random, 1, 20);
    const bucket = new TokenBucket({
      ratePerSecond: random() * 1000 + 0.01,
      burst,
      now: () => now,
    });
    for (let i = 0; i < 50; i++) {
      const count = randomInt(random, 1, burst);
      const wait = bucket.take(count);
      assert.ok(Number.isInteger(wait) && wait >= 0, `seed ${seed}: wait ${wait}`);
      if (wait > 0) {
        now += wait;
        assert.equal(
          bucket.take(count),
          0,
          `seed ${seed} step ${i}: still refused after waiting ${wait} ms`,
        );
      }
      now += randomInt(random, 0, 5);
    }
  }
});

Deno.test("a sustained load is limited to the rate over time", () => {
  let now = 0;
  const bucket = new TokenBucket({ ratePerSecond: 100, burst: 10, now: () => now });
  let granted = 0;
  for (; now < 10_000; now++) {
    while (bucket.take() === 0) granted++;
  }
  // 10 s at 100/s plus the initial burst.
  assert.ok(granted >= 1000 && granted <= 1010, `granted ${granted}`);
});

Deno.test("bad options and counts throw RangeError in std's form", () => {
  assert.throws(() => new TokenBucket({ ratePerSecond: 0, burst: 1 }), {
    name: "RangeError",
    message:
      "Cannot create token bucket as 'ratePerSecond' must be a positive number: current value is 0",
  });
  assert.throws(() => new TokenBucket({ ratePerSecond: Infinity, burst: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ ratePerSecond: NaN, burst: 1 }), RangeError);
  assert.throws(
    () => new TokenBucket({ ratePerSecond: 1, burst: 0 }),
    /'burst' must be a positive integer: current value is 0/,
  );
  assert.throws(() => new TokenBucket({ ratePerSecond: 1, burst: 2.5 }), RangeError);
  const bucket = new TokenBucket({ ratePerSecond: 1, burst: 2, now: () => 0 });
  assert.throws(
    () => bucket.take(3),
    /'count' must be between 0 and 'burst' \(2\): current value is 3/,
  );
  assert.throws(() => bucket.take(-1), RangeError);
  assert.throws(() => bucket.take(NaN), RangeError);
});
