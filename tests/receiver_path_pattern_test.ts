import assert from "node:assert/strict";
import { compilePathPattern } from "../src/receiver/_path_pattern.ts";

Deno.test("a path pattern matches literal segments exactly and names one segment per parameter", () => {
  const pattern = compilePathPattern("/api/v1/:tenant/open/account/:accountId/user/:userId/events");
  assert.deepEqual(pattern.match("/api/v1/test_a/open/account/a%2F1/user/u%20x/events"), {
    tenant: "test_a",
    accountId: "a%2F1",
    userId: "u%20x",
  });
  assert.equal(pattern.match("/api/v1/test_a/open/account//user/u/events"), null, "empty segment");
  assert.equal(pattern.match("/api/v1/t/open/account/a/b/user/u/events"), null, "two segments");
  assert.equal(pattern.match("/api/v1/t/open/account/a/user/u/events/"), null, "trailing slash");
});

Deno.test("a path pattern treats regular-expression characters in literals as text", () => {
  const pattern = compilePathPattern("/v1/events.batch");
  assert.deepEqual(pattern.match("/v1/events.batch"), {});
  assert.equal(pattern.match("/v1/eventsXbatch"), null);
  assert.equal(pattern.match("/v1/events.batch/extra"), null);
});
