import assert from "node:assert/strict";
import {
  backoffDelayMs,
  DEFAULT_RETRY_OPTIONS,
  INITIAL_RETRY_STATE,
  planRetry,
  resolveRetryOptions,
  type RetryState,
} from "../src/kit/retry.ts";
import { classifyResponse, parseRetryAfter, readErrorBody } from "../src/kit/response.ts";

Deno.test("backoffDelayMs() draws uniformly in [0, min(cap, base·2^attempt))", () => {
  const options = { backoffBaseMs: 100, backoffCapMs: 5000 };
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(5000, 100 * 2 ** attempt);
    assert.equal(backoffDelayMs(attempt, { ...options, random: () => 0 }), 0);
    assert.equal(backoffDelayMs(attempt, { ...options, random: () => 0.5 }), ceiling / 2);
    assert.ok(backoffDelayMs(attempt, { ...options, random: () => 0.999999 }) < ceiling);
  }
  assert.equal(backoffDelayMs(5000, { ...options, random: () => 0.5 }), 2500, "no overflow");
  // With the real random source the draws spread over the whole range.
  const draws = Array.from({ length: 2000 }, () => backoffDelayMs(3, options));
  assert.ok(Math.min(...draws) < 80 && Math.max(...draws) > 720 && Math.max(...draws) < 800);
});

Deno.test("planRetry() stops after maxRetries", () => {
  let state: RetryState = INITIAL_RETRY_STATE;
  const options = { maxRetries: 3, random: () => 0.5, backoffBaseMs: 10 };
  const delays: number[] = [];
  for (;;) {
    const plan = planRetry(state, undefined, options);
    if (!plan.retry) {
      assert.match(plan.reason, /gave up after 3 retries/);
      break;
    }
    delays.push(plan.delayMs);
    state = plan.state;
  }
  assert.deepEqual(delays, [5, 10, 20]);
});

Deno.test("planRetry() honours Retry-After with floor and cap, free for the first few", () => {
  const options = {
    maxRetries: 0,
    freeRetryAfters: 2,
    retryAfterFloorMs: 500,
    retryAfterCapMs: 10_000,
  };
  const first = planRetry(INITIAL_RETRY_STATE, 0, options);
  assert.ok(first.retry);
  assert.equal(first.delayMs, 500, "floor");
  const second = planRetry(first.state, 60_000, options);
  assert.ok(second.retry);
  assert.equal(second.delayMs, 10_000, "cap");
  assert.equal(second.state.retries, 0);
  assert.equal(planRetry(second.state, 1000, options).retry, false, "the third one counts");
  assert.equal(DEFAULT_RETRY_OPTIONS.retryAfterCapMs, 300_000);
});

Deno.test("planRetry() gives up when the total backoff ceiling would be passed", () => {
  const options = { maxRetries: 100, maxTotalBackoffMs: 2500, freeRetryAfters: 100 };
  const a = planRetry(INITIAL_RETRY_STATE, 2000, options);
  assert.ok(a.retry);
  const b = planRetry(a.state, 1000, options);
  assert.equal(b.retry, false);
  assert.match((b as { reason: string }).reason, /2500 ms backoff ceiling/);
});

Deno.test("resolveRetryOptions() rejects bad options in std's form", () => {
  assert.throws(
    () => resolveRetryOptions({ maxRetries: -1 }),
    new RangeError(
      "Cannot retry as 'maxRetries' must be a non-negative integer: current value is -1",
    ),
  );
  assert.throws(() => resolveRetryOptions({ backoffBaseMs: NaN }), RangeError);
});

Deno.test("resolveRetryOptions() takes a number as maxRetries with the other defaults", () => {
  assert.deepEqual(resolveRetryOptions(3), { ...DEFAULT_RETRY_OPTIONS, maxRetries: 3 });
  assert.throws(() => resolveRetryOptions(1.5), RangeError);
});

Deno.test("parseRetryAfter() reads seconds and HTTP dates", () => {
  const now = Date.UTC(2026, 10, 25, 8, 0, 0);
  assert.equal(parseRetryAfter("0", now), 0);
  assert.equal(parseRetryAfter(" 7 ", now), 7000);
  assert.equal(parseRetryAfter(new Date(now + 90_000).toUTCString(), now), 90_000);
  assert.equal(parseRetryAfter(new Date(now - 90_000).toUTCString(), now), 0, "past dates: now");
  assert.equal(parseRetryAfter(null, now), undefined);
  assert.equal(parseRetryAfter("-3", now), undefined);
  assert.equal(parseRetryAfter("tomorrow-ish", now), undefined);
});

Deno.test("classifyResponse() maps statuses to delivery outcomes", () => {
  const answer = (status: number, body = "", headers: HeadersInit = {}) =>
    classifyResponse({ status, body, headers: new Headers(headers) }, 0);
  assert.equal(answer(200), undefined);
  assert.equal(answer(202), undefined);
  assert.deepEqual(answer(409, '{"error":"duplicate"}'), {
    kind: "all",
    outcome: { status: "duplicate" },
  });
  assert.deepEqual(answer(409, '{"error":"in_progress","detail":"wait"}', { "retry-after": "1" }), {
    kind: "all",
    outcome: { status: "retry", code: 409, reason: "in_progress: wait", retryAfterMs: 1000 },
  });
  assert.equal(answer(413)?.kind, "split");
  for (const status of [408, 425, 429, 500, 502, 503, 504]) {
    const outcome = answer(status);
    assert.equal(outcome?.kind === "all" && outcome.outcome.status, "retry", `HTTP ${status}`);
  }
  for (const status of [400, 401, 403, 404, 415, 422]) {
    const outcome = answer(status, '{"error":"nope","detail":"because"}');
    assert.deepEqual(outcome, {
      kind: "all",
      outcome: { status: "failed", code: status, reason: "nope: because" },
    });
  }
});

Deno.test("readErrorBody() keeps long bodies short", () => {
  assert.equal(readErrorBody("x".repeat(2000)).reason.length, 501);
  assert.deepEqual(readErrorBody('{"message":"quota"}'), { reason: "quota" });
});
