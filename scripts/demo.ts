/**
 * The demo: a local receiver with injected faults, and a Client sending a
 * realistic load to it; prints what arrived.
 *
 * `deno task demo [--events 100000] [--fault-rate 0.1] [--seed 7]`
 *
 * Faults (per request, seeded): 500 before processing, 429 with Retry-After,
 * a connection dropped before processing, and — the hard one — a connection
 * dropped AFTER the receiver processed the batch, so the client never learns
 * it was delivered and must resend under the same idempotency key.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Client } from "../mod.ts";
import { ClientTracker, hamustroRoute } from "../src/hamustro/mod.ts";
import {
  type AcceptedEvent,
  callbackSink,
  createJsonRoute,
  createReceiver,
  MemoryDedupeStore,
} from "../src/receiver/mod.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "100000" },
    "fault-rate": { type: "string", default: "0.15" },
    seed: { type: "string", default: "7" },
    "hamustro-events": { type: "string", default: "20000" },
  },
});
const totalEvents = Number(args.events);
const faultRate = Number(args["fault-rate"]);
const hamustroEvents = Number(args["hamustro-events"]);
const HAMUSTRO_SECRET = "demo-shared-secret";

/** mulberry32: a small seeded PRNG so a run can be repeated. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(Number(args.seed));

// ---- the receiver, with a sink that counts what arrives ----
const arrivals = new Map<string, number>();
const hamustroArrivals = new Map<string, number>();
const receiver = createReceiver({
  routes: [createJsonRoute(), hamustroRoute({ sharedSecretKey: HAMUSTRO_SECRET })],
  store: new MemoryDedupeStore(),
  sink: callbackSink((events: readonly AcceptedEvent[]) => {
    for (const { key, route } of events) {
      if (key === undefined) continue;
      const seen = route === "hamustro" ? hamustroArrivals : arrivals;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }),
  onError: () => {},
});

const faults = { error500: 0, rateLimited429: 0, droppedBefore: 0, droppedAfter: 0 };

/**
 * A response that promises 100 bytes and ends after one: the connection is
 * cut mid-body, and the client cannot tell whether the batch arrived.
 */
function brokenConnection(): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("{"));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "content-length": "100" } });
}

const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  async (request, info) => {
    const roll = random();
    if (roll < faultRate * 0.35) {
      faults.error500++;
      return new Response('{"error":"server_error"}', { status: 500 });
    }
    if (roll < faultRate * 0.55) {
      faults.rateLimited429++;
      return new Response('{"error":"rate_limited"}', {
        status: 429,
        headers: { "retry-after": "1" },
      });
    }
    if (roll < faultRate * 0.7) {
      faults.droppedBefore++;
      await request.body?.cancel();
      return brokenConnection();
    }
    const response = await receiver(request, info);
    if (roll < faultRate) {
      faults.droppedAfter++;
      return brokenConnection();
    }
    return response;
  },
);
const origin = `http://127.0.0.1:${server.addr.port}`;
const endpoint = `${origin}/v1/events/batch`;

// ---- the client, under a realistic load ----
const PLANS = ["free", "pro", "team", "enterprise"];
const PAGES = ["/", "/pricing", "/docs/getting-started", "/blog/exactly-once", "/settings/billing"];
const client = new Client({
  endpoint,
  flushAt: 250,
  maxBatchEvents: 250,
  flushIntervalMs: 200,
  concurrency: 4,
  retry: { backoffBaseMs: 50, backoffCapMs: 2_000 },
  exitHook: false,
});

const tracked: string[] = [];
const started = performance.now();
for (let i = 0; i < totalEvents; i++) {
  const user = `user-${i % 5_000}`;
  if (i % 50 === 0) {
    tracked.push(client.identify(user, {
      plan: PLANS[i % PLANS.length]!,
      email: `${user}@example.com`,
      company: { name: `Company ${i % 300}`, seats: (i % 40) + 1 },
    }));
  } else if (i % 997 === 0) {
    tracked.push(client.alias(user, `anon-${i}`));
  } else {
    tracked.push(client.track(i % 3 === 0 ? "page_viewed" : "feature_used", {
      page: PAGES[i % PAGES.length]!,
      feature: `feature_${i % 37}`,
      durationMs: (i * 7919) % 60_000,
      experiment: { id: `exp-${i % 11}`, variant: i % 2 === 0 ? "control" : "treatment" },
      tags: ["web", i % 2 === 0 ? "desktop" : "mobile"],
      referrer: "https://www.example.com/landing?utm_source=newsletter&utm_medium=email",
    }, { userId: user, context: { locale: "en-GB", app: { version: "4.2.1", build: 1742 } } }));
  }
  // Yield now and then, as a real app would between requests.
  if (i % 5_000 === 4_999) await new Promise((resolve) => setTimeout(resolve, 0));
}
const summary = await client.close();
const elapsedMs = performance.now() - started;
const stats = client.stats();

// ---- a Hamustro tracker (protobuf, signed) through the same faulty server ----
const tracker = new ClientTracker({
  collectorUrl: origin,
  sharedSecretKey: HAMUSTRO_SECRET,
  deviceId: "demo-device-0001",
  clientId: "demo-ios-app",
  systemVersion: "17.1",
  productVersion: "4.2.1",
  env: "PRODUCTION",
  queueSize: 500,
  exitHook: false,
});
await tracker.ready;
tracker.setUser("acme", "user-42");
const hamustroStarted = performance.now();
for (let i = 0; i < hamustroEvents; i++) {
  tracker.trackEvent(i % 10 === 0 ? "App.Open" : "Screen.View", {
    screen: PAGES[i % PAGES.length]!,
    index: String(i),
  });
  if (i % 5_000 === 4_999) await new Promise((resolve) => setTimeout(resolve, 0));
}
const trackerSummary = await tracker.close({ timeoutMs: 60_000 });
const hamustroElapsedMs = performance.now() - hamustroStarted;
await server.shutdown();
await receiver.close();

let lost = 0;
let duplicatesAtSink = 0;
for (const key of tracked) {
  const count = arrivals.get(key) ?? 0;
  if (count === 0) lost++;
  if (count > 1) duplicatesAtSink += count - 1;
}
let hamustroDuplicates = 0;
for (const count of hamustroArrivals.values()) if (count > 1) hamustroDuplicates += count - 1;
const hamustroLost = hamustroEvents - hamustroArrivals.size;
const r = receiver.stats;
const rows: Array<[string, string | number]> = [
  ["tracked", tracked.length],
  [
    "delivered (client)",
    `${
      summary.delivered + summary.duplicates
    } (${summary.duplicates} of them answered 409: already there)`,
  ],
  ["arrived at the sink (unique)", arrivals.size],
  ["duplicates suppressed (receiver)", `${r.duplicates} events, ${r.duplicateRequests} requests`],
  ["duplicates at the sink", duplicatesAtSink],
  ["lost", lost],
  ["failed / dropped (client)", `${summary.failed} / ${summary.dropped}`],
  ["requests answered", stats.requests],
  ["event sends retried", stats.retried],
  [
    "faults injected",
    `${faults.error500}×500, ${faults.rateLimited429}×429, ${faults.droppedBefore} dropped before, ${faults.droppedAfter} dropped after processing`,
  ],
  ["events/s", Math.round(tracked.length / (elapsedMs / 1000))],
  ["elapsed", `${(elapsedMs / 1000).toFixed(2)} s`],
  ["", ""],
  ["Hamustro tracker (protobuf, signed)", ""],
  ["tracked", hamustroEvents],
  ["arrived at the sink (unique session:nr)", hamustroArrivals.size],
  ["duplicates at the sink", hamustroDuplicates],
  ["lost", hamustroLost],
  ["delivered / pending (tracker)", `${trackerSummary.delivered} / ${trackerSummary.pending}`],
  ["events/s", Math.round(hamustroEvents / (hamustroElapsedMs / 1000))],
];
const width = Math.max(...rows.map(([label]) => label.length));
console.log("idemtrack demo — Client → loopback receiver with injected faults\n");
for (const [label, value] of rows) {
  console.log(label === "" ? "" : `${label.padEnd(width)}  ${value}`);
}
if (
  lost !== 0 || duplicatesAtSink !== 0 || summary.failed !== 0 || hamustroLost !== 0 ||
  hamustroDuplicates !== 0
) {
  console.error("\nFAILED: events were lost or duplicated");
  Deno.exit(1);
}
console.log("\nexactly once: every tracked event arrived, none twice.");
