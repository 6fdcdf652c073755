/**
 * End-to-end Hamustro benchmark: 100 000 events as signed protobuf
 * Collections to our receiver's Hamustro route (signature check, protobuf-es
 * decode, `session:nr` dedupe) running in another process on loopback.
 *
 * Contenders, each in its own child process, runs alternating:
 * - `floor`: hand-written — protobuf-es `create` + `toBinary` per event, the
 *   payload bytes framed into Collections of at most 500 KB (Collection
 *   fields encoded once with protobuf-es), signed with node:crypto, POSTed 2
 *   in flight with fetch;
 * - `tracker`: `ClientTracker` (format protobuf, memory storage) —
 *   `trackEvent` per event, then `close()`.
 *
 * The ratio of the medians is what counts (shared machines drift).
 *
 *   deno task bench:e2e:hamustro [--events 100000] [--runs 3]
 */
import {
  cpuMsSince,
  flag,
  machine,
  median,
  postTwoInFlight,
  runContender,
  startPortPrinter,
} from "./_harness.ts";
import { create, toBinary } from "@bufbuild/protobuf";
import { createHash } from "node:crypto";
import process from "node:process";
import { ClientTracker } from "../src/hamustro/client_tracker.ts";
import { CollectionSchema, PayloadSchema } from "../src/hamustro/gen/hamustro_pb.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { hamustroRoute } from "../src/hamustro/route.ts";
import { MemoryDedupeStore } from "../src/receiver/memory_dedupe_store.ts";
import { loadHashers } from "../wasm/hash.ts";

// The hash functions answer with @noble/hashes until hash-wasm's hashers are ready: measure those.
await loadHashers();

const SECRET = "bench-shared-secret";
const EVENTS = Number(flag("--events") ?? 100_000);
const RUNS = Number(flag("--runs") ?? 3);
const MAX_BODY = 500 * 1024;
const TIMEZONE = "Europe/Budapest";

interface EventSpec {
  name: string;
  params: Record<string, string>;
}

function makeEvents(count: number): EventSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    name: "product_viewed",
    params: {
      path: `/products/${100000 + (i % 90000)}`,
      referrer: `https://search.example.com/?q=item+${i % 997}`,
      title: `Product ${100000 + (i % 90000)} - Example store`,
      price: String(Math.round((i % 10000) * 1.37) / 100),
      currency: "EUR",
      in_stock: String(i % 3 !== 0),
    },
  }));
}

const attributes = (device: string) => ({
  deviceId: device,
  clientId: "bench-client",
  systemVersion: "17.1",
  productVersion: "2.3.0",
  env: "PRODUCTION" as const,
});

interface RunFigures {
  mode: string;
  wallMs: number;
  /** Until every event was handed over (floor: encoded and framed; tracker: trackEvent returned). */
  handOverMs: number;
  cpuMs: number;
  /** CPU spent after the hand-over, until everything was delivered. */
  sendCpuMs: number;
  requests: number;
}

const hex = (algorithm: string, data: string | Uint8Array) =>
  createHash(algorithm).update(data).digest("hex");

async function runFloor(url: string, device: string): Promise<RunFigures> {
  const events = makeEvents(EVENTS);
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deviceId = hex("sha256", device);
  const a = attributes(device);
  const session = hex("md5", `${deviceId}:${a.clientId}:${a.systemVersion}:${a.productVersion}:0`);
  const header = toBinary(
    CollectionSchema,
    create(CollectionSchema, {
      deviceId,
      clientId: a.clientId,
      session,
      systemVersion: a.systemVersion,
      productVersion: a.productVersion,
      env: 0,
    }),
  );
  const bodies: Uint8Array<ArrayBuffer>[] = [];
  let parts: Uint8Array[] = [];
  let size = header.length;
  const flushBody = () => {
    const body = new Uint8Array(size);
    body.set(header, 0);
    let pos = header.length;
    for (const part of parts) {
      body[pos++] = 0x7a;
      let length = part.length;
      while (length > 127) {
        body[pos++] = (length & 127) | 128;
        length >>>= 7;
      }
      body[pos++] = length;
      body.set(part, pos);
      pos += part.length;
    }
    bodies.push(body);
    parts = [];
    size = header.length;
  };
  const varintBytes = (n: number) => n < 128 ? 1 : n < 16384 ? 2 : 3;
  let nr = 0;
  for (const e of events) {
    const payload = toBinary(
      PayloadSchema,
      create(PayloadSchema, {
        at: BigInt(Math.floor(Date.now() / 1000)),
        event: e.name,
        nr: ++nr,
        timezone: TIMEZONE,
        userId: "user-1",
        parameters: Object.entries(e.params).map(([name, value]) => ({ name, value })),
      }),
    );
    const framed = 1 + varintBytes(payload.length) + payload.length;
    if (parts.length > 0 && size + framed > MAX_BODY) flushBody();
    parts.push(payload);
    size += framed;
  }
  if (parts.length > 0) flushBody();
  const handOverMs = performance.now() - start;
  const cpuAtHandOver = process.cpuUsage();
  await postTwoInFlight(url, bodies, (body) => {
    const time = String(Math.floor(Date.now() / 1000));
    return {
      "Content-Type": "application/protobuf",
      "X-Hamustro-Time": time,
      "X-Hamustro-Signature": createHash("sha256").update(`${time}|${hex("md5", body)}|${SECRET}`)
        .digest("base64"),
    };
  });
  const wallMs = performance.now() - start;
  return {
    mode: "floor",
    wallMs,
    handOverMs,
    cpuMs: cpuMsSince(cpu0),
    sendCpuMs: cpuMsSince(cpuAtHandOver),
    requests: bodies.length,
  };
}

async function runTracker(base: string, device: string): Promise<RunFigures> {
  const events = makeEvents(EVENTS);
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const tracker = new ClientTracker({
    collectorUrl: base,
    sharedSecretKey: SECRET,
    ...attributes(device),
    timezone: TIMEZONE,
    maxQueueSize: EVENTS * 2,
    exitHook: false,
  });
  await tracker.ready;
  tracker.setUser(undefined, "user-1");
  for (const e of events) tracker.trackEvent(e.name, e.params);
  const handOverMs = performance.now() - start;
  const cpuAtHandOver = process.cpuUsage();
  const summary = await tracker.close();
  const wallMs = performance.now() - start;
  const cpuMs = cpuMsSince(cpu0);
  if (summary.delivered + summary.duplicates !== EVENTS) {
    throw new Error(`tracker delivered ${summary.delivered}: ${JSON.stringify(summary)}`);
  }
  return {
    mode: "tracker",
    wallMs,
    handOverMs,
    cpuMs,
    sendCpuMs: cpuMsSince(cpuAtHandOver),
    requests: tracker.stats().requests,
  };
}

/** The receiver process: the Hamustro route with an in-memory dedupe store and a counting sink. */
function serveReceiver(): void {
  let accepted = 0;
  const receiver = createReceiver({
    routes: [hamustroRoute({ sharedSecretKey: SECRET })],
    sink: { write: (events) => void (accepted += events.length) },
    store: new MemoryDedupeStore(),
  });
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(port),
  }, (request, info) => {
    if (new URL(request.url).pathname === "/stats") {
      return Response.json({ accepted, duplicates: receiver.stats.duplicates });
    }
    return receiver(request, info);
  });
  (async () => {
    for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
    await server.shutdown();
  })();
}

async function main(): Promise<void> {
  const server = await startPortPrinter([import.meta.filename!, "--receiver"]);
  const base = server.base;
  const stats = async () => await (await fetch(`${base}/stats`)).json();
  const results: Record<string, RunFigures[]> = { floor: [], tracker: [] };
  const delivered: Record<string, number[]> = { floor: [], tracker: [] };
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const mode of run % 2 === 0 ? ["floor", "tracker"] : ["tracker", "floor"]) {
        const before = await stats();
        const figures = await runContender<RunFigures>(import.meta.filename!, mode, [
          base,
          `bench-${mode}-${run}-${Date.now()}`,
        ], { "--events": EVENTS });
        const after = await stats();
        results[mode]!.push(figures);
        delivered[mode]!.push(after.accepted - before.accepted);
      }
    }
  } finally {
    await server.stop();
  }
  const row = (mode: string) => {
    const runs = results[mode]!;
    const eps = runs.map((r) => EVENTS / (r.wallMs / 1000));
    return {
      mode,
      "events/s (median)": Math.round(median(eps)),
      "events/s (runs)": eps.map(Math.round).join(" "),
      "hand-over ms": Math.round(median(runs.map((r) => r.handOverMs))),
      "send ms": Math.round(median(runs.map((r) => r.wallMs - r.handOverMs))),
      "CPU ms": Math.round(median(runs.map((r) => r.cpuMs))),
      "send CPU ms": Math.round(median(runs.map((r) => r.sendCpuMs))),
      requests: runs[0]!.requests,
      "accepted %": Math.min(...delivered[mode]!) / EVENTS * 100,
    };
  };
  const floor = row("floor");
  const tracker = row("tracker");
  console.log(machine());
  console.table([floor, tracker]);
  console.log(
    `tracker/floor events/s ratio: ${
      (tracker["events/s (median)"] / floor["events/s (median)"]).toFixed(2)
    }× (${EVENTS} events, ${RUNS} runs each, same receiver process)`,
  );
}

if (Deno.args[0] === "--child") {
  const [, mode, base, device] = Deno.args;
  const figures = mode === "floor"
    ? await runFloor(`${base}/api/v1/track`, device!)
    : await runTracker(base!, device!);
  console.log(JSON.stringify(figures));
} else if (Deno.args[0] === "--receiver") {
  serveReceiver();
} else if (import.meta.main) {
  await main();
}
