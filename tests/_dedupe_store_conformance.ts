import assert from "node:assert/strict";
import type { DedupeStore } from "../src/receiver/dedupe_store.ts";
import type { RecordResult } from "../src/receiver/route.ts";

const T0 = 1_790_000_000_000;
const at = (now: number) => ({ now, ttlMs: 10_000, leaseMs: 1_000 });

/** A store under test, and how to dispose of it; `twin` opens a second handle on the same data. */
export interface OpenedStore {
  store: DedupeStore;
  twin?: () => Promise<DedupeStore>;
  done(): Promise<void>;
}

/**
 * The behaviour every dedupe store shares (the memory store's): registers its
 * tests for `driver`, each on a fresh store from `open`.
 */
export function dedupeStoreConformance(
  driver: string,
  open: () => Promise<OpenedStore>,
  options: {
    /** Registers the tests as ignored (a server is missing). */
    ignore?: boolean;
    /** Whether keys differing only in lone surrogates are kept apart (Deno KV merges them). */
    lossless?: boolean;
  } = {},
): void {
  const { ignore = false, lossless = true } = options;
  const test = (name: string, fn: () => Promise<void>, skip = false) =>
    Deno.test({ name: `${driver}: ${name}`, ignore: ignore || skip, fn });

  test("a request key goes claimed → in_progress → completed, and another body → mismatch", async () => {
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

  test("event keys are claimed once, repeats in one call are duplicates, others see in_progress", async () => {
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

  test("release frees only the owner's claims, and an abandoned claim lapses after the lease", async () => {
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

  test("two handles on one store never both claim a key", async () => {
    const { store: a, twin, done } = await open();
    const b = twin === undefined ? a : await twin();
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
      if (b !== a) await b.close?.();
      await done();
    }
  });

  test("keys that differ only in lone surrogates or U+0000 stay apart", async () => {
    const { store, done } = await open();
    try {
      const keys = ["k\ud800", "k\udc00", "k\ufffd", "k\u0000", "k", "\uffffk"];
      assert.deepEqual(
        await store.claimEvents("t\ud800", keys, "o1", at(T0)),
        keys.map(() => "claimed"),
      );
      assert.deepEqual(
        await store.claimEvents("t\udc00", keys, "o1", at(T0)),
        keys.map(() => "claimed"),
      );
      await store.commit("t\ud800", { owner: "o1", eventKeys: keys }, at(T0));
      assert.deepEqual(
        await store.claimEvents("t\ud800", [...keys, "k\udbff"], "o2", at(T0)),
        [...keys.map(() => "duplicate"), "claimed"],
      );
    } finally {
      await done();
    }
  }, !lossless);
}
