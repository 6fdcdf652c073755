// Child process for vendors_e2e_test.ts: idemtrack's Client with one vendor
// profile, in its own process, tracking events 0..count-1 under the keys
// `<prefix>-<i>` (property {n: i}, timestamp 2026-01-01T00:00:00Z + i ms: the
// same event, as a persisted queue would resend it). Usage:
//   _vendor_client_child.ts <vendor> <origin> <prefix> <count>
// Prints the delivery summary as one JSON line.
import { Client } from "../src/client.ts";
import { VENDORS } from "./_vendor_profiles.ts";

const [vendor = "", origin = "", prefix = "", count = "0"] = Deno.args;
const setup = VENDORS[vendor];
if (setup === undefined) throw new Error(`unknown vendor ${vendor}`);
const BASE_TIME = Date.UTC(2026, 0, 1);
const client = new Client({ profile: setup.profile(origin), exitHook: false, flushIntervalMs: 0 });
for (let n = 0; n < Number(count); n++) {
  client.track("order paid", { n }, {
    userId: `user-${n % 7}`,
    idempotencyKey: `${prefix}-${String(n).padStart(6, "0")}`,
    timestamp: BASE_TIME + n,
  });
}
const result = await client.flush();
await client.close();
console.log(JSON.stringify({ status: result.status, success: result.success }));
