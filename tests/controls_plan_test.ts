// Tracking plans with Zod, Valibot and ArkType, through a real client and a loopback collector
// (portable: runs under Node too).
import assert from "node:assert/strict";
import { type } from "arktype";
import * as v from "valibot";
import { z } from "zod";
import {
  Client,
  type ClientOptions,
  type EventValidationError,
  isEventValidationError,
} from "../mod.ts";
import type { TrackingPlan } from "../src/controls/mod.ts";
import { startCollector } from "./_controls_collector.ts";

function client<Plan extends TrackingPlan>(
  url: string,
  options: Partial<ClientOptions<Plan>> & { plan: Plan },
): Client<Plan> {
  return new Client<Plan>({ endpoint: url, exitHook: false, flushAt: Infinity, ...options });
}

const LIBRARIES = [
  {
    name: "Zod",
    plan: {
      order_paid: z.object({ total: z.number().positive(), currency: z.string().length(3) }),
      signed_up: z.object({ plan: z.enum(["free", "pro"]).default("free") }),
    },
  },
  {
    name: "Valibot",
    plan: {
      order_paid: v.object({
        total: v.pipe(v.number(), v.minValue(0.01)),
        currency: v.pipe(v.string(), v.length(3)),
      }),
      signed_up: v.object({ plan: v.optional(v.picklist(["free", "pro"]), "free") }),
    },
  },
  {
    name: "ArkType",
    plan: {
      order_paid: type({ total: "number > 0", currency: "string == 3" }),
      signed_up: type({ plan: "'free' | 'pro' = 'free'" }),
    },
  },
];

function schemaError(error: unknown): EventValidationError {
  assert.ok(isEventValidationError(error), String(error));
  return error;
}

for (const { name, plan } of LIBRARIES) {
  Deno.test(`a tracking plan written with ${name} sends valid events with the schema's output and refuses invalid ones with their issues`, async () => {
    const collector = await startCollector();
    const c = client(collector.url, { plan });
    const paid = c.track("order_paid", { total: 42, currency: "EUR" }, { userId: "u1" });
    c.track("signed_up", {}, { userId: "u1" }); // the schema's default fills `plan`
    let thrown: unknown;
    try {
      c.track("order_paid", { total: -1, currency: "EURO" } as never, { userId: "u1" });
    } catch (error) {
      thrown = error;
    }
    const error = schemaError(thrown);
    assert.equal(error.rule, "schema");
    assert.match(error.message, /breaks the tracking plan for 'order_paid'/);
    // Libraries list the issues in their own order; the field is the first one's path.
    const paths = error.issues.map((issue) => issue.path.join("."));
    assert.deepEqual([...paths].sort(), ["currency", "total"]);
    assert.equal(error.field, `properties.${paths[0]}`);
    assert.ok(error.issues.every((issue) => issue.message.length > 0));
    await c.flush();
    assert.equal(collector.events.length, 2, "the invalid event is not sent; the others are");
    assert.equal(collector.events[0]!.idempotency_key, paid);
    assert.deepEqual(collector.events[1]!.properties, { plan: "free" });
    await c.close();
    await collector.close();
  });
}

Deno.test("unplanned events are sent under allow, sent and reported under warn, refused under reject", async () => {
  const collector = await startCollector();
  const plan = { order_paid: z.object({ total: z.number() }) };
  const allow = client(collector.url, { plan });
  allow.track("page_viewed", { path: "/" }, { userId: "u1" });
  await allow.flush();
  assert.equal(collector.events.length, 1);

  const warnings: unknown[] = [];
  const warn = client(collector.url, { plan, unplanned: "warn", onError: (e) => warnings.push(e) });
  warn.track("page_viewed", { path: "/" }, { userId: "u1" });
  await warn.flush();
  assert.equal(collector.events.length, 2);
  assert.equal(warnings.length, 1);
  assert.equal(schemaError(warnings[0]).rule, "unplanned");

  const reject = client(collector.url, { plan, unplanned: "reject" });
  assert.throws(
    () => reject.track("page_viewed", { path: "/" }, { userId: "u1" }),
    (error: unknown) => schemaError(error).rule === "unplanned",
  );
  // identify and alias are not plan events: never refused as unplanned.
  reject.identify("u1", { plan: "pro" });
  await reject.flush();
  assert.equal(collector.events.length, 3);
  for (const c of [allow, warn, reject]) await c.close();
  await collector.close();
});

Deno.test("an asynchronous schema is refused at construction when a probe shows it, else at first use", async () => {
  assert.throws(
    () =>
      new Client({
        endpoint: "http://127.0.0.1:9",
        exitHook: false,
        plan: { order_paid: v.objectAsync({ total: v.number() }) },
      }),
    (error: unknown) =>
      error instanceof TypeError && /'order_paid' validates asynchronously/.test(error.message),
  );
  // Zod answers a probe that fails early synchronously: its async refinement shows at first use.
  const c = new Client({
    endpoint: "http://127.0.0.1:9",
    exitHook: false,
    plan: { order_paid: z.object({ total: z.number() }).refine(async () => await true) },
  });
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => c.track("order_paid", { total: 1 }, { userId: "u1" }),
      (error: unknown) => schemaError(error).rule === "async",
    );
  }
  assert.equal(c.stats().tracked, 0);
  await c.close();
});

Deno.test("a plan entry that is not a Standard Schema is refused at construction, naming the event", () => {
  assert.throws(
    () =>
      new Client({
        endpoint: "http://127.0.0.1:9",
        exitHook: false,
        plan: { order_paid: { parse: () => true } as never },
      }),
    /'plan\["order_paid"\]' must be a Standard Schema/,
  );
  assert.throws(
    () =>
      new Client({
        endpoint: "http://127.0.0.1:9",
        exitHook: false,
        plan: {},
        unplanned: "maybe" as never,
      }),
    /'unplanned' must be "allow", "warn" or "reject"/,
  );
});
