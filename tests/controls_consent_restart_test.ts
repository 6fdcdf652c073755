// Consent kept by a file store across restarts: the state and the held events are written to the
// store's key-value area and read back by the next client on the same file.
import assert from "node:assert/strict";
import { Client, type ClientOptions } from "../mod.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import { startCollector } from "./_controls_collector.ts";

function client(url: string, path: string, options: Partial<ClientOptions> = {}): Client {
  return new Client({
    endpoint: url,
    exitHook: false,
    flushAt: Infinity,
    storage: new FileStorage(path),
    consent: "pending",
    ...options,
  });
}

Deno.test("a file store keeps consent and held events across restarts: held, then released or purged", async () => {
  const collector = await startCollector();
  const dir = await Deno.makeTempDir();
  const path = `${dir}/queue`;
  try {
    const first = client(collector.url, path);
    first.track("held", { n: 1 }, { userId: "u1" });
    first.track("held", { n: 2 }, { userId: "u1" });
    await first.close();

    const second = client(collector.url, path);
    await second.consentReady;
    assert.equal(second.consent, "pending");
    assert.equal(second.stats().consentHeld, 2);
    second.setConsent("granted");
    await second.close();
    assert.deepEqual(collector.events.map((e) => (e.properties as { n: number }).n), [1, 2]);

    const third = client(collector.url, path);
    third.track("sent", { n: 3 }, { userId: "u1" });
    await third.consentReady;
    assert.equal(third.consent, "granted");
    third.setConsent("denied");
    await third.close();
    assert.equal(collector.events.length, 3);

    const fourth = client(collector.url, path, { consent: "granted" });
    await fourth.consentReady;
    assert.equal(fourth.consent, "denied", "the stored state wins over the option");
    assert.equal(fourth.track("dropped", {}, { userId: "u1" }), "");
    await fourth.close();
    assert.equal(collector.events.length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await collector.close();
  }
});
