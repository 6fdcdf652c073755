/**
 * End-to-end receiver benchmark: the receiver command (`scripts/receiver.ts`,
 * memory dedupe store, JSON-lines sink, metrics on) against a hand-written
 * floor in the same run, route by route, each a fresh server process per
 * run, fed ~500 KB bodies (fresh keys) over loopback with 1, 4 and 16
 * requests in flight.
 *
 * JSON route (500 events of ~1 KB per body):
 * - `floor`: hand-written `Deno.serve` (bench/_json_floor.ts) — read the
 *   body, `JSON.parse`, check each event's `type` and `idempotency_key`,
 *   append one JSON line per event (the sink's line format) with one write
 *   per request, answer 200 with the count. No de-duplication, no limits,
 *   no metrics.
 * - `receiver`: `scripts/receiver.ts --store memory --sink jsonl:…`.
 *
 * Hamustro route (signed protobuf Collections of 2 000 payloads, ~500 KB):
 * - `floor`: hand-written — check the signature (node:crypto md5 + sha256),
 *   `fromBinary` with protobuf-es, one JSON line per payload, one write.
 * - `receiver`: the same command with `--route hamustro`.
 *
 * Reported per contender and concurrency (medians of `--runs`): events/s
 * (wall time of the whole load) and its ratio to the floor's, the server's
 * CPU µs per event (/proc/<pid>/stat) and its ratio to the floor's, the
 * server's RSS once listening (before any request) and its peak RSS (VmHWM)
 * — both of the server process alone: the client, which holds every body of
 * the load, is this process. Only same-run ratios mean anything on a shared
 * machine; the CPU ratio is the steadier one there.
 *
 * `--v8-flags` is passed to both contenders (e.g.
 * `--max-semi-space-size=1,--max-old-space-size=96` to see what a heap cap
 * does to peak RSS and CPU).
 *
 *   deno task bench:e2e:receiver [--requests 200] [--runs 3] [--in-flight 1,4,16]
 *     [--routes json,hamustro] [--v8-flags …] [--cpu-prof-dir DIR]
 *
 * `--cpu-prof-dir DIR` writes each server's V8 CPU profile under DIR/floor and DIR/receiver.
 * `--heap` runs both servers under bench/_memory_probe.ts and adds their peak
 * V8 heap (total and used) and external (ArrayBuffer) memory, so a peak RSS
 * can be split into heap, buffers and the runtime's own memory.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createHash, timingSafeEqual } from "node:crypto";
import { open } from "node:fs/promises";
import { CollectionSchema } from "../src/hamustro/gen/hamustro_pb.ts";
import { hamustroSession, hashDeviceId } from "../src/hamustro/session.ts";
import { signHamustro } from "../src/hamustro/signature.ts";
import { flag, machine, median } from "./_harness.ts";
import { jsonEvent, jsonFloor } from "./_json_floor.ts";

const REQUESTS = Number(flag("--requests") ?? 200);
const RUNS = Number(flag("--runs") ?? 3);
const IN_FLIGHT = (flag("--in-flight") ?? "1,4,16").split(",").map(Number);
const ROUTES = (flag("--routes") ?? "json,hamustro").split(",");
const V8_FLAGS = flag("--v8-flags");
const CPU_PROF_DIR = flag("--cpu-prof-dir");
const HEAP = Deno.args.includes("--heap");
const ROOT = new URL("..", import.meta.url).pathname;
const SECRET = "bench-shared-secret";
const encoder = new TextEncoder();

/** How one route is loaded, and how its floor and the receiver are started. */
interface RouteBench {
  readonly path: string;
  readonly eventsPerRequest: number;
  bodies(run: number): Uint8Array<ArrayBuffer>[];
  headers(body: Uint8Array): Record<string, string>;
  /** Extra flags of scripts/receiver.ts. */
  readonly receiverArgs: readonly string[];
}

const JSON_ROUTE: RouteBench = {
  path: "/v1/events/batch",
  eventsPerRequest: 500,
  bodies(run) {
    const first = run * REQUESTS * this.eventsPerRequest;
    return Array.from({ length: REQUESTS }, (_, r) => {
      const events = Array.from(
        { length: this.eventsPerRequest },
        (_, i) => jsonEvent(first + r * this.eventsPerRequest + i),
      );
      return encoder.encode(JSON.stringify({ events })) as Uint8Array<ArrayBuffer>;
    });
  },
  headers: () => ({ "content-type": "application/json" }),
  receiverArgs: [],
};

const HAMUSTRO_ROUTE: RouteBench = {
  path: "/api/v1/track",
  eventsPerRequest: 2_000,
  bodies(run) {
    return Array.from({ length: REQUESTS }, (_, r) => {
      // A device per body: `session:nr` keys never repeat across bodies or runs.
      const fields = {
        deviceId: hashDeviceId(`bench-device-${run}-${r}`),
        clientId: "bench-client",
        systemVersion: "17.1",
        productVersion: "2.3.0",
        env: "PRODUCTION" as const,
      };
      const collection = create(CollectionSchema, {
        ...fields,
        env: 0, // PRODUCTION
        session: hamustroSession(fields),
        payloads: Array.from({ length: this.eventsPerRequest }, (_, i) => ({
          at: BigInt(Math.floor(Date.now() / 1000)),
          event: "product_viewed",
          nr: i + 1,
          timezone: "Europe/Budapest",
          userId: `user-${i % 5000}`,
          parameters: [
            { name: "path", value: `/products/${100000 + i}` },
            { name: "referrer", value: `https://search.example.com/?q=item+${i % 997}` },
            { name: "price", value: String((i % 10000) * 1.37) },
          ],
        })),
      });
      return toBinary(CollectionSchema, collection) as Uint8Array<ArrayBuffer>;
    });
  },
  headers(body) {
    const time = Math.floor(Date.now() / 1000);
    return {
      "content-type": "application/protobuf",
      "x-hamustro-time": String(time),
      "x-hamustro-signature": signHamustro(time, body, SECRET),
    };
  },
  receiverArgs: ["--route", "hamustro", "--hamustro-secret", SECRET],
};

const ROUTE_BENCHES: Record<string, RouteBench> = { json: JSON_ROUTE, hamustro: HAMUSTRO_ROUTE };

/** The Hamustro floor: signature, protobuf-es decode, one JSON line per payload. */
function hamustroFloor(
  write: (lines: string) => Promise<void> | void,
): (request: Request) => Promise<Response> {
  const hex = (algorithm: string, data: string | Uint8Array) =>
    createHash(algorithm).update(data).digest("hex");
  return async (request) => {
    const body = new Uint8Array(await request.arrayBuffer());
    const time = request.headers.get("x-hamustro-time") ?? "";
    const expected = createHash("sha256").update(`${time}|${hex("md5", body)}|${SECRET}`)
      .digest();
    const signature = Uint8Array.from(
      atob(request.headers.get("x-hamustro-signature") ?? ""),
      (c) => c.charCodeAt(0),
    );
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      return new Response("bad signature", { status: 401 });
    }
    const collection = fromBinary(CollectionSchema, body);
    const now = Date.now();
    let text = "";
    for (const payload of collection.payloads) {
      text += JSON.stringify({
        tenant: "hamustro",
        route: "hamustro",
        key: `${collection.session}:${payload.nr}`,
        received_at: now,
        event: {
          device_id: collection.deviceId,
          client_id: collection.clientId,
          session: collection.session,
          nr: payload.nr,
          at: Number(payload.at),
          event: payload.event,
          user_id: payload.userId,
          timezone: payload.timezone,
          parameters: Object.fromEntries(payload.parameters.map((p) => [p.name, p.value])),
        },
      }) + "\n";
    }
    await write(text);
    return new Response(null, { status: 200 });
  };
}

/** A hand-written floor server (runs in its own process), one file write per request. */
async function serveFloor(route: string, sinkPath: string): Promise<void> {
  const file = await open(sinkPath, "a");
  const write = async (lines: string) => void await file.write(encoder.encode(lines));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    route === "hamustro" ? hamustroFloor(write) : jsonFloor(write),
  );
  console.log(`http://127.0.0.1:${server.addr.port}`);
  Deno.addSignalListener("SIGTERM", async () => {
    await server.shutdown();
    await file.close();
    Deno.exit(0);
  });
}

interface Figures {
  eventsPerSecond: number;
  cpuMicrosPerEvent: number;
  idleRssMb: number;
  peakRssMb: number;
  /** Peak `Deno.memoryUsage()` figures, MB (with `--heap`). */
  heap?: { heapTotal: number; heapUsed: number; external: number };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A process's current (`VmRSS`) or peak (`VmHWM`) resident set size, MB. */
function rss(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024;
}

async function runOnce(
  route: string,
  contender: "floor" | "receiver",
  inFlight: number,
  load: Uint8Array<ArrayBuffer>[],
): Promise<Figures> {
  const bench = ROUTE_BENCHES[route]!;
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-bench-" });
  const sink = `${dir}/events.jsonl`;
  const run = V8_FLAGS === undefined ? ["run", "-A"] : ["run", "-A", `--v8-flags=${V8_FLAGS}`];
  if (CPU_PROF_DIR !== undefined) {
    run.push("--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}/${contender}`);
  }
  const server = contender === "floor"
    ? new URL(import.meta.url).pathname
    : `${ROOT}scripts/receiver.ts`;
  const main = HEAP ? new URL("./_memory_probe.ts", import.meta.url).pathname : server;
  const args = contender === "floor" ? [...run, main, "--child-floor", route, sink] : [
    ...run,
    main,
    "--port",
    "0",
    "--store",
    "memory",
    "--sink",
    `jsonl:${sink}`,
    ...bench.receiverArgs,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: HEAP ? "piped" : "null",
    env: { IDEMTRACK_BENCH_PROBE_TARGET: server },
  }).spawn();
  const stderr = HEAP ? new Response(child.stderr).text() : Promise.resolve("");
  let figures: Figures;
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let line = "";
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${contender} exited before listening`);
      line += value;
    }
    reader.cancel().catch(() => {});
    const url = `${line.split("\n", 1)[0]}${bench.path}`;
    const idleRssMb = rss(child.pid, "VmRSS");
    const cpuBefore = cpuSeconds(child.pid);
    const started = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < load.length) {
        const body = load[next++]!;
        const response = await fetch(url, { method: "POST", headers: bench.headers(body), body });
        const text = await response.text();
        if (response.status !== 200) {
          throw new Error(`${contender}: HTTP ${response.status} ${text}`);
        }
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const events = load.length * bench.eventsPerRequest;
    figures = {
      eventsPerSecond: events / seconds,
      cpuMicrosPerEvent: ((cpuSeconds(child.pid) - cpuBefore) * 1e6) / events,
      idleRssMb,
      peakRssMb: rss(child.pid, "VmHWM"),
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
  const probed = /memory-probe (\{.*\})/.exec(await stderr)?.[1];
  if (probed !== undefined) {
    const peak = JSON.parse(probed) as Record<"heapTotal" | "heapUsed" | "external", number>;
    const mb = (bytes: number) => bytes / 1024 / 1024;
    figures.heap = {
      heapTotal: mb(peak.heapTotal),
      heapUsed: mb(peak.heapUsed),
      external: mb(peak.external),
    };
  }
  return figures;
}

if (Deno.args[0] === "--child-floor") {
  await serveFloor(Deno.args[1]!, Deno.args[2]!);
} else {
  console.log(machine());
  if (V8_FLAGS !== undefined) console.log(`V8 flags of both contenders: ${V8_FLAGS}`);
  console.log(
    `${REQUESTS} requests per run, fresh server per run, medians of ${RUNS}; bodies: ${
      ROUTES.map((route) => {
        const bench = ROUTE_BENCHES[route]!;
        const size = Math.round(bench.bodies(0)[0]!.byteLength / 1024);
        return `${route} ${bench.eventsPerRequest} events ~${size} KB`;
      }).join(", ")
    }\n`,
  );
  const rows: Record<string, string | number>[] = [];
  for (const route of ROUTES) {
    for (const inFlight of IN_FLIGHT) {
      const figures: Record<string, Figures[]> = { floor: [], receiver: [] };
      for (let run = 0; run < RUNS; run++) {
        const load = ROUTE_BENCHES[route]!.bodies(run);
        // Alternating, so drift on a shared machine hits both alike.
        for (const contender of ["floor", "receiver"] as const) {
          figures[contender]!.push(await runOnce(route, contender, inFlight, load));
        }
      }
      const floorRate = median(figures.floor!.map((f) => f.eventsPerSecond));
      const floorCpu = median(figures.floor!.map((f) => f.cpuMicrosPerEvent));
      for (const contender of ["floor", "receiver"] as const) {
        const list = figures[contender]!;
        const rate = median(list.map((f) => f.eventsPerSecond));
        const cpu = median(list.map((f) => f.cpuMicrosPerEvent));
        rows.push({
          route,
          "in flight": inFlight,
          contender,
          "events/s": Math.round(rate),
          "× floor": (rate / floorRate).toFixed(2),
          "CPU µs/event": cpu.toFixed(2),
          "CPU × floor": (cpu / floorCpu).toFixed(2),
          "idle RSS MB": Math.round(median(list.map((f) => f.idleRssMb))),
          "peak RSS MB": Math.round(median(list.map((f) => f.peakRssMb))),
          ...(HEAP && {
            "peak heap MB (used)": `${
              Math.round(median(list.map((f) => f.heap?.heapTotal ?? NaN)))
            } (${Math.round(median(list.map((f) => f.heap?.heapUsed ?? NaN)))})`,
            "peak external MB": Math.round(median(list.map((f) => f.heap?.external ?? NaN))),
          }),
        });
      }
    }
  }
  console.table(rows);
}
