import assert from "node:assert/strict";
import { Pipeline } from "../src/pipeline/pipeline.ts";
import { jsonProfile } from "../src/profiles/json/profile.ts";
import { createEvent } from "../src/event.ts";
import { MemoryStorage } from "../src/drivers/storage/memory_storage.ts";
import type { Storage, StorageSnapshot } from "../src/ports/storage.ts";
import { inMemoryStore } from "../src/_util/internal.ts";
import { seededRandom } from "./_random.ts";

const dec = new TextDecoder();
// Random answers (413, 503, network errors, per-record accepted / duplicate / rejected /
// retryable), overflow drops, send() and flush() interleaved: every event ends exactly once, the
// counters return to zero, and the live queue that MemoryStorage reads covers every held event at
// each request and inside each batchSettled hook. With a store that journals and saves batches
// asynchronously (as durable stores do, which get batches formed and saved ahead of a free slot),
// every event still ends exactly once and the store is empty at the end.
for (let seed = 1; seed <= 12; seed++) {
  Deno.test(`the pipeline settles every event once and its live queue covers every held event (seed ${seed})`, () =>
    fuzz(seed, false));
}
for (let seed = 1; seed <= 6; seed++) {
  Deno.test(`the pipeline settles every event once over a store that journals and saves asynchronously (seed ${seed})`, () =>
    fuzz(seed, true));
}

/** What a MemoryStorage holds now, read synchronously (as the pipeline itself opens it). */
function peek(storage: MemoryStorage): StorageSnapshot {
  return inMemoryStore<StorageSnapshot, unknown>(storage)!.openNow();
}

/** The store's own data, journaled to by the pipeline (not the live queue), each batch saved a little later. */
function journaled(inner: MemoryStorage, r: () => number): Storage {
  return {
    name: "journaled memory",
    open: () => inner.open(),
    append: (records) => inner.append(records),
    saveBatch: async (batch) => {
      await new Promise((res) => setTimeout(res, r() * 2));
      await inner.saveBatch(batch);
    },
    settleBatch: (batchId, removed) => inner.settleBatch(batchId, removed),
    remove: (recordIds) => inner.remove(recordIds),
    setValue: (key, value) => inner.setValue(key, value),
    sync: () => inner.sync(),
    close: () => inner.close(),
  };
}

async function fuzz(seed: number, journaling: boolean): Promise<void> {
  {
    const r = seededRandom(seed);
    const storage = new MemoryStorage();
    let snapshotChecks = 0;
    let settledChecks = 0;
    let settledMismatches = 0;
    let requestMismatches = 0;
    const transport = async (req: { body: Uint8Array }) => {
      const copy = req.body.slice();
      const events = (JSON.parse(dec.decode(copy)).events) as { idempotency_key: string }[];
      // A throwing transport would only be retried: mismatches are counted and asserted below.
      const snap = peek(storage);
      const ids = new Set(snap.records.map((record) => record.id));
      if (snap.records.length !== pipeline.unsent || ids.size !== snap.records.length) {
        requestMismatches++;
      }
      snapshotChecks++;
      await new Promise((res) => setTimeout(res, r() * 3));
      const x = r();
      if (x < 0.05) throw new Error("net");
      if (x < 0.1 && events.length > 1) return { status: 413, headers: new Headers(), body: "" };
      if (x < 0.15) return { status: 503, headers: new Headers(), body: "" };
      if (x < 0.6) {
        return {
          status: 200,
          headers: new Headers(),
          body: JSON.stringify({
            accepted: events.length,
            duplicates: 0,
            rejected: 0,
            results: events.map(() => ({ status: "accepted" })),
          }),
        };
      }
      const results = events.map(() => {
        const y = r();
        if (y < 0.6) return { status: "accepted" };
        if (y < 0.7) return { status: "duplicate" };
        if (y < 0.8) return { status: "rejected", code: "bad", reason: "bad", retryable: false };
        return { status: "rejected", code: "later", reason: "later", retryable: true };
      });
      return {
        status: 200,
        headers: new Headers(),
        body: JSON.stringify({ accepted: 0, duplicates: 0, rejected: 0, results }),
      };
    };
    const pipeline: Pipeline = new Pipeline({
      profile: jsonProfile({ endpoint: "http://c.test" }),
      storage: journaling ? journaled(storage, r) : storage,
      transport,
      flushAt: 7,
      flushIntervalMs: 0,
      maxBatchEvents: 13,
      exitHook: false,
      maxQueueSize: 400,
      hooks: {
        // Hooks that throw are ignored by design: mismatches are counted and asserted below.
        batchSettled: [() => {
          settledChecks++;
          if (peek(storage).records.length !== pipeline.unsent) settledMismatches++;
        }],
      },
      overflow: "dropOldest",
      concurrency: 3,
      retry: { backoffBaseMs: 1, backoffCapMs: 3, maxRetries: 3, random: r },
    });
    const waits: Promise<unknown>[] = [];
    for (let round = 0; round < 40; round++) {
      const n = Math.floor(r() * 60);
      for (let i = 0; i < n; i++) {
        const ev = createEvent({ name: "e" + "x".repeat(Math.floor(r() * 200)), userId: "u" });
        pipeline.enqueue(pipeline.profile.encode(ev), ev.idempotencyKey);
      }
      if (r() < 0.3) {
        const items = Array.from({ length: 1 + Math.floor(r() * 20) }, () => {
          const ev = createEvent({ name: "d", userId: "u" });
          return { encoded: pipeline.profile.encode(ev), key: ev.idempotencyKey, event: ev };
        });
        waits.push(pipeline.deliver(items));
      }
      if (r() < 0.2) waits.push(pipeline.flush());
      const s = pipeline.stats();
      assert.ok(s.inFlight >= 0 && s.queuedBytes >= 0);
      await new Promise((res) => setTimeout(res, r() * 5));
    }
    const keep = setInterval(() => {}, 1000);
    const timeout = (p: Promise<unknown>, what: string) =>
      Promise.race([
        p,
        new Promise((_, rej) =>
          setTimeout(() =>
            rej(
              new Error(
                "HANG " + what + " " + JSON.stringify(pipeline.stats()) + " unsent=" +
                  pipeline.unsent + " snap=" + peek(storage).records.length + " batches=" +
                  peek(storage).batches.length,
              ),
            ), 3000)
        ),
      ]);
    try {
      await timeout(pipeline.flush(), "flush");
      for (let i = 0; i < waits.length; i++) await timeout(waits[i]!, "wait" + i);
    } finally {
      clearInterval(keep);
    }
    const s = pipeline.stats();
    const sum = await pipeline.close();
    if (journaling) {
      const left = peek(storage);
      assert.deepEqual([left.records.length, left.batches.length], [0, 0], "the store is empty");
    } else {
      assert.equal(
        requestMismatches,
        0,
        "at each request, the live queue covers every held event once",
      );
      assert.equal(
        settledMismatches,
        0,
        "inside batchSettled, the live queue covers every held event",
      );
    }
    assert.ok(
      snapshotChecks > 20 && settledChecks > 20,
      `${snapshotChecks} / ${settledChecks} checks`,
    );
    assert.equal(s.inFlight, 0);
    assert.equal(s.queued, 0);
    assert.equal(s.queuedBytes, 0);
    assert.equal(pipeline.unsent, 0);
    assert.equal(s.delivered + s.duplicates + s.failed + s.dropped, s.tracked);
    assert.equal(sum.pending, 0);
  }
}
