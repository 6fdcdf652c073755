/**
 * Compares this checkout's end-to-end contenders with another checkout's (an
 * earlier commit, say), run by turns against one receiver: the same machine,
 * the same minutes, so only their ratio is read.
 *
 *   git worktree add /tmp/idemtrack-base <commit>
 *   deno task bench:compare --base /tmp/idemtrack-base --bench e2e --modes client,client+worker --runs 7
 *   deno task bench:compare --base /tmp/idemtrack-base --bench e2e_storage --modes memory,file-interval
 *   deno task bench:compare --base /tmp/idemtrack-base --bench e2e_hamustro --modes tracker
 *
 * Each run starts base and this checkout in alternating order; the table gives
 * medians of events/s and of the contender's CPU time, and the highest peak RSS.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { flag, machine, median, runContender, startPortPrinter } from "./_harness.ts";

interface Figures {
  wallMs: number;
  cpuMs: number;
  /** Not every benchmark's contenders report it. */
  peakRssMb?: number;
}

const BENCHES = ["e2e", "e2e_storage", "e2e_hamustro"] as const;
type Bench = typeof BENCHES[number];

const baseDir = flag("--base");
const bench = (flag("--bench") ?? "e2e") as Bench;
const modes = (flag("--modes") ?? "client").split(",");
const runs = Number(flag("--runs") ?? 5);
const events = Number(flag("--events") ?? 100_000);
if (baseDir === undefined) {
  throw new TypeError("Cannot compare as '--base' must name another checkout: it is missing");
}
if (!BENCHES.includes(bench)) {
  throw new RangeError(
    `Cannot compare as '--bench' must be one of ${BENCHES.join(", ")}: current value is ${bench}`,
  );
}
if (!Number.isInteger(runs) || runs < 1) {
  throw new RangeError(
    `Cannot compare as '--runs' must be a positive integer: current value is ${runs}`,
  );
}

const here = fileURLToPath(new URL("..", import.meta.url));
const sides = { base: baseDir.replace(/\/?$/, "/"), this: here } as const;
const hamustro = bench === "e2e_hamustro";
const server = await startPortPrinter(
  hamustro ? [`${here}bench/e2e_hamustro.ts`, "--receiver"] : [`${here}tests/_json_server.ts`],
);
const url = hamustro ? server.base : `${server.base}/v1/events/batch`;
const results = new Map<string, Figures[]>();
try {
  for (let run = 0; run < runs; run++) {
    for (const mode of modes) {
      const order = run % 2 === 0 ? ["base", "this"] as const : ["this", "base"] as const;
      for (const side of order) {
        const figures = await runContender<Figures>(
          `${sides[side]}bench/${bench}.ts`,
          mode,
          [url, `${side}-${mode.replace("+", "-")}-${run}-${Date.now()}`],
          { "--events": events },
        );
        const key = `${mode}\t${side}`;
        results.set(key, [...results.get(key) ?? [], figures]);
      }
    }
  }
} finally {
  await server.stop();
}

const eventsPerSecond = (runs: Figures[]) =>
  median(runs.map((figures) => events / figures.wallMs * 1000));
const cpuMs = (runs: Figures[]) => median(runs.map((figures) => figures.cpuMs));
console.log(`${machine()}; ${bench}, ${events} events, ${runs} runs by turns, medians`);
console.log(
  "| mode | base events/s | this events/s | ratio | base CPU ms | this CPU ms | ratio | peak RSS MB base / this |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const mode of modes) {
  const base = results.get(`${mode}\tbase`)!;
  const mine = results.get(`${mode}\tthis`)!;
  const rss = (runs: Figures[]) =>
    runs.every((figures) => figures.peakRssMb !== undefined)
      ? Math.round(Math.max(...runs.map((figures) => figures.peakRssMb!)))
      : "–";
  console.log(
    `| ${mode} | ${Math.round(eventsPerSecond(base))} | ${Math.round(eventsPerSecond(mine))} | ${
      (eventsPerSecond(mine) / eventsPerSecond(base)).toFixed(2)
    } | ${Math.round(cpuMs(base))} | ${Math.round(cpuMs(mine))} | ${
      (cpuMs(mine) / cpuMs(base)).toFixed(2)
    } | ${rss(base)} / ${rss(mine)} |`,
  );
}
