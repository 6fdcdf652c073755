/**
 * What the end-to-end benchmarks share: flags, child processes that run one
 * contender each (or a receiver printing its port), a contender's CPU time
 * and peak RSS, how the hand-written floors send, medians and the machine
 * line figures are reported with.
 *
 * @module
 */
import process from "node:process";

/** The value after `name` in the command line, if any. */
export function flag(name: string): string | undefined {
  const index = Deno.args.indexOf(name);
  return index >= 0 ? Deno.args[index + 1] : undefined;
}

/** The median of some numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Runs one contender of a benchmark in its own process (clean CPU time and
 * RSS): `deno run -A <script> --child <mode> ...positional --flag value ...`,
 * and parses the JSON figures it prints.
 */
export async function runContender<T>(
  script: string,
  mode: string,
  positional: string[],
  flags: Record<string, string | number>,
): Promise<T> {
  const args = ["run", "-A", script, "--child", mode, ...positional];
  for (const [name, value] of Object.entries(flags)) args.push(name, String(value));
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`${mode} run failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/**
 * Starts a receiver process that prints its port on its first line and runs
 * until its stdin closes; resolves with its base URL and a `stop()`.
 */
export async function startPortPrinter(
  args: string[],
): Promise<{ base: string; stop(): Promise<void> }> {
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("receiver exited");
    line += value;
  }
  reader.releaseLock();
  return {
    base: `http://127.0.0.1:${line.trim()}`,
    async stop() {
      await server.stdin.close();
      await server.status;
    },
  };
}

/** nproc, CPU model and memory, so figures can be reported with the machine they came from. */
export function machine(): string {
  let model = "unknown CPU";
  try {
    const match = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m);
    if (match) model = match[1]!.trim();
  } catch {
    // not Linux
  }
  const memory = Deno.systemMemoryInfo();
  const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(1);
  return `machine: ${navigator.hardwareConcurrency} CPUs (nproc), ${model}, ${
    gib(memory.total)
  } GiB RAM (${gib(memory.available)} GiB available), load average ${
    Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
  }, Deno ${Deno.version.deno}`;
}

/** CPU time (user + system) this process spent since `previous` (a `process.cpuUsage()`), ms. */
export function cpuMsSince(previous: ReturnType<typeof process.cpuUsage>): number {
  const cpu = process.cpuUsage(previous);
  return (cpu.user + cpu.system) / 1000;
}

/** Peak resident set size of this process so far, MB (current RSS where /proc is missing). */
export function peakRssMb(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = status.match(/VmHWM:\s+(\d+) kB/);
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux
  }
  return Deno.memoryUsage().rss / 1024 / 1024;
}

/**
 * How the hand-written floors send: every body POSTed to `url` with the
 * headers `headersFor` gives it, two requests in flight, each answer read;
 * anything but a 200 throws.
 */
export async function postTwoInFlight(
  url: string,
  bodies: readonly Uint8Array<ArrayBuffer>[],
  headersFor: (body: Uint8Array) => Record<string, string>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const response = await fetch(url, { method: "POST", headers: headersFor(body), body });
      await response.text();
      if (response.status !== 200) throw new Error(`floor got HTTP ${response.status}`);
    }
  };
  await Promise.all([worker(), worker()]);
}
