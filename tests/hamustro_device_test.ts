import assert from "node:assert/strict";
import { ClientTracker, type ClientTrackerOptions } from "../src/hamustro/client_tracker.ts";
import { localeCountry } from "../src/hamustro/device.ts";
import { startCollector } from "./_hamustro_collector.ts";
import { ManualClock, waitFor } from "./_helpers.ts";

const SECRET = "device-secret";

/** A tracker for `collector` with fixed attributes and the given delivery options. */
function trackerFor(collector: { base: string }, options: Partial<ClientTrackerOptions>) {
  return new ClientTracker({
    collectorUrl: collector.base,
    sharedSecretKey: SECRET,
    deviceId: "d",
    clientId: "c",
    systemVersion: "1",
    productVersion: "1",
    env: "TESTING",
    exitHook: false,
    ...options,
  });
}

Deno.test("a tracker sends the device's own time zone, locale country and IPv4 address when the app gives none", async () => {
  const collector = startCollector(SECRET);
  try {
    for (
      const [tz, lang, country] of [["Asia/Tokyo", "hu_HU.UTF-8", "HU"], [
        "America/Lima",
        "es_PE.UTF-8",
        "PE",
      ]]
    ) {
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          "--allow-sys=networkInterfaces",
          "--allow-env",
          new URL("./_hamustro_device_child.ts", import.meta.url).pathname,
          collector.base,
          SECRET,
        ],
        env: { TZ: tz!, LANG: lang!, LC_ALL: lang! },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(child.stderr);
      assert.equal(child.code, 0, stderr);
      const seen = JSON.parse(new TextDecoder().decode(child.stdout));
      const payload = collector.requests.at(-1)!.protobuf!.payloads[0]!;
      assert.equal(payload.timezone, tz);
      assert.equal(seen.timezone, tz);
      assert.equal(payload.country, country);
      // The address is the machine's (none on a machine without a network interface).
      assert.equal(payload.ip, seen.ip ?? "");
    }
  } finally {
    await collector.close();
  }
});

Deno.test("the country of a locale is its region, else its language's likely region", () => {
  assert.equal(localeCountry("en-GB"), "GB");
  assert.equal(localeCountry("pt"), "BR");
  assert.equal(localeCountry("ja"), "JP");
  assert.equal(localeCountry(""), undefined);
});

Deno.test("a time zone, address or country given as a function is asked at each event, and false leaves the field out", async () => {
  const collector = startCollector(SECRET);
  const clock = new ManualClock(Date.now());
  let zone = "Europe/Budapest";
  let lookups = 0;
  const tracker = trackerFor(collector, {
    queueSize: 3,
    clock,
    ip: false,
    country: false,
    timezone: () => (lookups++, zone),
  });
  try {
    await tracker.ready;
    tracker.trackEvent("a");
    zone = "Europe/London";
    tracker.trackEvent("b");
    clock.advance(1_000);
    tracker.trackEvent("c");
    await waitFor(() => collector.requests.length === 1, "the request");
    const payloads = collector.requests[0]!.protobuf!.payloads;
    // A function given by the app is asked at each event.
    assert.deepEqual(payloads.map((p) => p.timezone), [
      "Europe/Budapest",
      "Europe/London",
      "Europe/London",
    ]);
    assert.equal(lookups, 3);
    assert.deepEqual(payloads.map((p) => [p.ip, p.country]), [["", ""], ["", ""], ["", ""]]);
  } finally {
    await tracker.close({ timeoutMs: 1000 });
    await collector.close();
  }
});

Deno.test("a 204 answer keeps the payloads: only a 200 deletes them, as the seed asks", async () => {
  const clock = new ManualClock(Date.now());
  const collector = startCollector(SECRET, { clock });
  collector.faults.push({ kind: "status", status: 204 }, { kind: "status", status: 202 });
  const tracker = trackerFor(collector, { queueSize: 2, clock });
  try {
    await tracker.ready;
    tracker.trackEvent("a");
    tracker.trackEvent("b");
    for (let sent = 1; sent <= 2; sent++) {
      await waitFor(() => collector.requests.length === sent, `request ${sent}`);
      await waitFor(
        () => tracker.stats().retried === 2 * sent && clock.pendingDelays.length === 1,
        `backoff after answer ${sent}`,
      );
      assert.equal(tracker.stats().inFlight, 2, "kept after a 2xx that is not 200");
      clock.advance(120_000);
    }
    await waitFor(() => tracker.stats().delivered === 2, "delivered after the 200");
    assert.deepEqual(collector.requests.map((r) => r.status), [204, 202, 200]);
    assert.deepEqual(collector.accepted.map((a) => a.event.event), ["a", "b"]);
  } finally {
    const closing = tracker.close({ timeoutMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    clock.advance(1000);
    await closing;
    await collector.close();
  }
});
