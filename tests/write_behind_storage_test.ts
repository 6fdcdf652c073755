// WriteBehindStorage's own contract with a backend (the drivers' conformance runs in
// storage_conformance_test.ts, with a backend written against the public contract too).
import assert from "node:assert/strict";
import {
  type StorageBackend,
  WriteBehindStorage,
} from "../src/drivers/storage/write_behind_storage.ts";
import { StorageError } from "../src/errors/storage_error.ts";
import type { StorageOp } from "../src/drivers/storage/_ops.ts";
import { ManualClock } from "./_helpers.ts";

const empty = () => ({
  records: [],
  batches: [],
  values: new Map(),
  skipped: { entries: 0, bytes: 0 },
});

Deno.test("a delay that is not a number from 0 to 2^31-1 is refused when the storage is created", () => {
  const backend: StorageBackend = {
    open: () => Promise.resolve(empty()),
    write: () => Promise.resolve(),
    close() {},
  };
  for (const delayMs of [-1, Number.NaN, 2 ** 31]) {
    assert.throws(() => new WriteBehindStorage("t", backend, { delayMs }), RangeError);
  }
});

Deno.test("a backend whose open() fails is released once and the storage stays closed", async () => {
  let closed = 0;
  const storage = new WriteBehindStorage("t", {
    open: () => Promise.reject(new Error("disk gone")),
    write: () => Promise.resolve(),
    close: () => void closed++,
  });
  await assert.rejects(storage.open(), (error: unknown) => {
    assert.ok(error instanceof StorageError);
    assert.match(error.message, /cannot open: disk gone/);
    return true;
  });
  assert.equal(closed, 1);
  assert.throws(() => storage.setValue("k", 1), /the store is closed/);
  await storage.close();
  assert.equal(closed, 1);
});

Deno.test("a failed write is given again as the same op objects, and sync() reports the failure", async () => {
  const seen: StorageOp[][] = [];
  let fail = true;
  const storage = new WriteBehindStorage("t", {
    open: () => Promise.resolve(empty()),
    write(ops) {
      seen.push(ops);
      return fail ? Promise.reject(new StorageError("t", "full")) : Promise.resolve();
    },
    close() {},
  }, { eager: true, clock: new ManualClock() });
  await storage.open();
  storage.setValue("k", 1);
  await assert.rejects(storage.sync(), /full/);
  fail = false;
  await storage.sync();
  assert.equal(seen.length, 2);
  assert.equal(seen[1]![0], seen[0]![0]);
  await storage.close();
});
