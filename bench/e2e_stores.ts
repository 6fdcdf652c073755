/**
 * Scale-out stores and sinks, measured beside the in-process ones in the same
 * run: ~500-event JSON requests through the whole receiver handler (decode,
 * claims, sink, answer) with 4 requests in flight, for
 *
 * - `memory+count`: MemoryDedupeStore, a sink that only counts (the floor);
 * - `redis+count`: RedisDedupeStore — the difference to the floor is what
 *   Redis de-duplication adds per event (target ≤ 5 µs/event);
 * - `memory+postgres`: PostgresSink's exactly-once insert (target ≥ 50 000 events/s);
 * - `redis+postgres`: the scale-out deployment (docs/scaling.md);
 * - `postgres+postgres`: PostgresDedupeStore beside the sink, for deployments without Redis;
 * - `kv+count`, `memory+jsonl`: the single-machine store and sink (Deno KV file, JSON lines file).
 *
 * Reported per mode: events/s, wall µs/event, CPU µs/event of the receiver
 * process, and CPU µs/event of the servers (the redis-server and the postgres
 * processes of the servers named by the URLs, from /proc: other servers on
 * the machine are not counted). Runs alternate between modes; medians of
 * `--runs`; `--modes a,b` runs only those.
 *
 *   eval "$(scripts/services.sh start)"
 *   deno task bench:e2e:stores [--requests 200] [--in-flight 4] [--runs 3] [--modes memory+postgres]
 */
import process from "node:process";
import postgres from "postgres";
import { cpuMsSince, flag, machine, median } from "./_harness.ts";
import type { DedupeStore } from "../src/receiver/dedupe_store.ts";
import { JsonLinesSink } from "../src/receiver/json_lines_sink.ts";
import { KvDedupeStore } from "../src/receiver/kv_dedupe_store.ts";
import { MemoryDedupeStore } from "../src/receiver/memory_dedupe_store.ts";
import { PostgresDedupeStore, PostgresSink } from "../src/receiver/postgres/mod.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { RedisDedupeStore } from "../src/receiver/redis_dedupe_store.ts";
import { callbackSink, type Sink } from "../src/receiver/sink.ts";

const REQUESTS = Number(flag("--requests") ?? 200);
const IN_FLIGHT = Number(flag("--in-flight") ?? 4);
const RUNS = Number(flag("--runs") ?? 3);
const EVENTS_PER_REQUEST = 500;
const ALL_MODES = [
  "memory+count",
  "redis+count",
  "memory+postgres",
  "redis+postgres",
  "postgres+postgres",
  "kv+count",
  "memory+jsonl",
] as const;
type Mode = typeof ALL_MODES[number];
const MODES: readonly Mode[] = flag("--modes")?.split(",").map((mode) => {
  if (!(ALL_MODES as readonly string[]).includes(mode)) {
    throw new RangeError(`bench: unknown mode ${mode} (modes: ${ALL_MODES.join(", ")})`);
  }
  return mode as Mode;
}) ?? ALL_MODES;

const redisUrl = Deno.env.get("IDEMTRACK_REDIS_URL");
const postgresUrl = Deno.env.get("IDEMTRACK_POSTGRES_URL");
if (redisUrl === undefined || postgresUrl === undefined) {
  console.error(
    'bench: set IDEMTRACK_REDIS_URL and IDEMTRACK_POSTGRES_URL: eval "$(scripts/services.sh start)"',
  );
  Deno.exit(2);
}

let sequence = 0;

/** Request bodies with fresh keys (nothing is a duplicate), ~320 B per event. */
function bodies(): string[] {
  return Array.from({ length: REQUESTS }, () => {
    const events = Array.from({ length: EVENTS_PER_REQUEST }, () => {
      const n = sequence++;
      return JSON.stringify({
        type: "track",
        event: "order_paid",
        user_id: `user-${n % 5000}`,
        properties: { total: n % 977, currency: "EUR", items: n % 7 },
        context: { page: "/checkout", locale: "fr-FR" },
        timestamp: "2026-11-25T08:00:00.000Z",
        idempotency_key: `evt-${n.toString(36).padStart(10, "0")}-${(n * 7919).toString(36)}`,
      });
    });
    return `{"events":[${events.join(",")}]}`;
  });
}

// The servers' processes: Redis's (its command line names its port) and the postmaster of
// the PostgreSQL server with its children (a backend's parent is the postmaster).
const redisPort = new URL(redisUrl).port;
const postmaster = await (async () => {
  const sql = postgres(postgresUrl, { onnotice: () => {} });
  const [row] = await sql`select pg_backend_pid() as pid`;
  const status = Deno.readTextFileSync(`/proc/${row!.pid}/status`); // while the backend lives
  await sql.end();
  return status.match(/^PPid:\s*(\d+)$/m)![1]!;
})();

/** CPU time of the server processes (redis-server, postgres), ms, from /proc. */
function serverCpuMs(): number {
  const tick = 100; // USER_HZ on Linux
  let ticks = 0;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ours = comm === "postgres"
        ? entry.name === postmaster || fields[1] === postmaster
        : comm === "redis-server" &&
          Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(`:${redisPort}`);
      if (ours) ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks * 1000 / tick;
}

interface Figures {
  eventsPerSecond: number;
  wallUsPerEvent: number;
  cpuUsPerEvent: number;
  serverCpuUsPerEvent: number;
}

async function openMode(
  mode: Mode,
  table: string,
  dir: string,
): Promise<{ store: DedupeStore; sink: Sink }> {
  const [storeKind, sinkKind] = mode.split("+");
  const store: DedupeStore = storeKind === "memory"
    ? new MemoryDedupeStore()
    : storeKind === "kv"
    ? await KvDedupeStore.open(`${dir}/dedupe.kv`)
    : storeKind === "redis"
    ? await RedisDedupeStore.connect(redisUrl!, { prefix: `bench:${table}:` })
    : await PostgresDedupeStore.connect(postgresUrl!, { table: `${table}_keys` });
  let counted = 0;
  const sink: Sink = sinkKind === "count"
    ? callbackSink((events) => void (counted += events.length))
    : sinkKind === "jsonl"
    ? new JsonLinesSink(`${dir}/events.jsonl`)
    : await PostgresSink.connect(postgresUrl!, { table });
  return { store, sink };
}

async function run(mode: Mode, run: number): Promise<Figures> {
  const table = `bench_${mode.replace("+", "_")}_${run}_${Date.now()}`;
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-bench-" });
  const { store, sink } = await openMode(mode, table, dir);
  const receiver = createReceiver({ store, sink, onError: (error) => console.error(error) });
  const texts = bodies();
  const events = REQUESTS * EVENTS_PER_REQUEST;
  let next = 0;
  const worker = async () => {
    while (next < texts.length) {
      const body = texts[next++]!;
      const response = await receiver(
        new Request("http://localhost/v1/events/batch", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        }),
      );
      if (response.status !== 200) throw new Error(`${mode}: HTTP ${response.status}`);
      await response.arrayBuffer();
    }
  };
  const server0 = serverCpuMs();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const wallMs = performance.now() - start;
  const cpuMs = cpuMsSince(cpu0);
  const serverMs = serverCpuMs() - server0;
  await receiver.close();
  await Deno.remove(dir, { recursive: true });
  if (mode.endsWith("+postgres")) {
    const sql = postgres(postgresUrl!, { onnotice: () => {} });
    const [row] = await sql.unsafe(`select count(*)::int as n from ${table}`);
    if (row!.n !== events) throw new Error(`${mode}: ${row!.n} rows, expected ${events}`);
    await sql.unsafe(`drop table if exists ${table}`);
    await sql.unsafe(`drop table if exists ${table}_keys`);
    await sql.end();
  }
  return {
    eventsPerSecond: events / (wallMs / 1000),
    wallUsPerEvent: wallMs * 1000 / events,
    cpuUsPerEvent: cpuMs * 1000 / events,
    serverCpuUsPerEvent: serverMs * 1000 / events,
  };
}

console.log(machine());
console.log(
  `${REQUESTS} requests × ${EVENTS_PER_REQUEST} events, ${IN_FLIGHT} in flight, medians of ${RUNS} runs`,
);
await run("memory+count", -1); // warm-up: JIT, npm modules
const results = new Map<Mode, Figures[]>(MODES.map((mode) => [mode, []]));
for (let i = 0; i < RUNS; i++) {
  for (const mode of MODES) results.get(mode)!.push(await run(mode, i));
}
const medians = new Map(
  [...results].map(([mode, runs]) => [mode, {
    eventsPerSecond: median(runs.map((r) => r.eventsPerSecond)),
    wallUsPerEvent: median(runs.map((r) => r.wallUsPerEvent)),
    cpuUsPerEvent: median(runs.map((r) => r.cpuUsPerEvent)),
    serverCpuUsPerEvent: median(runs.map((r) => r.serverCpuUsPerEvent)),
  }]),
);
console.log("mode                 events/s   wall µs/ev  receiver CPU µs/ev  server CPU µs/ev");
for (const [mode, m] of medians) {
  console.log(
    `${mode.padEnd(18)} ${m.eventsPerSecond.toFixed(0).padStart(10)} ${
      m.wallUsPerEvent.toFixed(2).padStart(12)
    } ${m.cpuUsPerEvent.toFixed(2).padStart(19)} ${m.serverCpuUsPerEvent.toFixed(2).padStart(17)}`,
  );
}
const floor = medians.get("memory+count");
const redis = medians.get("redis+count");
if (floor !== undefined && redis !== undefined) {
  console.log(
    `Redis de-duplication adds ${
      (redis.wallUsPerEvent - floor.wallUsPerEvent).toFixed(2)
    } µs/event ` +
      `of wall time (target ≤ 5), ${
        (redis.cpuUsPerEvent - floor.cpuUsPerEvent).toFixed(2)
      } µs/event ` +
      `of receiver CPU and ${redis.serverCpuUsPerEvent.toFixed(2)} µs/event of Redis CPU`,
  );
}
const sink = medians.get("memory+postgres");
if (sink !== undefined) {
  console.log(
    `PostgreSQL exactly-once sink: ${
      sink.eventsPerSecond.toFixed(0)
    } events/s (target ≥ 50 000), ` +
      `${sink.cpuUsPerEvent.toFixed(2)} µs/event of receiver CPU, ` +
      `${sink.serverCpuUsPerEvent.toFixed(2)} µs/event of PostgreSQL CPU`,
  );
}
