/**
 * End-to-end benchmark: 100 000 events (~320 B of JSON each) through the
 * `Client` to a loopback receiver in another process, against a hand-written
 * floor in the same run (pre-chunked 500 KB JSON bodies POSTed with fetch, 2 in
 * flight, a fresh `toISOString()` per event).
 *
 * Two clients: with its defaults (`fetch` on the thread that tracks), and
 * with `workerTransport()` (requests sent from a worker thread while the
 * loop still runs). Each contender runs in its own child process (clean CPU
 * time and peak RSS); runs alternate, and the ratio of the medians is what
 * counts (absolute figures drift between days on shared machines).
 *
 *   deno run -A bench/e2e.ts [--events 100000] [--runs 3]
 */
import {
  cpuMsSince,
  flag,
  machine,
  median,
  peakRssMb,
  postTwoInFlight,
  runContender,
  startPortPrinter,
} from "./_harness.ts";
import process from "node:process";
import { Client } from "../mod.ts";
import { workerTransport } from "../src/drivers/transport/worker_transport.ts";

const EVENTS = Number(flag("--events") ?? 100_000);
const RUNS = Number(flag("--runs") ?? 3);
/**
 * Client only: yield to the event loop every N tracked events (0 = one tight
 * synchronous loop). An application serving requests yields all the time; the
 * floor, by design, pre-chunks everything before sending.
 */
const YIELD_EVERY = Number(flag("--yield-every") ?? 0);

export interface EventSpec {
  name: string;
  userId: string;
  key: string;
  properties: { [key: string]: string | number | boolean };
}

/**
 * Event `i` of a run, made on the fly so neither contender holds 100 000 input
 * objects; keys carry a run prefix so runs never collide at the receiver.
 */
function makeEvent(i: number, prefix: string): EventSpec {
  return {
    name: "product_viewed",
    userId: `user-${String(i % 5000).padStart(6, "0")}`,
    key: `${prefix}-${String(i).padStart(8, "0")}-${(i * 2654435761 >>> 0).toString(16)}`,
    properties: {
      path: `/products/${100000 + (i % 90000)}`,
      referrer: `https://search.example.com/?q=item+${i % 997}`,
      title: `Product ${100000 + (i % 90000)} - Example store`,
      price: Math.round((i % 10000) * 1.37) / 100,
      currency: "EUR",
      in_stock: i % 3 !== 0,
    },
  };
}

/** `count` events made by {@linkcode makeEvent}, for benchmarks that need them all up front. */
export function makeEvents(count: number, prefix: string): EventSpec[] {
  return Array.from({ length: count }, (_, i) => makeEvent(i, prefix));
}

export interface RunFigures {
  mode: string;
  events: number;
  wallMs: number;
  cpuMs: number;
  /** Until every event was handed over (floor: bodies built; client: the last `track()` returned). */
  handOverMs?: number;
  /** CPU spent after the hand-over, until everything was delivered. */
  sendCpuMs?: number;
  peakRssMb: number;
  requests: number;
}

async function runFloor(url: string, prefix: string): Promise<RunFigures> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const bodies: Uint8Array<ArrayBuffer>[] = [];
  const encoder = new TextEncoder();
  let parts: string[] = [];
  let size = 13;
  for (let i = 0; i < EVENTS; i++) {
    const e = makeEvent(i, prefix);
    const text = JSON.stringify({
      type: "track",
      event: e.name,
      user_id: e.userId,
      properties: e.properties,
      timestamp: new Date().toISOString(),
      idempotency_key: e.key,
    });
    if (parts.length > 0 && size + text.length + 1 > 512_000) {
      bodies.push(encoder.encode(`{"events":[${parts.join(",")}]}`));
      parts = [];
      size = 13;
    }
    parts.push(text);
    size += text.length + 1;
  }
  if (parts.length > 0) bodies.push(encoder.encode(`{"events":[${parts.join(",")}]}`));
  const handOverMs = performance.now() - start;
  const cpuAtHandOver = process.cpuUsage();
  await postTwoInFlight(url, bodies, () => ({
    "content-type": "application/json",
    "x-idempotency-key": crypto.randomUUID(),
  }));
  const wallMs = performance.now() - start;
  return {
    mode: "floor",
    events: EVENTS,
    wallMs,
    cpuMs: cpuMsSince(cpu0),
    handOverMs,
    sendCpuMs: cpuMsSince(cpuAtHandOver),
    peakRssMb: peakRssMb(),
    requests: bodies.length,
  };
}

/** The client with its defaults (`fetch` on the tracking thread), or sending from a worker thread. */
type ClientMode = "client" | "client+worker";
const MODES = ["floor", "client", "client+worker"] as const;
type Mode = typeof MODES[number];

async function runClient(url: string, prefix: string, mode: ClientMode): Promise<RunFigures> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const client = new Client({
    endpoint: url,
    exitHook: false,
    ...(mode === "client+worker" && { transport: workerTransport() }),
  });
  for (let i = 0; i < EVENTS; i++) {
    const e = makeEvent(i, prefix);
    client.track(e.name, e.properties, { userId: e.userId, idempotencyKey: e.key });
    if (YIELD_EVERY > 0 && i % YIELD_EVERY === YIELD_EVERY - 1) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  const handOverMs = performance.now() - start;
  const cpuAtHandOver = process.cpuUsage();
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
    handOverMs,
    sendCpuMs: cpuMsSince(cpuAtHandOver),
    peakRssMb: peakRssMb(),
    requests: client.stats().requests,
  };
}

export async function stats(
  base: string,
): Promise<{ accepted: number; duplicates: number; requests: number }> {
  return await (await fetch(`${base}/stats`)).json();
}

/** Starts tests/_json_server.ts in another process; `stop()` ends it. */
export function startReceiverProcess(): Promise<{ base: string; stop(): Promise<void> }> {
  return startPortPrinter([new URL("../tests/_json_server.ts", import.meta.url).pathname]);
}

async function main(): Promise<void> {
  const server = await startReceiverProcess();
  const base = server.base;
  const url = `${base}/v1/events/batch`;
  const results: Record<string, RunFigures[]> = {};
  const checks: Record<string, { delivered: number; duplicates: number }[]> = {};
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const mode of run % 2 === 0 ? MODES : [...MODES].reverse()) {
        const before = await stats(base);
        const figures = await runContender<RunFigures>(import.meta.filename!, mode, [
          url,
          `${mode.replace("+", "-")}${run}`,
        ], { "--events": EVENTS, "--yield-every": YIELD_EVERY });
        const after = await stats(base);
        (results[mode] ??= []).push(figures);
        (checks[mode] ??= []).push({
          delivered: after.accepted - before.accepted,
          duplicates: after.duplicates - before.duplicates,
        });
      }
    }
  } finally {
    await server.stop();
  }
  const row = (mode: string) => {
    const runs = results[mode]!;
    const eps = runs.map((r) => r.events / (r.wallMs / 1000));
    const delivered = checks[mode]!.map((c) => c.delivered);
    const duplicates = checks[mode]!.map((c) => c.duplicates);
    return {
      mode,
      "events/s (median)": Math.round(median(eps)),
      "events/s (runs)": eps.map(Math.round).join(" "),
      "hand-over ms": Math.round(median(runs.map((r) => r.handOverMs ?? NaN))),
      "send ms": Math.round(median(runs.map((r) => r.wallMs - (r.handOverMs ?? NaN)))),
      "CPU ms": Math.round(median(runs.map((r) => r.cpuMs))),
      "send CPU ms": Math.round(median(runs.map((r) => r.sendCpuMs ?? NaN))),
      "peak RSS MB": Math.round(Math.max(...runs.map((r) => r.peakRssMb))),
      requests: runs[0]!.requests,
      "delivered %": Math.min(...delivered) / EVENTS * 100,
      duplicates: Math.max(...duplicates),
    };
  };
  const rows = MODES.map(row);
  console.log(machine());
  console.table(rows);
  const floor = rows[0]!["events/s (median)"];
  for (const client of rows.slice(1)) {
    console.log(
      `${client.mode}/floor events/s ratio: ${
        (client["events/s (median)"] / floor).toFixed(2)
      }× (${EVENTS} events, ${RUNS} runs each, same receiver process, client ${
        YIELD_EVERY > 0 ? `yielding every ${YIELD_EVERY} events` : "in one synchronous loop"
      })`,
    );
  }
}

if (import.meta.main && Deno.args[0] === "--child") {
  const [, mode, url, prefix] = Deno.args;
  const figures = mode === "floor"
    ? await runFloor(url!, prefix!)
    : await runClient(url!, prefix!, mode as ClientMode);
  console.log(JSON.stringify(figures));
} else if (import.meta.main) {
  await main();
}
