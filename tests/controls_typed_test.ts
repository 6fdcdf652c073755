// A client created with a tracking plan type-checks track(name, properties) against the schema's
// input type. This file is type-checked (`deno task check`, `deno test`, and tsc in the npm
// build): each `@ts-expect-error` line must be an error, so a wrong call that compiles fails the
// check. The tests below also run the calls that must compile.
import assert from "node:assert/strict";
import { type } from "arktype";
import * as v from "valibot";
import { z } from "zod";
import { Client } from "../mod.ts";
import { startCollector } from "./_controls_collector.ts";

Deno.test("a client with a plan accepts, at compile time, exactly the properties its schemas take", async () => {
  const collector = await startCollector();
  const c = new Client({
    endpoint: collector.url,
    exitHook: false,
    plan: {
      order_paid: z.object({ total: z.number(), currency: z.string() }),
      signed_up: v.object({ plan: v.picklist(["free", "pro"]) }),
      page_viewed: type({ path: "string" }),
    },
  });
  c.track("order_paid", { total: 42, currency: "EUR" }, { userId: "u1" });
  c.track("signed_up", { plan: "pro" }, { userId: "u1" });
  c.track("page_viewed", { path: "/" }, { userId: "u1" });
  c.track("unplanned_event", { anything: [1, "two"] }, { userId: "u1" }); // unplanned: any JSON

  const refused = [
    // @ts-expect-error: `total` must be a number (Zod)
    () => c.track("order_paid", { total: "42", currency: "EUR" }, { userId: "u1" }),
    // @ts-expect-error: `currency` is missing (Zod)
    () => c.track("order_paid", { total: 42 }, { userId: "u1" }),
    // @ts-expect-error: "team" is not a plan (Valibot)
    () => c.track("signed_up", { plan: "team" }, { userId: "u1" }),
    // @ts-expect-error: `path` must be a string (ArkType)
    () => c.track("page_viewed", { path: 404 }, { userId: "u1" }),
  ];
  // What the compiler refuses, the run-time check refuses too.
  for (const call of refused) assert.throws(call, { name: "EventValidationError" });
  await c.flush();
  assert.equal(collector.events.length, 4);
  await c.close();
  await collector.close();
});

Deno.test("a client without a plan takes any JSON properties, as before", async () => {
  const c = new Client({ endpoint: "http://127.0.0.1:9", exitHook: false, flushAt: Infinity });
  c.track("order_paid", { total: "42", nested: { ok: true } }, { userId: "u1" });
  // @ts-expect-error: properties are JSON objects (a Date is not a JSON value)
  assert.throws(() => c.track("order_paid", { at: new Date() }, { userId: "u1" }));
  assert.equal(c.stats().tracked, 1);
  await c.close({ timeoutMs: 0 });
});
