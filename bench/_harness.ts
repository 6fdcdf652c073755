/**
 * What the end-to-end benchmarks share: flags, child processes that run one
 * contender each (or a receiver printing its port), medians and the machine
 * line figures are reported with.
 *
 * @module
 */

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
 * Runs `deno run -A <script> ...args` and parses the JSON it prints: one
 * contender's figures, measured in its own process (clean CPU time and RSS).
 */
export async function runChild<T>(script: string, args: string[], what: string): Promise<T> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`${what} run failed`);
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
