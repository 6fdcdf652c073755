// The one conformance suite every Storage driver passes. It runs under Deno
// (tests/storage_conformance_test.ts) and inside headless Chromium
// (tests/browser_storage_test.ts bundles it), so it uses no Deno API.
import assert from "node:assert/strict";
import type { QueuedRecord, Storage, StorageSnapshot, StoredBatch } from "../src/ports/storage.ts";

/** One store under test: each `connect()` is a new driver instance over the same data. */
export interface StoreUnderTest {
  connect(): Storage;
  /** Deletes the store's data. */
  destroy(): Promise<void>;
}

/** How to make fresh stores of one driver, and what it can hold. */
export interface DriverFactory {
  readonly name: string;
  createStore(): Promise<StoreUnderTest>;
  /** Size of the "large payload" record. @default 1 MiB */
  readonly largeRecordBytes?: number;
  /** Record count of the "many records" case. @default 5000 */
  readonly manyRecords?: number;
}

export interface ConformanceCase {
  readonly name: string;
  run(factory: DriverFactory): Promise<void>;
}

/** Deterministic bytes for record `seed` (xorshift), so tests can regenerate what they expect. */
export function payload(seed: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = (seed * 2654435761) ^ 0x9e3779b9 | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

export function makeRecord(i: number, size = 320, stream = ""): QueuedRecord {
  return {
    id: `rec-${i}`,
    key: `evt-${String(i).padStart(8, "0")}`,
    group: i % 3 === 0 ? "identify" : "track",
    stream,
    data: payload(i, size),
    queuedAt: 1_700_000_000_000 + i,
  };
}

/** The record's contract fields only (drivers may drop extra fields callers attach). */
function plain(record: QueuedRecord) {
  const { id, key, group, stream, queuedAt } = record;
  return { id, key, group, stream, queuedAt, data: Array.from(record.data) };
}

function assertRecords(actual: readonly QueuedRecord[], expected: readonly QueuedRecord[]): void {
  assert.deepEqual(actual.map((r) => r.id), expected.map((r) => r.id), "record ids in order");
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(a.data instanceof Uint8Array, `record ${e.id}: data is a Uint8Array`);
    assert.deepEqual(plain(a), plain(e), `record ${e.id}`);
  }
}

function assertEmpty(snapshot: StorageSnapshot): void {
  assert.deepEqual(snapshot.records, []);
  assert.deepEqual(snapshot.batches, []);
  assert.equal(snapshot.values.size, 0);
  assert.deepEqual(snapshot.skipped, { entries: 0, bytes: 0 });
}

async function withStore(
  factory: DriverFactory,
  body: (store: StoreUnderTest) => Promise<void>,
): Promise<void> {
  const store = await factory.createStore();
  try {
    await body(store);
  } finally {
    await store.destroy();
  }
}

/** Opens a new instance over the store, reads it, closes it. */
async function reopen(store: StoreUnderTest): Promise<StorageSnapshot> {
  const storage = store.connect();
  const snapshot = await storage.open();
  await storage.close();
  return snapshot;
}

const batch = (id: string, recordIds: string[], attempt = 0, stream = ""): StoredBatch => ({
  id,
  stream,
  recordIds,
  attempt,
  createdAt: 1_700_000_100_000,
});

export const conformanceCases: readonly ConformanceCase[] = [
  {
    name: "open() on an empty store returns no records, batches or values and skips nothing",
    run: (factory) =>
      withStore(factory, async (store) => {
        const storage = store.connect();
        assertEmpty(await storage.open());
        await storage.close();
        assertEmpty(await reopen(store));
      }),
  },
  {
    name: "appended records come back after reopen in append order with identical bytes",
    run: (factory) =>
      withStore(factory, async (store) => {
        const storage = store.connect();
        await storage.open();
        const records = [0, 1, 2, 3, 4, 5, 6].map((i) => makeRecord(i, i * 37));
        storage.append(records.slice(0, 3));
        storage.append([]);
        storage.append(records.slice(3, 4));
        await storage.sync();
        storage.append(records.slice(4));
        await storage.sync();
        await storage.close();
        const snapshot = await reopen(store);
        assertRecords(snapshot.records, records);
        assert.deepEqual(snapshot.batches, []);
      }),
  },
  {
    name: "records keep ids, keys, groups and streams with non-ASCII text and empty data",
    run: (factory) =>
      withStore(factory, async (store) => {
        const storage = store.connect();
        await storage.open();
        const records: QueuedRecord[] = [
          { ...makeRecord(1, 0), stream: "sess-ü-✓", group: "identities" },
          { ...makeRecord(2, 3), id: "r-🎉", key: "clé-é" },
          { ...makeRecord(3, 1), stream: "", queuedAt: 0 },
        ];
        storage.append(records);
        await storage.close();
        assertRecords((await reopen(store)).records, records);
      }),
  },
  {
    name: "saveBatch() persists the batch and a second saveBatch() with its id replaces it",
    run: (factory) =>
      withStore(factory, async (store) => {
        const storage = store.connect();
        await storage.open();
        const records = [1, 2, 3, 4].map((i) => makeRecord(i, 50, "s1"));
        storage.append(records);
        await storage.saveBatch(batch("b-1", ["rec-1", "rec-2"], 0, "s1"));
        await storage.saveBatch(batch("b-2", ["rec-3"], 0, "s1"));
        // saveBatch resolves once durable: a crash now keeps both batches.
        await storage.saveBatch(batch("b-1", ["rec-1", "rec-2"], 2, "s1"));
        await storage.close();
        const snapshot = await reopen(store);
        assertRecords(snapshot.records, records);
        const byId = new Map(snapshot.batches.map((b) => [b.id, b]));
        assert.equal(snapshot.batches.length, 2);
        assert.deepEqual(byId.get("b-1"), batch("b-1", ["rec-1", "rec-2"], 2, "s1"));
        assert.deepEqual(byId.get("b-2"), batch("b-2", ["rec-3"], 0, "s1"));
      }),
  },
  {
    name: "settleBatch() removes the batch and the listed records; its other records stay queued",
    run: (factory) =>
      withStore(factory, async (store) => {
        const storage = store.connect();
        await storage.open();
        const records = [1, 2, 3, 4, 5].map((i) => makeRecord(i));
        storage.append(records);
        await storage.saveBatch(batch("b-1", ["rec-1", "rec-2", "rec-3"]));
        await storage.saveBatch(batch("b-2", ["rec-4"]));
        // rec-2 is retryable: it stays queued, outside any batch.
        storage.settleBatch("b-1", ["rec-1", "rec-3"]);
        await storage.sync();
        await storage.close();
        const snapshot = await reopen(store);
        assertRecords(snapshot.records, [records[1]!, records[3]!, records[4]!]);
        assert.deepEqual(snapshot.batches, [batch("b-2", ["rec-4"])]);
      }),
  },
  {
    name: "remove() drops records that are in no batch and leaves the rest",
    run: (factory) =>
      withStore(factory, async (store) => {
        const storage = store.connect();
        await storage.open();
        const records = [1, 2, 3, 4].map((i) => makeRecord(i));
        storage.append(records);
        storage.remove(["rec-2", "rec-4", "rec-unknown"]);
        await storage.close();
        assertRecords((await reopen(store)).records, [records[0]!, records[2]!]);
      }),
  },
  {
    name: "values are set, overwritten and deleted, and survive reopen",
    run: (factory) =>
      withStore(factory, async (store) => {
        const storage = store.connect();
        await storage.open();
        storage.setValue("nr:s1", 1);
        storage.setValue("nr:s1", 2);
        storage.setValue("user", { id: "u-1", traits: ["a", 1, null, true], nested: { ü: 1.5 } });
        storage.setValue("lastSyncAt", 1_700_000_000_000);
        storage.setValue("gone", "x");
        storage.setValue("gone", undefined);
        await storage.close();
        const snapshot = await reopen(store);
        assert.deepEqual(
          Object.fromEntries(snapshot.values),
          {
            "nr:s1": 2,
            user: { id: "u-1", traits: ["a", 1, null, true], nested: { ü: 1.5 } },
            lastSyncAt: 1_700_000_000_000,
          },
        );
      }),
  },
  {
    name: "close() writes pending changes; changes after a reopen stack on the recovered state",
    run: (factory) =>
      withStore(factory, async (store) => {
        const first = store.connect();
        await first.open();
        const records = [1, 2, 3].map((i) => makeRecord(i));
        first.append(records);
        await first.saveBatch(batch("b-1", ["rec-1"]));
        first.setValue("nr", 3);
        await first.close(); // no sync(): close() must write it all

        const second = store.connect();
        const recovered = await second.open();
        assertRecords(recovered.records, records);
        second.settleBatch("b-1", ["rec-1"]);
        second.append([makeRecord(4)]);
        second.setValue("nr", 4);
        await second.close();

        const snapshot = await reopen(store);
        assertRecords(snapshot.records, [records[1]!, records[2]!, makeRecord(4)]);
        assert.deepEqual(snapshot.batches, []);
        assert.equal(snapshot.values.get("nr"), 4);
      }),
  },
  {
    name: "mutating arrays after a call does not change what was stored",
    run: (factory) =>
      withStore(factory, async (store) => {
        const storage = store.connect();
        await storage.open();
        const records = [makeRecord(1), makeRecord(2)];
        const appended = records.slice();
        storage.append(appended);
        appended.length = 0;
        const ids = ["rec-1", "rec-2"];
        const saved = batch("b-1", ids);
        const batchSaved = storage.saveBatch(saved);
        ids.push("rec-9");
        await batchSaved;
        const toRemove = ["rec-9"];
        storage.remove(toRemove);
        toRemove[0] = "rec-1";
        await storage.close();
        const snapshot = await reopen(store);
        assertRecords(snapshot.records, records);
        assert.deepEqual(snapshot.batches, [batch("b-1", ["rec-1", "rec-2"])]);
      }),
  },
  {
    name:
      "records whose bytes are views into a shared buffer, with extra fields, keep just their own bytes",
    run: (factory) =>
      withStore(factory, async (store) => {
        // Encoders hand out views into shared slabs, and the pipeline passes its queue entries
        // (records with bookkeeping, functions included): a driver must store only the record.
        const slab = new Uint8Array(256 * 1024).fill(0x2a);
        const expected = [1, 2, 3].map((i) => makeRecord(i, 100));
        const given = expected.map((record, i) => {
          const view = slab.subarray(1000 * i, 1000 * i + record.data.length);
          view.set(record.data);
          return { ...record, data: view, inBatch: false, wake: () => {} } as QueuedRecord;
        });
        const storage = store.connect();
        await storage.open();
        storage.append(given);
        await storage.close();
        assertRecords((await reopen(store)).records, expected);
      }),
  },
  {
    name: "a large record survives reopen byte for byte",
    run: (factory) =>
      withStore(factory, async (store) => {
        const size = factory.largeRecordBytes ?? 1024 * 1024;
        const storage = store.connect();
        await storage.open();
        const records = [makeRecord(1, 10), makeRecord(2, size), makeRecord(3, 10)];
        storage.append(records);
        await storage.sync();
        storage.remove(["rec-1"]);
        await storage.close();
        assertRecords((await reopen(store)).records, records.slice(1));
      }),
  },
  {
    name: "many records survive reopen in order, and settling half of them leaves the other half",
    run: (factory) =>
      withStore(factory, async (store) => {
        const count = factory.manyRecords ?? 5000;
        const storage = store.connect();
        await storage.open();
        const records: QueuedRecord[] = [];
        for (let i = 0; i < count; i++) {
          const record = makeRecord(i);
          records.push(record);
          storage.append([record]); // one call per event, as the client does
        }
        const even = records.filter((_, i) => i % 2 === 0).map((r) => r.id);
        await storage.saveBatch(batch("b-even", even));
        storage.settleBatch("b-even", even);
        await storage.close();
        const snapshot = await reopen(store);
        assertRecords(snapshot.records, records.filter((_, i) => i % 2 === 1));
        assert.deepEqual(snapshot.batches, []);
      }),
  },
];
