import assert from "node:assert/strict";
import { KvDedupeStore } from "../src/receiver/kv_dedupe_store.ts";
import { MemoryDedupeStore } from "../src/receiver/memory_dedupe_store.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import type { RecordResult } from "../src/receiver/route.ts";
import { dedupeStoreConformance, type OpenedStore } from "./_dedupe_store_conformance.ts";
import { batchRequest, recordingSink, wireEvent } from "./_receiver_fixtures.ts";

const T0 = 1_790_000_000_000;
const at = (now: number) => ({ now, ttlMs: 10_000, leaseMs: 1_000 });

const DRIVERS: Record<string, () => Promise<OpenedStore>> = {
  memory: () => Promise.resolve({ store: new MemoryDedupeStore(), done: () => Promise.resolve() }),
  kv: async () => {
    const dir = await Deno.makeTempDir();
    const store = await KvDedupeStore.open(`${dir}/dedupe.kv`);
    return {
      store,
      twin: () => KvDedupeStore.open(`${dir}/dedupe.kv`),
      done: async () => {
        await store.close?.();
        await Deno.remove(dir, { recursive: true });
      },
    };
  },
};

dedupeStoreConformance("memory", DRIVERS.memory!);
dedupeStoreConformance("kv", DRIVERS.kv!);

for (const [driver, open] of Object.entries(DRIVERS)) {
  Deno.test(`${driver}: keys and tenants differing only in lone surrogates, or past 2 KiB, stay distinct`, async () => {
    const { store, done } = await open();
    try {
      const keys = ["evt-\ud800", "evt-\udc00", "evt-\ufffd", "evt-"];
      const long = ["k".repeat(3_000) + "a", "k".repeat(3_000) + "b"];
      const tenants = ["t\ud800", "t\udc00"];
      for (const tenant of tenants) {
        assert.deepEqual(
          await store.claimEvents(tenant, [...keys, ...long], `o-${tenant}`, at(T0)),
          ["claimed", "claimed", "claimed", "claimed", "claimed", "claimed"],
        );
        await store.commit(tenant, { owner: `o-${tenant}`, eventKeys: [...keys, ...long] }, at(T0));
      }
      for (const tenant of tenants) {
        for (const key of [...keys, ...long]) {
          assert.deepEqual(await store.claimEvents(tenant, [key], "o-later", at(T0)), [
            "duplicate",
          ]);
        }
      }
      assert.equal((await store.claimRequest("t", "r\ud800", "fp", "o1", at(T0))).state, "claimed");
      assert.equal((await store.claimRequest("t", "r\udc00", "fp", "o2", at(T0))).state, "claimed");
    } finally {
      await done();
    }
  });
}

Deno.test("kv: a restarted store still answers completed requests and seen events", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/dedupe.kv`;
  try {
    const body = { events: [wireEvent(1), wireEvent(2, { timestamp: "never" }), wireEvent(3)] };
    const sink = recordingSink();
    const before = createReceiver({ sink, store: await KvDedupeStore.open(path) });
    const first = await (await before(batchRequest(body, { key: "batch-0001" }))).json();
    await before.close();

    const after = createReceiver({ sink, store: await KvDedupeStore.open(path) });
    const again = await after(batchRequest(body, { key: "batch-0001" }));
    assert.equal(again.status, 409);
    assert.deepEqual((await again.json()).results, first.results);
    const events = await (await after(batchRequest({ events: [wireEvent(3), wireEvent(4)] })))
      .json();
    assert.deepEqual(events.results, [{ status: "duplicate" }, { status: "accepted" }]);
    await after.close();
    assert.deepEqual(sink.events.map((e) => e.key), [
      "evt-00000001",
      "evt-00000003",
      "evt-00000004",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv: the results of a large request survive the 64 KiB value cap", async () => {
  const { store, done } = await DRIVERS.kv!();
  try {
    const results: RecordResult[] = Array.from(
      { length: 6000 },
      (_, i): RecordResult =>
        i % 3 === 0 ? { status: "accepted" } : {
          status: "rejected",
          code: "invalid_field",
          reason: `'timestamp' ✓ is bad in event ${i}`,
          retryable: i % 2 === 0,
        },
    );
    await store.claimRequest("t", "big", "fp", "o", at(T0));
    await store.commit("t", {
      owner: "o",
      request: { key: "big", fingerprint: "fp", results },
      eventKeys: [],
    }, at(T0));
    const answer = await store.claimRequest("t", "big", "fp", "o2", at(T0));
    assert.equal(answer.state, "completed");
    assert.deepEqual(answer.state === "completed" ? answer.results : [], results);
  } finally {
    await done();
  }
});

Deno.test("memory: the store is bounded and counts keys forgotten early", () => {
  const store = new MemoryDedupeStore({ maxKeys: 100 });
  for (let request = 0; request < 15; request++) {
    const keys = Array.from({ length: 10 }, (_, i) => `k-${request * 10 + i}`);
    store.claimEvents("t", keys, `o${request}`, at(T0));
    store.commit("t", { owner: `o${request}`, eventKeys: keys }, at(T0));
  }
  assert.equal(store.size, 100);
  assert.equal(store.evicted, 50);
  // The oldest were forgotten, the newest are still known.
  assert.deepEqual(store.claimEvents("t", ["k-149", "k-0"], "o2", at(T0)), [
    "duplicate",
    "claimed",
  ]);
  assert.throws(() => new MemoryDedupeStore({ maxKeys: 0 }), RangeError);
});

Deno.test("memory: expired keys are swept, not counted as evicted", () => {
  const store = new MemoryDedupeStore({ maxKeys: 10 });
  const keys = Array.from({ length: 10 }, (_, i) => `k-${i}`);
  store.claimEvents("t", keys, "o", at(T0));
  store.commit("t", { owner: "o", eventKeys: keys }, at(T0));
  store.claimEvents("t", ["fresh"], "o2", at(T0 + 10_000));
  assert.equal(store.size, 1);
  assert.equal(store.evicted, 0);
});

Deno.test("memory: a key taken over by a later claim outlives the earlier claim's lapse", () => {
  const store = new MemoryDedupeStore({ maxKeys: 10 });
  const timing = { now: T0, ttlMs: 10_000, leaseMs: 1_000 };
  store.claimEvents("t", ["k", "other"], "o1", timing);
  store.release("t", { owner: "o1", eventKeys: ["k"] });
  store.claimEvents("t", ["k"], "o2", timing);
  store.commit("t", { owner: "o2", eventKeys: ["k"] }, timing);
  // o1's claim lapses and is swept; the key o2 committed stays, counted once.
  store.claimEvents("t2", ["fresh"], "o3", { ...timing, now: T0 + 5_000 });
  assert.equal(store.size, 2);
  assert.deepEqual(store.claimEvents("t", ["k", "other"], "o4", { ...timing, now: T0 + 5_000 }), [
    "duplicate",
    "claimed",
  ]);
  assert.equal(store.evicted, 0);
});
