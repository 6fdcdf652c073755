import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ClientTracker, type ClientTrackerOptions } from "../src/hamustro/client_tracker.ts";
import { FileStorage } from "../src/storage/file_storage.ts";
import { type Collector, type SeenRequest, startCollector } from "./_hamustro_collector.ts";
import { ManualClock, waitFor } from "./_helpers.ts";

const SECRET = "tracker-shared-secret";
const md5 = (data: string | Uint8Array) => createHash("md5").update(data).digest("hex");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const sign = (time: string, body: Uint8Array) =>
  createHash("sha256").update(`${time}|${md5(body)}|${SECRET}`).digest("base64");
/** The session as the seed defines it, computed independently. */
const sessionOf = (device: string, client: string, system: string, product: string, env: number) =>
  md5(`${sha256(device)}:${client}:${system}:${product}:${env}`);

function options(
  collector: Collector,
  extra: Partial<ClientTrackerOptions> = {},
): ClientTrackerOptions {
  return {
    collectorUrl: collector.base,
    sharedSecretKey: SECRET,
    deviceId: "device-42",
    clientId: "ios-app",
    systemVersion: "17.1",
    productVersion: "2.3.0",
    env: "STAGING",
    exitHook: false,
    ...extra,
  };
}

function checkSignature(request: SeenRequest, type: string): void {
  const time = request.headers.get("x-hamustro-time")!;
  assert.match(time, /^\d{10}$/);
  assert.equal(request.headers.get("x-hamustro-signature"), sign(time, request.body));
  assert.equal(request.headers.get("content-type"), type);
  assert.equal(new URL(request.url).pathname, "/api/v1/track");
}

/** Payload numbers the receiver accepted, in order. */
const acceptedNrs = (collector: Collector) => collector.accepted.map((a) => a.event.nr as number);

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "hamustro-tracker-" });
}

Deno.test("trackEvent sends a signed protobuf Collection at queueSize with every field filled in", async () => {
  const collector = startCollector(SECRET);
  const tracker = new ClientTracker(options(collector, {
    queueSize: 3,
    deviceMake: "Apple",
    deviceModel: "iPhone15,2",
    system: "iOS",
    systemLanguage: "hu",
    browser: "Safari",
    browserVersion: "17",
    productGitHash: "abc123",
    productLanguage: "en",
    timezone: "Europe/Budapest",
    ip: "10.1.2.3",
    country: () => "HU",
  }));
  try {
    await tracker.ready;
    tracker.setHeaders({ "X-App": "demo", "X-Hamustro-Signature": "forged" });
    tracker.setUser("acme", "user-1");
    const before = Math.floor(Date.now() / 1000);
    tracker.trackEvent("App.Open", { screen: "home", count: 2 as unknown as string });
    tracker.trackEvent("Page.View", { path: "/a" });
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(collector.requests.length, 0, "nothing is sent below queueSize");
    tracker.trackEvent("Árvíztűrő ✓", {});
    await waitFor(() => collector.accepted.length === 3, "three accepted payloads");
    const after = Math.ceil(Date.now() / 1000);

    assert.equal(collector.requests.length, 1);
    const request = collector.requests[0]!;
    checkSignature(request, "application/protobuf");
    assert.equal(request.headers.get("x-app"), "demo");
    const collection = request.protobuf!;
    const session = sessionOf("device-42", "ios-app", "17.1", "2.3.0", 8);
    assert.equal(tracker.session, session);
    assert.deepEqual(
      {
        deviceId: collection.deviceId,
        clientId: collection.clientId,
        session: collection.session,
        systemVersion: collection.systemVersion,
        productVersion: collection.productVersion,
        env: collection.env,
        deviceMake: collection.deviceMake,
        deviceModel: collection.deviceModel,
        system: collection.system,
        systemLanguage: collection.systemLanguage,
        browser: collection.browser,
        browserVersion: collection.browserVersion,
        productGitHash: collection.productGitHash,
        productLanguage: collection.productLanguage,
      },
      {
        deviceId: sha256("device-42"),
        clientId: "ios-app",
        session,
        systemVersion: "17.1",
        productVersion: "2.3.0",
        env: 8,
        deviceMake: "Apple",
        deviceModel: "iPhone15,2",
        system: "iOS",
        systemLanguage: "hu",
        browser: "Safari",
        browserVersion: "17",
        productGitHash: "abc123",
        productLanguage: "en",
      },
    );
    assert.equal(collection.payloads.length, 3);
    const names = ["App.Open", "Page.View", "Árvíztűrő ✓"];
    const parameters = [[["screen", "home"], ["count", "2"]], [["path", "/a"]], []];
    collection.payloads.forEach((payload, index) => {
      const at = Number(payload.at);
      assert.ok(at >= before && at <= after, `at ${at} is epoch seconds of the call`);
      assert.equal(payload.event, names[index]);
      assert.equal(payload.nr, index + 1);
      assert.equal(payload.timezone, "Europe/Budapest");
      assert.equal(payload.tenantId, "acme");
      assert.equal(payload.userId, "user-1");
      assert.equal(payload.ip, "10.1.2.3");
      assert.equal(payload.country, "HU");
      assert.deepEqual(payload.parameters.map((p) => [p.name, p.value]), parameters[index]);
    });
    assert.deepEqual(acceptedNrs(collector), [1, 2, 3]);
    await waitFor(() => tracker.stats().delivered === 3, "delivered count");
    assert.equal(tracker.stats().nr, 3);
  } finally {
    await tracker.close();
    await collector.close();
  }
});

Deno.test("the JSON format sends the same Collection with proto field names", async () => {
  const collector = startCollector(SECRET);
  const tracker = new ClientTracker(options(collector, {
    format: "json",
    queueSize: 2,
    timezone: "UTC",
    deviceModel: "Pixel",
  }));
  try {
    tracker.setUser(undefined, "user-9");
    tracker.trackEvent("a", { k: "v" });
    tracker.trackEvent("b");
    await waitFor(() => collector.accepted.length === 2, "two accepted payloads");
    const request = collector.requests[0]!;
    checkSignature(request, "application/json");
    const body = request.json as Record<string, unknown> & { payloads: Record<string, unknown>[] };
    assert.equal(body.device_id, sha256("device-42"));
    assert.equal(body.client_id, "ios-app");
    assert.equal(body.session, sessionOf("device-42", "ios-app", "17.1", "2.3.0", 8));
    assert.equal(body.system_version, "17.1");
    assert.equal(body.product_version, "2.3.0");
    assert.equal(body.env, 8);
    assert.equal(body.device_model, "Pixel");
    assert.equal(body.device_make, undefined);
    assert.deepEqual(
      body.payloads.map((p) => [p.event, p.nr, p.user_id, p.tenant_id, p.timezone]),
      [
        ["a", 1, "user-9", undefined, "UTC"],
        ["b", 2, "user-9", undefined, "UTC"],
      ],
    );
    assert.deepEqual(body.payloads[0]!.parameters, [{ name: "k", value: "v" }]);
    assert.equal(typeof body.payloads[0]!.at, "number");
  } finally {
    await tracker.close();
    await collector.close();
  }
});

Deno.test("trackEvent sends when the last sync is older than queueRetention and stores the sync time", async () => {
  const clock = new ManualClock(Date.parse("2026-11-25T08:00:00Z"));
  const collector = startCollector(SECRET, { clock });
  const path = `${await tempDir()}/queue.log`;
  const storage = new FileStorage(path);
  const tracker = new ClientTracker(options(collector, {
    queueSize: 100,
    queueRetention: 60,
    clock,
    storage,
  }));
  try {
    await tracker.ready;
    const started = tracker.stats().lastSyncTime;
    assert.equal(started, clock.now(), "a first start counts as a sync");
    tracker.trackEvent("one");
    clock.advance(59 * 60_000);
    tracker.trackEvent("two");
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(collector.requests.length, 0, "within the retention nothing is sent");
    clock.advance(60_001);
    tracker.trackEvent("three");
    await waitFor(() => collector.accepted.length === 3, "three accepted payloads");
    assert.equal(collector.requests.length, 1);
    await waitFor(() => tracker.stats().lastSyncTime === clock.now(), "last sync time");
    tracker.trackEvent("four");
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(collector.requests.length, 1, "a fresh sync restarts the retention window");
  } finally {
    await tracker.close();
    await collector.close();
  }
  // The last sync time is in the store, as the 200 left it.
  const reopened = new FileStorage(path);
  const snapshot = await reopened.open();
  await reopened.close();
  assert.equal(snapshot.values.get("hamustro.lastSyncTime"), clock.now());
  assert.equal(snapshot.records.length, 0, "every payload was deleted after its 200");
});
