/**
 * CPU time of `track()` per event with each event control, and without any,
 * against the same client without controls from another checkout (`--other`,
 * e.g. an export of main: a client without controls must cost what it did).
 * Each contender runs in its own process (`--rounds` rounds of: a fresh
 * client, one untimed event that opens its storage, `--events` timed
 * `track()` calls; sending comes after, untimed, as `flushAt` is
 * `Infinity`); contenders alternate for `--runs` runs, and the median of the
 * runs' medians is reported with its ratio to this checkout's client without
 * controls.
 *
 *   deno run -A bench/controls_cost.ts [--events 10000] [--rounds 9] [--runs 5] [--other DIR]
 */
import process from "node:process";
import { type } from "arktype";
import * as v from "valibot";
import { z } from "zod";
import type { ClientOptions } from "../mod.ts";
import { flag, machine, median, runContender } from "./_harness.ts";

const EVENTS = Number(flag("--events") ?? 10_000);
const ROUNDS = Number(flag("--rounds") ?? 9);
const RUNS = Number(flag("--runs") ?? 5);
const OTHER = flag("--other");

const CONTROLS: Record<string, Partial<ClientOptions>> = {
  "no controls": {},
  "one middleware": { middleware: [(e) => ({ ...e, context: { app: "2.4.1" } })] },
  "Zod plan": {
    plan: {
      product_viewed: z.object({
        path: z.string(),
        title: z.string(),
        price: z.number(),
        currency: z.string().length(3),
        in_stock: z.boolean(),
      }),
    },
  },
  "Valibot plan": {
    plan: {
      product_viewed: v.object({
        path: v.string(),
        title: v.string(),
        price: v.number(),
        currency: v.pipe(v.string(), v.length(3)),
        in_stock: v.boolean(),
      }),
    },
  },
  "ArkType plan": {
    plan: {
      product_viewed: type({
        path: "string",
        title: "string",
        price: "number",
        currency: "string == 3",
        in_stock: "boolean",
      }),
    },
  },
  // A rate just under 1: every event hashed and stamped with its rate, (almost) none dropped.
  "sampling (hashed, all kept)": { sampling: { product_viewed: 0.999999, "*": 0.5 } },
  "consent pending (held)": { consent: "pending", maxHeldEvents: EVENTS + 1 },
};

interface Tracker {
  track(name: string, properties: object, options: { userId: string }): unknown;
  close(): Promise<unknown>;
}

/** One contender's rounds in this process: CPU µs per event, per round. */
async function child(name: string, root: string): Promise<number[]> {
  const { Client } = await import(new URL(`${root}/mod.ts`, `file://${Deno.cwd()}/`).href) as {
    Client: new (options: object) => Tracker;
  };
  const properties = Array.from({ length: 1000 }, (_, i) => ({
    path: `/products/${100000 + i}`,
    title: `Product ${100000 + i} - Example store`,
    price: Math.round(i * 137) / 100,
    currency: "EUR",
    in_stock: i % 3 !== 0,
  }));
  const users = Array.from({ length: 1000 }, (_, i) => ({ userId: `user-${i}` }));
  const perEvent: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const client = new Client({
      endpoint: "https://collect.example.com",
      transport: () => Promise.resolve({ status: 200, headers: new Headers(), body: "{}" }),
      flushAt: Infinity,
      exitHook: false,
      maxQueueSize: EVENTS + 10,
      ...CONTROLS[name],
    });
    client.track("warm_up", {}, users[0]!);
    const before = process.cpuUsage();
    for (let i = 0; i < EVENTS; i++) {
      client.track("product_viewed", properties[i % 1000]!, users[i % 1000]!);
    }
    const used = process.cpuUsage(before);
    perEvent.push((used.user + used.system) / EVENTS);
    await client.close();
  }
  return perEvent;
}

if (flag("--child") !== undefined) {
  console.log(JSON.stringify(await child(flag("--child")!, flag("--root")!)));
} else {
  const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const contenders: Array<[string, string, string]> = Object.keys(CONTROLS).map((name) => [
    name,
    name,
    here,
  ]);
  if (OTHER !== undefined) {
    contenders.splice(1, 0, [`no controls (${OTHER})`, "no controls", OTHER]);
  }
  const results = new Map<string, number[]>(contenders.map(([label]) => [label, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const [label, name, root] of contenders) {
      const rounds = await runContender<number[]>(import.meta.filename!, name, [], {
        "--root": root,
        "--events": EVENTS,
        "--rounds": ROUNDS,
      });
      results.get(label)!.push(median(rounds));
    }
  }
  const base = median(results.get("no controls")!);
  console.log(`${machine()}`);
  console.log(
    `${EVENTS} events × ${ROUNDS} rounds per process, ${RUNS} alternating runs; CPU µs per event:`,
  );
  for (const [label] of contenders) {
    const runs = results.get(label)!;
    const value = median(runs);
    console.log(
      `${label.padEnd(36)} ${value.toFixed(3).padStart(7)}  ×${(value / base).toFixed(2)}  (runs: ${
        runs.map((r) => r.toFixed(2)).join(" ")
      })`,
    );
  }
}
