// The headline: the vendors' own SDKs, pointed at idemtrack's receiver,
// get every event stored exactly once, through lost acknowledgements (the
// route committed, then the answer was a 500 or a broken connection).
import assert from "node:assert/strict";
import type { Route } from "../src/receiver/route.ts";
import type { AcceptedEvent } from "../src/receiver/sink.ts";
import { segmentRoute } from "../src/profiles/segment/route.ts";
import { posthogRoute } from "../src/profiles/posthog/route.ts";
import { rudderstackRoute } from "../src/profiles/rudderstack/route.ts";
import { amplitudeRoutes } from "../src/profiles/amplitude/route.ts";
import { mixpanelRoutes } from "../src/profiles/mixpanel/route.ts";
import { type Fault, startFaultServer } from "./_fault_server.ts";
import { ensureVendorSdks, runSdk, type SdkVendor } from "./_vendor_sdks.ts";

interface SdkCase {
  readonly vendor: SdkVendor;
  routes(): Route[];
  /** The event's `n` as the route stored it. */
  nOf(event: AcceptedEvent): number;
  /**
   * Whether the SDK reports as failed the events of an answer cut off after
   * its headers (rudder-sdk-node: axios' ERR_BAD_RESPONSE is not retried),
   * although the route stored them.
   */
  readonly givesUpOnCutAnswers?: boolean;
}

const properties = (event: AcceptedEvent) => event.event.properties as Record<string, number>;

const CASES: SdkCase[] = [
  {
    vendor: "segment",
    routes: () => [segmentRoute({ writeKeys: { wk_segment: "acme" } })],
    nOf: (event) => properties(event).n!,
  },
  {
    vendor: "rudderstack",
    routes: () => [rudderstackRoute({ writeKeys: { wk_rudder: "acme" } })],
    nOf: (event) => properties(event).n!,
    givesUpOnCutAnswers: true,
  },
  {
    vendor: "posthog",
    routes: () => [posthogRoute({ apiKeys: { phc_test: "acme" } })],
    nOf: (event) => properties(event).n!,
  },
  {
    vendor: "amplitude",
    routes: () => amplitudeRoutes({ apiKeys: { amp_key: "acme" } }),
    nOf: (event) => (event.event.event_properties as Record<string, number>).n!,
  },
  {
    vendor: "mixpanel",
    routes: () =>
      mixpanelRoutes({ projectTokens: { mp_token: "acme" }, importSecrets: { mp_secret: "acme" } }),
    nOf: (event) => properties(event).n!,
  },
];

/** Lost acknowledgements first: committed, then answered 500 or cut off. */
const LOST_ACKS: readonly (Fault | undefined)[] = ["500-after", "reset", undefined, "500-after"];
const faultOf = (index: number) => index < 8 ? LOST_ACKS[index % LOST_ACKS.length] : undefined;
const COUNT = 120;
const FLUSH_AT = 20;

const skip = await ensureVendorSdks();

for (const testCase of CASES) {
  Deno.test({
    name: `${testCase.vendor}'s own SDK stores every event once through lost acknowledgements`,
    ignore: skip !== undefined,
    async fn() {
      const server = await startFaultServer(testCase.routes(), { faultOf });
      try {
        const run = await runSdk(testCase.vendor, server.origin, COUNT, FLUSH_AT);
        const cut = server.seen.filter((request) => request.fault === "reset").length;
        if (testCase.givesUpOnCutAnswers) {
          assert.ok(run.failed <= cut * FLUSH_AT, `the SDK gave up on ${run.failed} events`);
        } else {
          assert.equal(run.failed, 0, `the SDK gave up on ${run.failed} events`);
        }
        const counts = new Map<number, number>();
        for (const event of server.accepted) {
          const n = testCase.nOf(event);
          counts.set(n, (counts.get(n) ?? 0) + 1);
        }
        assert.deepEqual(
          [...counts.keys()].sort((a, b) => a - b),
          Array.from({ length: COUNT }, (_, n) => n),
        );
        assert.deepEqual([...counts].filter(([, count]) => count !== 1), []);
        // The faults were real: committed requests were answered badly and sent again.
        const faulted = server.seen.filter((request) => request.fault !== undefined);
        assert.ok(faulted.length >= 2, `only ${faulted.length} faults were injected`);
        assert.ok(server.receiver.stats.duplicates > 0, "no resent event was de-duplicated");
      } finally {
        await server.close();
      }
    },
  });
}

for (const testCase of CASES) {
  Deno.test({
    name:
      `${testCase.vendor}'s own SDK, given the ids an application persisted, stores a rerun's events once`,
    ignore: skip !== undefined,
    async fn() {
      const server = await startFaultServer(testCase.routes());
      try {
        const first = await runSdk(testCase.vendor, server.origin, 40, FLUSH_AT, true);
        const second = await runSdk(testCase.vendor, server.origin, 40, FLUSH_AT, true);
        assert.deepEqual([first.failed, second.failed], [0, 0]);
        const stored = server.accepted.map((event) => testCase.nOf(event)).sort((a, b) => a - b);
        assert.deepEqual(stored, Array.from({ length: 40 }, (_, n) => n));
        assert.equal(server.receiver.stats.duplicates, 40);
      } finally {
        await server.close();
      }
    },
  });
}
