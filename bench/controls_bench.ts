/**
 * What `track()` costs with each event control, per 1000 events, against a
 * client without controls in the same run (the baseline of each group): one
 * middleware, a tracking plan checked by Zod, Valibot or ArkType, sampling,
 * consent pending (events held). The transport answers at once in process;
 * sending happens after the timed part (`flushAt: Infinity`).
 *
 *   deno bench --allow-all bench/controls_bench.ts
 *
 * The baseline alone runs on any checkout of the client (main included),
 * which is how the cost without controls is compared across branches.
 */
import { type } from "arktype";
import * as v from "valibot";
import { z } from "zod";
import { Client, type ClientOptions } from "../mod.ts";

const EVENTS = 1000;
const properties = Array.from({ length: EVENTS }, (_, i) => ({
  path: `/products/${100000 + i}`,
  title: `Product ${100000 + i} - Example store`,
  price: Math.round(i * 137) / 100,
  currency: "EUR",
  in_stock: i % 3 !== 0,
}));
const users = Array.from({ length: EVENTS }, (_, i) => ({ userId: `user-${i % 5000}` }));

function bench(name: string, options: Partial<ClientOptions>, baseline = false): void {
  Deno.bench({
    name,
    group: "track() ×1000",
    baseline,
    async fn(b) {
      const client = new Client({
        endpoint: "https://collect.example.com",
        transport: () => Promise.resolve({ status: 200, headers: new Headers(), body: "{}" }),
        flushAt: Infinity,
        exitHook: false,
        ...options,
      });
      // The first event opens the storage: outside the timed part.
      client.track("warm_up", {}, users[0]);
      b.start();
      for (let i = 0; i < EVENTS; i++) client.track("product_viewed", properties[i], users[i]);
      b.end();
      await client.close();
    },
  });
}

bench("no controls", {}, true);
bench("one middleware", { middleware: [(event) => ({ ...event, context: { app: "2.4.1" } })] });
bench("Zod plan", {
  plan: {
    product_viewed: z.object({
      path: z.string(),
      title: z.string(),
      price: z.number(),
      currency: z.string().length(3),
      in_stock: z.boolean(),
    }),
  },
});
bench("Valibot plan", {
  plan: {
    product_viewed: v.object({
      path: v.string(),
      title: v.string(),
      price: v.number(),
      currency: v.pipe(v.string(), v.length(3)),
      in_stock: v.boolean(),
    }),
  },
});
bench("ArkType plan", {
  plan: {
    product_viewed: type({
      path: "string",
      title: "string",
      price: "number",
      currency: "string == 3",
      in_stock: "boolean",
    }),
  },
});
bench("sampling 0.5", { sampling: { product_viewed: 0.5 } });
bench("consent pending (held)", { consent: "pending", maxHeldEvents: EVENTS + 1 });
