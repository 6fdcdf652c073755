import assert from "node:assert/strict";
import type { DedupeStore } from "../src/receiver/dedupe_store.ts";
import { KvDedupeStore } from "../src/receiver/kv_dedupe_store.ts";
import { MemoryDedupeStore } from "../src/receiver/memory_dedupe_store.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import type { RecordResult } from "../src/receiver/route.ts";
import { batchRequest, recordingSink, wireEvent } from "./_receiver_fixtures.ts";

const T0 = 1_790_000_000_000;
const at = (now: number) => ({ now, ttlMs: 10_000, leaseMs: 1_000 });

const DRIVERS: Record<string, () => Promise<{ store: DedupeStore; done(): Promise<void> }>> = {
  memory: () => Promise.resolve({ store: new MemoryDedupeStore(), done: () => Promise.resolve() }),
  kv: async () => {
    const dir = await Deno.makeTempDir();
    const store = await KvDedupeStore.open(`${dir}/dedupe.kv`);
    return {
      store,
      done: async () => {
        await store.close?.();
        await Deno.remove(dir, { recursive: true });
      },
    };
  },
};

for (const [driver, open] of Object.entries(DRIVERS)) {
  Deno.test(`${driver}: a request key goes claimed → in_progress → completed, and another body → mismatch`, async () => {
    const { store, done } = await open();
    try {
      assert.deepEqual(await store.claimRequest("t", "req-1", "fp-a", "o1", at(T0)), {
        state: "claimed",
        owner: "o1",
      });
      const busy = await store.claimRequest("t", "req-1", "fp-a", "o2", at(T0 + 200));
      assert.deepEqual(busy, { state: "in_progress", retryAfterMs: 800 });
      assert.deepEqual(await store.claimRequest("t", "req-1", "fp-b", "o2", at(T0)), {
        state: "mismatch",
      });
      const results: RecordResult[] = [
        { status: "accepted" },
        { status: "duplicate" },
        {
          status: "rejected",
          code: "invalid_field",
          reason: "'type' is missing",
          retryable: false,
        },
      ];
      await store.commit("t", {
        owner: "o1",
        request: { key: "req-1", fingerprint: "fp-a", results },
        eventKeys: [],
      }, at(T0));
      assert.deepEqual(await store.claimRequest("t", "req-1", "fp-a", "o3", at(T0 + 9_999)), {
        state: "completed",
        results,
      });
      assert.deepEqual(await store.claimRequest("t", "req-1", "fp-b", "o3", at(T0 + 9_999)), {
        state: "mismatch",
      });
      // Another tenant's identical key is free; after the TTL the key is free again.
      assert.equal((await store.claimRequest("u", "req-1", "fp-a", "o4", at(T0))).state, "claimed");
      assert.equal(
        (await store.claimRequest("t", "req-1", "fp-b", "o5", at(T0 + 10_000))).state,
        "claimed",
      );
    } finally {
      await done();
    }
  });

  Deno.test(`${driver}: event keys are claimed once, repeats in one call are duplicates, others see in_progress`, async () => {
    const { store, done } = await open();
    try {
      const keys = Array.from({ length: 25 }, (_, i) => `k-${i}`);
      const first = await store.claimEvents("t", [...keys, "k-3"], "o1", at(T0));
      assert.deepEqual(first, [...keys.map(() => "claimed"), "duplicate"]);
      assert.deepEqual(await store.claimEvents("t", ["k-1", "new"], "o2", at(T0)), [
        "in_progress",
        "claimed",
      ]);
      await store.commit("t", { owner: "o1", eventKeys: keys }, at(T0));
      assert.deepEqual(await store.claimEvents("t", ["k-1"], "o3", at(T0 + 5_000)), ["duplicate"]);
      assert.deepEqual(await store.claimEvents("other", ["k-1"], "o3", at(T0)), ["claimed"]);
      assert.deepEqual(await store.claimEvents("t", ["k-1"], "o4", at(T0 + 10_000)), ["claimed"]);
    } finally {
      await done();
    }
  });

  Deno.test(`${driver}: release frees only the owner's claims, and an abandoned claim lapses after the lease`, async () => {
    const { store, done } = await open();
    try {
      await store.claimRequest("t", "req-1", "fp", "o1", at(T0));
      await store.claimEvents("t", ["a", "b"], "o1", at(T0));
      await store.claimEvents("t", ["c"], "o2", at(T0));
      await store.release("t", { owner: "o1", requestKey: "req-1", eventKeys: ["a", "b", "c"] });
      assert.equal((await store.claimRequest("t", "req-1", "fp", "o3", at(T0))).state, "claimed");
      assert.deepEqual(await store.claimEvents("t", ["a", "b", "c"], "o3", at(T0)), [
        "claimed",
        "claimed",
        "in_progress",
      ]);
      // o2 crashed without commit or release: its claim lapses after the lease.
      assert.deepEqual(await store.claimEvents("t", ["c"], "o4", at(T0 + 1_000)), ["claimed"]);
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

Deno.test("kv: two handles on one database never both claim a key", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/dedupe.kv`;
  const a = await KvDedupeStore.open(path);
  const b = await KvDedupeStore.open(path);
  try {
    const keys = Array.from({ length: 40 }, (_, i) => `evt-${i}`);
    const claims = await Promise.all(
      Array.from(
        { length: 6 },
        (_, n) => (n % 2 === 0 ? a : b).claimEvents("t", keys, `owner-${n}`, at(T0)),
      ),
    );
    for (let k = 0; k < keys.length; k++) {
      assert.equal(claims.filter((c) => c[k] === "claimed").length, 1, `key ${keys[k]}`);
    }
    const requests = await Promise.all(
      Array.from(
        { length: 8 },
        (_, n) => (n % 2 === 0 ? a : b).claimRequest("t", "req", "fp", `r-${n}`, at(T0)),
      ),
    );
    assert.equal(requests.filter((r) => r.state === "claimed").length, 1);
    assert.equal(requests.filter((r) => r.state === "in_progress").length, 7);
  } finally {
    a.close();
    b.close();
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
