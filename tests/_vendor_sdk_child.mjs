// Runs under Node: drives one vendor's official SDK, loaded from SDK_DIR (the
// cache folder tests/_official_sdks.ts installs into), against ORIGIN (an
// idemtrack receiver emulating the vendor), sending COUNT events whose
// property `n` is 0..COUNT-1.
// Prints {"vendor","sent","failed","ms","cpuMs","peakRssMb"} as one JSON line when done.
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

const { VENDOR, ORIGIN, SDK_DIR } = process.env;
const COUNT = Number(process.env.COUNT ?? "100");
const FLUSH_AT = Number(process.env.FLUSH_AT ?? "20");
const require = createRequire(`${SDK_DIR}/package.json`);
const started = Date.now();
// FIXED_IDS=1: the application sets each event's vendor id (and time) from n, as it
// would from a key it persisted, so a second run resends the same events.
const FIXED = process.env.FIXED_IDS === "1";
const fixedId = (n) => FIXED ? `evt-${String(n).padStart(8, "0")}` : undefined;
const fixedUuid = (n) =>
  FIXED ? `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}` : undefined;
const BASE_TIME = Date.UTC(2026, 0, 1);
let failed = 0;

async function segment() {
  const { Analytics } = require("@segment/analytics-node");
  const analytics = new Analytics({
    writeKey: "wk_segment",
    host: ORIGIN,
    flushAt: FLUSH_AT,
    flushInterval: 50,
    maxRetries: 5,
  });
  // A call's callback fires once its batch was answered or given up on; calls still
  // queued when closeAndFlush's deadline passes never call back, and count as failed.
  let delivered = 0;
  for (let n = 0; n < COUNT; n++) {
    analytics.track(
      { userId: `user-${n % 7}`, event: "Order Paid", properties: { n }, messageId: fixedId(n) },
      (error) => error || delivered++,
    );
  }
  await analytics.closeAndFlush({ timeout: 60_000 });
  failed = COUNT - delivered;
}

async function rudderstack() {
  const Analytics = require("@rudderstack/rudder-sdk-node");
  const client = new Analytics("wk_rudder", {
    dataPlaneUrl: ORIGIN,
    flushAt: FLUSH_AT,
    flushInterval: 50,
    retryCount: 5,
    logLevel: "off",
    // Without a handler a failed flush is an unhandled rejection that ends the process.
    errorHandler: () => {},
  });
  // Each call's callback fires once its batch was answered (or given up on).
  const done = [];
  for (let n = 0; n < COUNT; n++) {
    done.push(
      new Promise((resolve) =>
        client.track(
          {
            userId: `user-${n % 7}`,
            event: "Order Paid",
            properties: { n },
            messageId: fixedId(n),
          },
          (error) => resolve(error),
        )
      ),
    );
  }
  await client.flush();
  for (const error of await Promise.all(done)) if (error) failed++;
}

async function posthog() {
  const { PostHog } = require("posthog-node");
  const client = new PostHog("phc_test", {
    host: ORIGIN,
    flushAt: FLUSH_AT,
    flushInterval: 50,
    fetchRetryCount: 5,
    fetchRetryDelay: 20,
  });
  client.on("error", () => failed++);
  for (let n = 0; n < COUNT; n++) {
    client.capture({
      distinctId: `user-${n % 7}`,
      event: "order paid",
      properties: { n },
      uuid: fixedUuid(n),
    });
  }
  await client.shutdown(60_000);
}

async function amplitude() {
  const amplitude = require("@amplitude/analytics-node");
  const client = amplitude.createInstance();
  await client.init("amp_key", {
    serverUrl: `${ORIGIN}/2/httpapi`,
    flushQueueSize: FLUSH_AT,
    flushIntervalMillis: 50,
    flushMaxRetries: 5,
    logLevel: 0,
  }).promise;
  const results = [];
  for (let n = 0; n < COUNT; n++) {
    const options = { user_id: `user-${n % 7}`, ...(FIXED && { insert_id: fixedId(n) }) };
    results.push(client.track("order paid", { n }, options).promise);
  }
  // An explicit flush() sends without retries (Destination.flush(useRetry = false));
  // the interval flush retries, so the events are left to it.
  for (const result of await Promise.all(results)) if (result.code !== 200) failed++;
}

async function mixpanel() {
  // mixpanel-node neither retries nor sets $insert_id: the application does
  // both, with one $insert_id per event kept across its own retries.
  const Mixpanel = require("mixpanel");
  const client = Mixpanel.init("mp_token", { host: new URL(ORIGIN).host, protocol: "http" });
  const events = Array.from({ length: COUNT }, (_, n) => ({
    event: "order paid",
    properties: {
      distinct_id: `user-${n % 7}`,
      time: FIXED ? BASE_TIME + n : Date.now(),
      $insert_id: fixedId(n) ?? randomUUID(),
      n,
    },
  }));
  for (let start = 0; start < events.length; start += 50) {
    const batch = events.slice(start, start + 50);
    let error;
    for (let attempt = 0; attempt < 6; attempt++) {
      // mixpanel-node never calls back when an answer is cut off after its
      // headers (no 'error' listener on the response): give up on it after 2 s.
      error = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(new Error("no answer in 2 s")), 2_000);
        client.track_batch(batch.map((event) => structuredClone(event)), (result) => {
          clearTimeout(timer);
          resolve(result);
        });
      });
      if (!error || (Array.isArray(error) && error.length === 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (error && !(Array.isArray(error) && error.length === 0)) failed += batch.length;
  }
}

const drivers = { segment, rudderstack, posthog, amplitude, mixpanel };
await drivers[VENDOR]();
const cpu = process.cpuUsage();
/** Peak RSS of this process: VmHWM (getrusage's maxRSS counts the parent's before exec). */
function peakRssMb() {
  try {
    const match = readFileSync("/proc/self/status", "utf8").match(/VmHWM:\s+(\d+) kB/);
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}
console.log(JSON.stringify({
  vendor: VENDOR,
  sent: COUNT,
  failed,
  ms: Date.now() - started,
  cpuMs: (cpu.user + cpu.system) / 1000,
  peakRssMb: peakRssMb(),
}));
process.exit(0);
