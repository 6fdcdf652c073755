// A Client over FileStorage in a child process, killed with SIGKILL at random moments while it
// tracks 50 000 events; a new process over the same store finishes delivery. The receiver runs
// here, in the test process, with its de-duplication store in memory: it outlives every child.
import assert from "node:assert/strict";
import { callbackSink, createReceiver } from "../src/receiver/mod.ts";
import type { Durability } from "../src/drivers/storage/_options.ts";
import { eventKey } from "./_client_crash_child.ts";
import { randomInt, seededRandom } from "./_random.ts";

const CHILD = new URL("./_client_crash_child.ts", import.meta.url).pathname;
const EVENTS = 50_000;
const RUNS = 4;

interface KillReport {
  /** Highest event index `track()` had accepted (printed) before the kill. */
  tracked: number;
  /** Highest event index acknowledged as persisted before the kill. */
  acked: number;
  /** The child finished on its own before the kill came. */
  exited: boolean;
  /** When each "T" line was printed, ms after the store opened, by event index. */
  trackedAtMs: Map<number, number>;
}

/** Sink: how many times each key reached it, and the seq each event carried. */
const arrivals = new Map<string, number>();
const seqOf = new Map<string, unknown>();
const receiver = createReceiver({
  sink: callbackSink((events) => {
    for (const { key, event } of events) {
      const k = String(key);
      arrivals.set(k, (arrivals.get(k) ?? 0) + 1);
      seqOf.set(k, (event.properties as { seq?: unknown } | undefined)?.seq);
    }
  }),
});

async function withReceiver(body: (url: string) => Promise<void>): Promise<void> {
  let port = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: (addr) => void (port = addr.port) },
    receiver,
  );
  try {
    await body(`http://127.0.0.1:${port}/v1/events/batch`);
  } finally {
    await server.shutdown();
  }
}

/** Runs the tracking child and kills it once it printed `killAfterTracked`, plus `delayMs`. */
async function trackAndKill(
  args: string[],
  killAfterTracked: number,
  delayMs: number,
): Promise<KillReport> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, "track", ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const report: KillReport = { tracked: -1, acked: -1, exited: false, trackedAtMs: new Map() };
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  let buffered = "";
  let pendingRead: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  const readLines = (chunk: Uint8Array | undefined) => {
    buffered += decoder.decode(chunk, { stream: chunk !== undefined });
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      const [kind, value, ms] = line.split(" ");
      if (kind === "T") {
        report.tracked = Number(value);
        report.trackedAtMs.set(report.tracked, Number(ms));
      } else if (kind === "A") report.acked = Number(value);
      else if (kind === "closed") report.exited = true;
    }
  };
  const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    while (report.tracked < killAfterTracked) {
      const { value, done } = await reader.read();
      if (done) break;
      readLines(value);
    }
    if (delayMs > 0) {
      // Keep reading while waiting, so the child never blocks on a full pipe; a read still
      // pending when the time is up is awaited after the kill (its lines count).
      const stop = new Promise<"stop">((resolve) => setTimeout(() => resolve("stop"), delayMs));
      for (;;) {
        pendingRead ??= reader.read();
        const next = await Promise.race([pendingRead, stop]);
        if (next === "stop") break;
        pendingRead = undefined;
        if (next.done) break;
        readLines(next.value);
      }
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    clearTimeout(deadline);
    // Lines printed before death count: they were true when printed.
    for (;;) {
      const { value, done } = await (pendingRead ?? reader.read());
      pendingRead = undefined;
      if (done) break;
      readLines(value);
    }
    readLines(undefined);
    await child.status;
  }
  return report;
}

async function finish(path: string, url: string, durability: Durability) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, "finish", path, url, durability],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, "the finishing process exited cleanly");
  return JSON.parse(new TextDecoder().decode(output.stdout)) as {
    restored: number;
    summary: {
      delivered: number;
      duplicates: number;
      failed: number;
      dropped: number;
      pending: number;
    };
    errors: string[];
  };
}

for (const durability of ["everyWrite", "interval"] as const) {
  Deno.test(`a Client with FileStorage(${durability}) killed with SIGKILL loses no acknowledged event and the sink gets no duplicate`, async () => {
    const seed = Date.now() >>> 0;
    const random = seededRandom(seed);
    const windows: string[] = [];
    await withReceiver(async (url) => {
      for (let run = 0; run < RUNS; run++) {
        const dir = await Deno.makeTempDir({ prefix: "idemtrack-crash-" });
        const path = `${dir}/queue.log`;
        const prefix = `${durability}-${seed}-${run}`;
        const where = `seed ${seed}, run ${run}`;
        const before = { ...receiver.stats };
        try {
          // Mostly mid-tracking; near the end it lands while the last batches are delivered.
          const killAfter = randomInt(random, 10, EVENTS / 100) * 100 - 1;
          const delayMs = randomInt(random, 0, 50);
          const kill = await trackAndKill(
            [path, url, durability, prefix, String(EVENTS)],
            killAfter,
            delayMs,
          );
          assert.ok(kill.tracked >= killAfter, `${where}: the child tracked up to ${killAfter}`);
          const done = await finish(path, url, durability);
          assert.equal(done.summary.failed, 0, `${where}: ${JSON.stringify(done)}`);
          assert.equal(done.summary.pending, 0, `${where}: ${JSON.stringify(done)}`);
          assert.equal(done.summary.dropped, 0, `${where}: ${JSON.stringify(done)}`);

          // 0 lost: every acknowledged event reached the sink.
          const lost: number[] = [];
          for (let i = 0; i <= kill.acked; i++) {
            if (!arrivals.has(eventKey(prefix, i))) lost.push(i);
          }
          assert.deepEqual(
            lost.slice(0, 20),
            [],
            `${where}: ${lost.length} acknowledged events lost`,
          );
          // 0 duplicates at the sink, and nothing that was never tracked.
          let delivered = 0;
          for (const [key, count] of arrivals) {
            if (!key.startsWith(`${prefix}-`)) continue;
            delivered++;
            assert.equal(count, 1, `${where}: ${key} reached the sink ${count} times`);
            const seq = Number(key.slice(prefix.length + 1));
            assert.equal(seqOf.get(key), seq, `${where}: ${key} carries its own properties`);
            assert.ok(
              seq < Math.min(EVENTS, kill.tracked + 1 + 100),
              `${where}: ${key} was tracked`,
            );
          }
          let windowArrived = 0;
          for (let i = kill.acked + 1; i <= kill.tracked; i++) {
            if (arrivals.has(eventKey(prefix, i))) windowArrived++;
          }
          const windowMs = (kill.trackedAtMs.get(kill.tracked) ?? 0) -
            (kill.trackedAtMs.get(kill.acked) ?? 0);
          windows.push(
            `run ${run}: killed at tracked=${kill.tracked}${
              kill.exited ? " (after close)" : ""
            }, ` +
              `acked=${kill.acked}, not-yet-synced window=${kill.tracked - kill.acked} events ` +
              `/ ${windowMs} ms of tracking ` +
              `(${windowArrived} of them delivered anyway), restored=${done.restored}, ` +
              `delivered by the new process=${done.summary.delivered}+${done.summary.duplicates} dup, ` +
              `at the sink=${delivered}; the receiver answered ` +
              `${receiver.stats.duplicates - before.duplicates} duplicate events and ` +
              `${receiver.stats.duplicateRequests - before.duplicateRequests} duplicate requests`,
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }
    });
    console.log(`FileStorage(${durability}), seed ${seed}:\n  ${windows.join("\n  ")}`);
  });
}
