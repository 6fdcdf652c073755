/**
 * Runs the module named by `IDEMTRACK_BENCH_PROBE_TARGET` (with this
 * process's arguments) and samples `Deno.memoryUsage()` every 5 ms; on
 * SIGTERM it writes the peaks as one JSON line to stderr (`bench/e2e_receiver.ts --heap`),
 * so a peak RSS can be split into V8 heap, external buffers and the rest.
 *
 * @module
 */
const peak = { heapTotal: 0, heapUsed: 0, external: 0 };
const sampler = setInterval(() => {
  const usage = Deno.memoryUsage();
  peak.heapTotal = Math.max(peak.heapTotal, usage.heapTotal);
  peak.heapUsed = Math.max(peak.heapUsed, usage.heapUsed);
  peak.external = Math.max(peak.external, usage.external);
}, 5);
Deno.unrefTimer(sampler);
Deno.addSignalListener("SIGTERM", () => {
  console.error(`memory-probe ${JSON.stringify(peak)}`);
  // The target's own SIGTERM handling goes on; this only ends a target that has none.
  Deno.unrefTimer(setTimeout(() => Deno.exit(0), 2_000));
});
await import(Deno.env.get("IDEMTRACK_BENCH_PROBE_TARGET")!);
