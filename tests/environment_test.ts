import assert from "node:assert/strict";
import { Environment, environmentName, environmentNumber } from "../src/hamustro/environment.ts";

// Hamustro's proto2 Environment enum, as DEVELOPERS.md lists it.
const EXPECTED: Array<[string, number]> = [
  ["PRODUCTION", 0],
  ["GENERAL_AVAILABILITY", 1],
  ["RELEASE_TO_MARKETING", 2],
  ["RELEASE_CANDIDATE", 3],
  ["BETA", 4],
  ["ALPHA", 5],
  ["WEEKLY", 6],
  ["NIGHTLY", 7],
  ["STAGING", 8],
  ["QUALITY_ASSURANCE", 9],
  ["TESTING", 10],
  ["DEVELOPMENT", 11],
];

Deno.test("Environment maps every name to its wire number", () => {
  assert.deepEqual(Object.entries(Environment), EXPECTED);
  assert.ok(Object.isFrozen(Environment));
});

Deno.test("environmentNumber() and environmentName() convert both ways", () => {
  for (const [name, number] of EXPECTED) {
    assert.equal(environmentNumber(name), number);
    assert.equal(environmentNumber(number), number);
    assert.equal(environmentName(number), name);
    assert.equal(environmentName(name), name);
  }
});

Deno.test("environmentNumber() rejects unknown names and numbers with a RangeError listing the allowed values", () => {
  for (const bad of ["production", "PROD", "", "toString", "__proto__", "8", -1, 12, 1.5, NaN]) {
    assert.throws(() => environmentNumber(bad), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.match(
        error.message,
        /^Cannot use environment as 'env' must be one of PRODUCTION, .*DEVELOPMENT or 0–11: current value is /,
      );
      return true;
    }, String(bad));
  }
  assert.throws(() => environmentName("nope"), RangeError);
});
