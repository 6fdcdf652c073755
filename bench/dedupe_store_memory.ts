/**
 * What the memory dedupe store's keys cost in memory: each contender in a
 * fresh process claims and commits `--keys` Hamustro-shaped event keys
 * (`${session}:${nr}:${digest}`, ~55 chars, 2 000 per claim as in a
 * Hamustro request), then, after a full garbage collection, reports the JS
 * heap used, the memory outside it (`external`: array buffers) and RSS,
 * each less the same figures before the first key, per key; and the time the
 * claims and commits took.
 *
 * - `table`: `MemoryDedupeStore` (keys in per-batch buffers, one Int32Array table).
 * - `map`: the store before (bench/_map_dedupe_store.ts: JS strings in a `Map`).
 *
 *   deno run -A bench/dedupe_store_memory.ts [--keys 400000,1000000]
 */
import { MemoryDedupeStore } from "../src/receiver/memory_dedupe_store.ts";
import type { DedupeStore } from "../src/receiver/dedupe_store.ts";
import { flag, machine } from "./_harness.ts";
import { MapDedupeStore } from "./_map_dedupe_store.ts";

const PER_CLAIM = 2_000;

interface Figures {
  heapBytesPerKey: number;
  externalBytesPerKey: number;
  rssBytesPerKey: number;
  heapUsedMb: number;
  rssMb: number;
  nsPerKey: number;
  size: number;
}

async function child(kind: string, keys: number): Promise<Figures> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const store: DedupeStore & { size: number } = kind === "table"
    ? new MemoryDedupeStore({ maxKeys: keys })
    : new MapDedupeStore({ maxKeys: keys });
  const timing = { now: Date.now(), ttlMs: 86_400_000, leaseMs: 60_000 };
  gc();
  const before = Deno.memoryUsage();
  let elapsed = 0;
  for (let n = 0; n < keys;) {
    const session = crypto.randomUUID().replaceAll("-", "");
    const batch = Array.from(
      { length: PER_CLAIM },
      () => `${session}:${n}:${(n++ * 2654435761 >>> 0).toString(16).padStart(8, "0")}`,
    );
    const started = performance.now();
    await store.claimEvents("tenant", batch, session, timing);
    await store.commit("tenant", { owner: session, eventKeys: batch }, timing);
    elapsed += performance.now() - started;
  }
  gc();
  const after = Deno.memoryUsage();
  return {
    heapBytesPerKey: Math.round((after.heapUsed - before.heapUsed) / keys),
    externalBytesPerKey: Math.round((after.external - before.external) / keys),
    rssBytesPerKey: Math.round((after.rss - before.rss) / keys),
    heapUsedMb: Math.round(after.heapUsed / 1e6),
    rssMb: Math.round(after.rss / 1e6),
    nsPerKey: Math.round(elapsed * 1e6 / keys),
    size: store.size,
  };
}

if (Deno.args[0] === "--child") {
  console.log(JSON.stringify(await child(Deno.args[1]!, Number(Deno.args[2]))));
} else {
  const counts = (flag("--keys") ?? "400000,1000000").split(",").map(Number);
  console.log(machine());
  const rows: Record<string, Figures & { store: string; keys: number }> = {};
  for (const keys of counts) {
    for (const kind of ["table", "map"]) {
      const figures = await measure(kind, keys);
      rows[`${kind} ${keys}`] = { store: kind, keys, ...figures };
    }
  }
  console.table(rows);
}

/** Runs `child(kind, keys)` in a fresh process that may force garbage collections. */
async function measure(kind: string, keys: number): Promise<Figures> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      import.meta.filename!,
      "--child",
      kind,
      `${keys}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`${kind} run failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}
