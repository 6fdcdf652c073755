/**
 * End-to-end benchmark of storage under the Client: 100 000 events (~320 B of
 * JSON each) through the `Client` to a loopback receiver in another process,
 * journaled to `MemoryStorage` (the default) and to `FileStorage` with
 * `interval` durability (and `everyWrite`, for reference), in the same run.
 *
 * Each contender runs in its own child process; runs alternate, and the ratio
 * of the medians is what counts. Target: `FileStorage(interval)` within 1.3×
 * of memory.
 *
 *   deno task bench:e2e:storage [--events 100000] [--runs 3]
 */
import { cpuMsSince, flag, machine, median, peakRssMb, runContender } from "./_harness.ts";
import process from "node:process";
import { Client } from "../mod.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import { makeEvents, type RunFigures, startReceiverProcess, stats } from "./e2e.ts";

const EVENTS = Number(flag("--events") ?? 100_000);
const RUNS = Number(flag("--runs") ?? 3);
const MODES = ["memory", "file-interval", "file-everyWrite"] as const;
type Mode = typeof MODES[number];

type StorageRun = RunFigures & { compactions: number };

async function runClient(mode: Mode, url: string, prefix: string): Promise<StorageRun> {
  const events = makeEvents(EVENTS, prefix);
  const dir = mode === "memory" ? undefined : await Deno.makeTempDir({ prefix: "idemtrack-e2e-" });
  const storage: FileStorage | undefined = dir === undefined ? undefined : new FileStorage(
    `${dir}/queue.log`,
    { durability: mode === "file-interval" ? "interval" : "everyWrite" },
  );
  try {
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const client = new Client({ endpoint: url, exitHook: false, ...(storage && { storage }) });
    for (const e of events) {
      client.track(e.name, e.properties, { userId: e.userId, idempotencyKey: e.key });
    }
    const summary = await client.close();
    const wallMs = performance.now() - start;
    const cpuMs = cpuMsSince(cpu0);
    if (summary.delivered + summary.duplicates !== EVENTS) {
      throw new Error(`client delivered ${summary.delivered}: ${JSON.stringify(summary)}`);
    }
    return {
      mode,
      events: EVENTS,
      wallMs,
      cpuMs,
      peakRssMb: peakRssMb(),
      requests: client.stats().requests,
      compactions: storage?.compactions ?? 0,
    };
  } finally {
    if (dir !== undefined) await Deno.remove(dir, { recursive: true });
  }
}

async function main(): Promise<void> {
  const server = await startReceiverProcess();
  const url = `${server.base}/v1/events/batch`;
  const results = new Map<Mode, StorageRun[]>(MODES.map((mode) => [mode, []]));
  const delivered = new Map<Mode, number[]>(MODES.map((mode) => [mode, []]));
  try {
    for (let run = 0; run < RUNS; run++) {
      // Rotate the order so no contender always runs first.
      const order = MODES.map((_, i) => MODES[(i + run) % MODES.length]!);
      for (const mode of order) {
        const before = await stats(server.base);
        results.get(mode)!.push(
          await runContender<StorageRun>(import.meta.filename!, mode, [url, `${mode}${run}`], {
            "--events": EVENTS,
          }),
        );
        const after = await stats(server.base);
        delivered.get(mode)!.push(after.accepted - before.accepted);
      }
    }
  } finally {
    await server.stop();
  }
  const eps = (mode: Mode) => results.get(mode)!.map((r) => r.events / (r.wallMs / 1000));
  const memoryEps = median(eps("memory"));
  console.table(MODES.map((mode) => {
    const runs = results.get(mode)!;
    return {
      mode,
      "events/s (median)": Math.round(median(eps(mode))),
      "events/s (runs)": eps(mode).map(Math.round).join(" "),
      "memory / this": (memoryEps / median(eps(mode))).toFixed(2) + "×",
      "CPU ms": Math.round(median(runs.map((r) => r.cpuMs))),
      "peak RSS MB": Math.round(Math.max(...runs.map((r) => r.peakRssMb))),
      requests: runs[0]!.requests,
      compactions: runs.map((r) => r.compactions).join(" "),
      "delivered %": Math.min(...delivered.get(mode)!) / EVENTS * 100,
    };
  }));
  console.log(machine());
  const ratio = memoryEps / median(eps("file-interval"));
  console.log(
    `FileStorage(interval) is ${ratio.toFixed(2)}× slower than MemoryStorage (target ≤ 1.30×; ` +
      `${EVENTS} events, ${RUNS} runs each, same receiver process)`,
  );
}

if (import.meta.main && Deno.args[0] === "--child") {
  const [, mode, url, prefix] = Deno.args;
  console.log(JSON.stringify(await runClient(mode as Mode, url!, prefix!)));
} else if (import.meta.main) {
  await main();
}
