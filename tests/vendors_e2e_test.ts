// idemtrack's Client with each vendor profile, end to end over loopback
// against the receiver route emulating that vendor: faults, and a resend of
// the same events from a second process.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Client, type ClientOptions } from "../src/client.ts";
import { type Fault, startFaultServer } from "./_fault_server.ts";
import { VENDORS, type VendorSetup } from "./_vendor_profiles.ts";
import { amplitudeProfile } from "../src/profiles/amplitude/profile.ts";
import { amplitudeRoutes } from "../src/profiles/amplitude/route.ts";

const FAST: Partial<ClientOptions> = {
  flushIntervalMs: 0,
  retry: { backoffBaseMs: 1, backoffCapMs: 5, retryAfterFloorMs: 1, retryAfterCapMs: 10 },
  timeoutMs: 5_000,
  exitHook: false,
};

const FAULTS: readonly (Fault | undefined)[] = ["500-after", "reset", "429", "500", undefined];
const faultOf = (index: number) => index < 15 ? FAULTS[index % FAULTS.length] : undefined;
const CHILD = fileURLToPath(new URL("./_vendor_client_child.ts", import.meta.url));

function countBy(values: Iterable<string | number>): Map<string | number, number> {
  const counts = new Map<string | number, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

function assertOncePerN(setup: VendorSetup, events: Record<string, unknown>[], count: number) {
  const counts = countBy(events.map((event) => setup.nOf(event)));
  assert.deepEqual(
    [...counts.keys()].sort((a, b) => Number(a) - Number(b)),
    Array.from({ length: count }, (_, n) => n),
  );
  assert.deepEqual([...counts].filter(([, times]) => times !== 1), []);
}

async function runChild(vendor: string, origin: string, prefix: string, count: number) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, vendor, origin, prefix, String(count)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
}

for (const setup of Object.values(VENDORS)) {
  Deno.test(`${setup.name} profile: every event is stored once through 500s, 429s and lost answers`, async () => {
    const server = await startFaultServer(setup.routes(), { faultOf });
    try {
      const client = new Client({ ...FAST, flushAt: 40, profile: setup.profile(server.origin) });
      for (let n = 0; n < 200; n++) {
        client.track("order paid", { n }, { userId: `user-${n % 7}` });
      }
      const result = await client.flush();
      await client.close();
      assert.equal(result.status, "success", JSON.stringify(result.failedRecords.slice(0, 3)));
      assert.equal(result.success, 200);
      assertOncePerN(setup, server.accepted.map((event) => event.event), 200);
      assert.deepEqual(
        new Set(server.seen.filter((request) => request.fault).map((request) => request.fault)),
        new Set(["500", "reset", "429", "500-after"]),
      );
      assert.ok(server.receiver.stats.duplicates > 0, "no lost answer was resent");
    } finally {
      await server.close();
    }
  });

  Deno.test(`${setup.name} profile: the same events resent by a second process are stored once`, async () => {
    const server = await startFaultServer(setup.routes());
    try {
      const first = await runChild(setup.name, server.origin, "order", 50);
      const second = await runChild(setup.name, server.origin, "order", 50);
      assert.deepEqual([first.status, second.status], ["success", "success"]);
      assert.equal(server.seen.length >= 2, true);
      assertOncePerN(setup, server.accepted.map((event) => event.event), 50);
      assert.equal(server.receiver.stats.duplicates, 50);
      // Both processes derived the same vendor id from each key.
      const idsOf = (text: string) =>
        [...text.matchAll(/"(?:messageId|uuid|insert_id|\$insert_id)":"([^"]+)"/g)].map((m) =>
          m[1]
        );
      const firstIds = new Set(
        server.seen.slice(0, server.seen.length / 2).flatMap((r) => idsOf(r.text)),
      );
      const stored = new Set(server.accepted.map((event) => setup.vendorId(event.event)));
      assert.deepEqual(firstIds, stored);
    } finally {
      await server.close();
    }
  });
}

Deno.test("amplitude profile: events of a throttled user are resent after the wait and stored once", async () => {
  const routes = amplitudeRoutes({
    apiKeys: { amp_key: "acme" },
    throttle: { requestsPerSecond: 50, burst: 50 },
  });
  const server = await startFaultServer(routes);
  try {
    const client = new Client({
      ...FAST,
      flushAt: 50,
      maxBatchEvents: 50,
      retry: { backoffBaseMs: 1, backoffCapMs: 5, retryAfterFloorMs: 300, retryAfterCapMs: 600 },
      profile: amplitudeProfile({ apiKey: "amp_key", baseUrl: server.origin }),
    });
    for (let n = 0; n < 150; n++) client.track("order paid", { n }, { userId: "user-1" });
    const result = await client.flush();
    await client.close();
    assert.equal(result.status, "success", JSON.stringify(result.failedRecords.slice(0, 2)));
    assertOncePerN(VENDORS.amplitude!, server.accepted.map((event) => event.event), 150);
    const throttled = server.seen.filter((request) => request.status === 429);
    assert.ok(throttled.length > 0, "no request was throttled");
    const answer = JSON.parse(throttled[0]!.answer);
    assert.deepEqual(Object.keys(answer.throttled_users), ["user-1"]);
    assert.ok(answer.throttled_events.length > 0);
  } finally {
    await server.close();
  }
});
