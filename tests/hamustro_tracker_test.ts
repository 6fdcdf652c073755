import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ClientTracker, type ClientTrackerOptions } from "../src/hamustro/client_tracker.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
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

Deno.test("non-200 answers keep the payloads and they are resent, accepted exactly once", async () => {
  const clock = new ManualClock(Date.now());
  const collector = startCollector(SECRET, { clock });
  collector.faults.push(
    { kind: "status", status: 503 },
    { kind: "status", status: 401 },
    { kind: "status", status: 400 },
    { kind: "lose", status: 500 }, // processed, but the 200 is lost
  );
  const tracker = new ClientTracker(options(collector, { queueSize: 4, clock }));
  try {
    await tracker.ready;
    const started = tracker.stats().lastSyncTime;
    for (let i = 0; i < 4; i++) tracker.trackEvent("tap", { i: String(i) });
    for (let sent = 1; sent <= 5; sent++) {
      await waitFor(() => collector.requests.length === sent, `request ${sent}`);
      if (sent < 5) {
        // The answer is read and the backoff timer set (the request timeout cleared).
        await waitFor(
          () => tracker.stats().retried === 4 * sent && clock.pendingDelays.length === 1,
          `backoff after answer ${sent}`,
        );
        // Between answers every payload is still held: nothing deleted before a 200.
        assert.equal(tracker.stats().inFlight, 4);
        assert.equal(tracker.stats().lastSyncTime, started, "no sync time without a 200");
        clock.advance(120_000); // past any backoff
      }
    }
    await waitFor(() => tracker.stats().delivered === 4, "delivered after the 200");
    assert.deepEqual(collector.requests.map((r) => r.status), [503, 401, 400, 500, 200]);
    const bodies = collector.requests.map((r) => r.protobuf!.payloads.map((p) => p.nr));
    for (const nrs of bodies) assert.deepEqual(nrs, [1, 2, 3, 4], "the same payloads each time");
    assert.deepEqual(acceptedNrs(collector), [1, 2, 3, 4], "once each at the sink");
    const stats = tracker.stats();
    assert.equal(stats.failed, 0);
    assert.equal(stats.queued + stats.inFlight, 0);
    assert.equal(stats.lastSyncTime, clock.now(), "the 200 stored the sync time");
  } finally {
    const closing = tracker.close({ timeoutMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    clock.advance(1000); // bounds the close if an assertion failed with payloads in flight
    await closing;
    await collector.close();
  }
});

Deno.test("a new tracker over the same FileStorage continues nr and sends unsent events exactly once", async () => {
  const collector = startCollector(SECRET);
  const path = `${await tempDir()}/queue.log`;
  const first = new ClientTracker(
    options(collector, { storage: new FileStorage(path), queueSize: 5 }),
  );
  await first.ready;
  first.setUser("t1", "u1");
  for (let i = 1; i <= 5; i++) first.trackEvent("first", { i: String(i) });
  await waitFor(() => collector.accepted.length === 5, "the first five delivered");
  collector.failAll = 503;
  for (let i = 6; i <= 8; i++) first.trackEvent("first", { i: String(i) });
  const left = await first.close({ timeoutMs: 50 });
  assert.equal(left.pending, 3, "three payloads left in storage");
  collector.failAll = undefined;

  const second = new ClientTracker(
    options(collector, { storage: new FileStorage(path), queueSize: 2 }),
  );
  try {
    await second.ready;
    assert.deepEqual(second.loadUser(), { tenantId: "t1", userId: "u1" });
    assert.equal(second.loadNumberPerSession(), 8);
    second.trackEvent("second", { i: "9" });
    second.trackEvent("second", { i: "10" });
    await second.flush();
    await waitFor(() => collector.accepted.length === 10, "all ten accepted");
    assert.deepEqual(acceptedNrs(collector).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const accepted of collector.accepted) {
      const event = accepted.event;
      const params = event.parameters as Array<{ name: string; value: string }>;
      assert.equal(params[0]!.value, String(event.nr), "each nr carries its own event");
      assert.equal(event.user_id, "u1");
      assert.equal(event.session, second.session);
    }
  } finally {
    await second.close();
    await collector.close();
  }
});

Deno.test("events of an older session restored from storage go out in their own Collection", async () => {
  const collector = startCollector(SECRET);
  const path = `${await tempDir()}/queue.log`;
  collector.failAll = 503;
  const old = new ClientTracker(
    options(collector, { storage: new FileStorage(path), queueSize: 2 }),
  );
  old.trackEvent("old", { v: "1" });
  old.trackEvent("old", { v: "2" });
  await waitFor(() => collector.requests.length > 0, "a refused send");
  await old.close({ timeoutMs: 50 });
  collector.failAll = undefined;

  // The app was updated: new product version, new session.
  const updated = new ClientTracker(
    options(collector, { storage: new FileStorage(path), productVersion: "2.4.0", queueSize: 1 }),
  );
  try {
    await updated.ready;
    assert.notEqual(updated.session, old.session);
    assert.equal(updated.loadNumberPerSession(), 0, "a new session counts from the start");
    assert.deepEqual(
      Object.keys(updated.loadCollections()).sort(),
      [old.session, updated.session].sort(),
    );
    updated.trackEvent("new", { v: "3" });
    await updated.flush();
    await waitFor(() => collector.accepted.length === 3, "three accepted");
    const delivered = collector.requests.filter((r) => r.status === 200).map((r) => r.protobuf!);
    const bySession = new Map(delivered.map((c) => [c.session, c]));
    const oldCollection = bySession.get(sessionOf("device-42", "ios-app", "17.1", "2.3.0", 8))!;
    const newCollection = bySession.get(sessionOf("device-42", "ios-app", "17.1", "2.4.0", 8))!;
    assert.equal(oldCollection.productVersion, "2.3.0");
    assert.deepEqual(oldCollection.payloads.map((p) => [p.event, p.nr]), [["old", 1], ["old", 2]]);
    assert.equal(newCollection.productVersion, "2.4.0");
    assert.deepEqual(newCollection.payloads.map((p) => [p.event, p.nr]), [["new", 1]]);
    assert.ok(delivered.every((c) => c.payloads.length > 0), "no Collection without payloads");
  } finally {
    await updated.close();
    await collector.close();
  }
});

Deno.test("after kill -9 at random moments no nr is reused, no acknowledged event is lost, none is duplicated", async () => {
  const collector = startCollector(SECRET);
  const path = `${await tempDir()}/queue.log`;
  const child = new URL("./_hamustro_tracker_child.ts", import.meta.url).pathname;
  const cwd = new URL("..", import.meta.url).pathname;
  const acknowledged = new Map<string, number>();
  try {
    for (let run = 0; run < 3; run++) {
      const process = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", child, "track", path, collector.base, SECRET, `r${run}`],
        cwd,
        stdout: "piped",
        stderr: "null",
      }).spawn();
      // Kill after a random number of acknowledged steps (random moments relative to sends).
      const killAfter = 2 + Math.floor(Math.random() * 30);
      const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "";
      let lines = 0;
      while (lines < killAfter) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        const parts = buffered.split("\n");
        buffered = parts.pop()!;
        for (const line of parts) {
          lines++;
          acknowledged.set(`r${run}`, Number(line));
        }
      }
      process.kill("SIGKILL");
      await process.status;
      await reader.cancel().catch(() => {});
      assert.ok(acknowledged.has(`r${run}`), `run ${run} acknowledged something before the kill`);
    }
    const finish = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", child, "finish", path, collector.base, SECRET],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      new TextDecoder().decode(finish.stdout).trim(),
      "done",
      new TextDecoder().decode(finish.stderr),
    );

    // On the wire: one event per (session, nr), whatever was resent.
    const byNr = new Map<string, string>();
    for (const request of collector.requests) {
      for (const payload of request.protobuf!.payloads) {
        const identity = payload.parameters.map((p) => `${p.name}=${p.value}`).join("&");
        const key = `${request.protobuf!.session}:${payload.nr}`;
        const earlier = byNr.get(key);
        assert.ok(
          earlier === undefined || earlier === identity,
          `nr ${key} reused: ${earlier} / ${identity}`,
        );
        byNr.set(key, identity);
      }
    }
    // At the sink: each event once; every acknowledged one there.
    const seen = new Map<string, number>();
    for (const accepted of collector.accepted) {
      const params = accepted.event.parameters as Array<{ name: string; value: string }>;
      const identity = params.map((p) => `${p.name}=${p.value}`).join("&");
      seen.set(identity, (seen.get(identity) ?? 0) + 1);
    }
    const duplicated = [...seen].filter(([, count]) => count > 1);
    assert.deepEqual(duplicated, [], "no event twice at the sink");
    const lost: string[] = [];
    for (const [run, highest] of acknowledged) {
      for (let i = 0; i <= highest; i++) {
        if (!seen.has(`run=${run}&i=${i}`)) lost.push(`${run}/${i}`);
      }
    }
    assert.deepEqual(
      lost,
      [],
      `acknowledged events lost (acknowledged: ${JSON.stringify([...acknowledged])})`,
    );
    const nrs = collector.accepted.map((a) => a.event.nr as number).sort((a, b) => a - b);
    assert.equal(new Set(nrs).size, nrs.length, "distinct nr at the sink");
  } finally {
    await collector.close();
  }
});

Deno.test("deno task receiver with --hamustro-secret serves /api/v1/track for the tracker", async () => {
  const dir = await tempDir();
  const root = new URL("..", import.meta.url).pathname;
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${root}deno.json`,
      `${root}scripts/receiver.ts`,
      "--port",
      "0",
      "--store",
      "memory",
      "--sink",
      `${dir}/events.jsonl`,
      "--hamustro-secret",
      SECRET,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
    const base = text.split("\n")[0]!;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    const tracker = new ClientTracker({ ...options({ base } as Collector), queueSize: 2 });
    tracker.trackEvent("one");
    tracker.trackEvent("two");
    const result = await tracker.flush();
    await tracker.close();
    assert.equal(result.success, 2);
    const lines = (await Deno.readTextFile(`${dir}/events.jsonl`)).trim().split("\n");
    const events = lines.map((line) => JSON.parse(line).event);
    assert.deepEqual(events.map((e) => [e.event, e.nr, e.session]), [
      ["one", 1, tracker.session],
      ["two", 2, tracker.session],
    ]);
  } finally {
    server.kill("SIGKILL");
    await server.status;
    await reader.cancel().catch(() => {});
  }
});

Deno.test("an option the tracker does not know is refused by the constructor, never ignored", () => {
  const known = {
    collectorUrl: "http://127.0.0.1:9",
    sharedSecretKey: SECRET,
    deviceId: "device-42",
    clientId: "ios-app",
    systemVersion: "17.1",
    productVersion: "2.3.0",
    env: "STAGING" as const,
    exitHook: false,
  };
  // A misspelt one, and the Client's name for an option the tracker calls `queueSize`.
  for (const key of ["queueRetension", "flushAt"]) {
    assert.throws(
      () => new ClientTracker({ ...known, [key]: 10 } as ClientTrackerOptions),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.startsWith(
          `Cannot create the tracker as '${key}' is not one of its options: expected `,
        ) && error.message.includes("queueRetention"),
    );
  }
});
