/**
 * Each vendor's own Node SDK against idemtrack's Client with that vendor's
 * profile: the same events to the vendor's emulation in an idemtrack
 * receiver on loopback (this process), each contender in its own child
 * process (the SDK under Node, installed at the exact versions of
 * tests/_vendor_sdks.ts into .tools/vendors; the Client under Deno).
 *
 * Two rounds per vendor and contender: a clean one, and a fault run in which
 * the first and every 25th request after it is committed and then answered 500 (a lost
 * acknowledgement). Reported: events/s, CPU and peak RSS of the sender,
 * requests, events stored, events the route had to drop as repeats (what a
 * collector without de-duplication would have stored twice) and events
 * stored more than once (the receiver de-duplicates, so any is a bug).
 *
 * The SDKs run with their default batch sizes (Segment 15, RudderStack 20,
 * PostHog 20, Amplitude 200, Mixpanel 50) and 50 ms flush intervals.
 *
 *   deno run -A bench/vendors_e2e.ts [--events 100000] [--vendors segment,posthog]
 */
import process from "node:process";
import { Client } from "../src/client.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { callbackSink } from "../src/receiver/sink.ts";
import { VENDORS } from "../tests/_vendor_profiles.ts";
import { ensureVendorSdks, runSdk, type SdkVendor } from "../tests/_vendor_sdks.ts";
import { cpuMsSince, flag, machine, peakRssMb, runContender } from "./_harness.ts";

const EVENTS = Number(flag("--events") ?? 100_000);
const SDK_FLUSH_AT: Record<SdkVendor, number> = {
  segment: 15,
  rudderstack: 20,
  posthog: 20,
  amplitude: 200,
  mixpanel: 50,
};
const FAULT_EVERY = 25;

interface SenderFigures {
  wallMs: number;
  cpuMs: number;
  peakRssMb: number;
  failed: number;
}

if (Deno.args[0] === "--child") {
  // idemtrack's contender: Client + profile, N events, flush and close.
  const [, vendor = "", origin = ""] = Deno.args;
  const setup = VENDORS[vendor]!;
  const start = performance.now();
  const cpu = process.cpuUsage();
  const client = new Client({ profile: setup.profile(origin), exitHook: false });
  for (let n = 0; n < EVENTS; n++) {
    client.track("order paid", { n, plan: "pro", path: `/products/${n % 9000}` }, {
      userId: `user-${n % 5000}`,
    });
  }
  const result = await client.flush();
  await client.close();
  const figures: SenderFigures = {
    wallMs: performance.now() - start,
    cpuMs: cpuMsSince(cpu),
    peakRssMb: peakRssMb(),
    failed: result.total - result.success,
  };
  console.log(JSON.stringify(figures));
  Deno.exit(0);
}

/** A loopback receiver with one vendor's routes, counting what it stores per event `n`. */
function serve(vendor: string, faults: boolean) {
  const setup = VENDORS[vendor]!;
  const stored = new Map<number, number>();
  const receiver = createReceiver({
    routes: setup.routes(),
    maxBodyBytes: 25 * 1024 * 1024,
    onError: () => {},
    sink: callbackSink((events) => {
      for (const event of events) {
        const n = setup.nOf(event.event);
        stored.set(n, (stored.get(n) ?? 0) + 1);
      }
    }),
  });
  let requests = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request, info) => {
      const index = requests++;
      const response = await receiver(request, info);
      if (faults && index % FAULT_EVERY === 0) {
        await response.body?.cancel();
        return Response.json({ error: "injected after commit" }, { status: 500 });
      }
      return response;
    },
  );
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    figures() {
      let twice = 0;
      for (const count of stored.values()) if (count > 1) twice += count - 1;
      return {
        requests,
        stored: stored.size,
        repeatsDropped: receiver.stats.duplicates,
        storedTwice: twice,
      };
    },
    async close() {
      await server.shutdown();
      await receiver.close();
    },
  };
}

const skip = await ensureVendorSdks();
if (skip !== undefined) throw new Error(`cannot run the SDKs: ${skip}`);
const vendors = (flag("--vendors")?.split(",") ?? Object.keys(VENDORS)) as SdkVendor[];
console.log(`vendors_e2e: ${EVENTS} events per run, ${new Date().toISOString()}`);
console.log(machine());
console.log(
  "vendor       contender  faults  events/s  cpu ms  peak RSS MB  requests  stored  repeats dropped  stored twice  sender failed",
);
for (const vendor of vendors) {
  for (const faults of [false, true]) {
    for (const contender of ["sdk", "idemtrack"] as const) {
      const server = serve(vendor, faults);
      let sender: SenderFigures;
      try {
        if (contender === "sdk") {
          const run = await runSdk(vendor, server.origin, EVENTS, SDK_FLUSH_AT[vendor]);
          sender = {
            wallMs: run.ms,
            cpuMs: run.cpuMs,
            peakRssMb: run.peakRssMb,
            failed: run.failed,
          };
        } else {
          sender = await runContender<SenderFigures>(
            new URL(import.meta.url).pathname,
            vendor,
            [server.origin],
            { "--events": EVENTS },
          );
        }
      } finally {
        await server.close();
      }
      const got = server.figures();
      console.log(
        [
          vendor.padEnd(12),
          contender.padEnd(9),
          String(faults).padEnd(6),
          String(Math.round(EVENTS / (sender.wallMs / 1000))).padStart(8),
          String(Math.round(sender.cpuMs)).padStart(7),
          sender.peakRssMb.toFixed(0).padStart(12),
          String(got.requests).padStart(9),
          String(got.stored).padStart(7),
          String(got.repeatsDropped).padStart(16),
          String(got.storedTwice).padStart(13),
          String(sender.failed).padStart(14),
        ].join("  "),
      );
    }
  }
}
