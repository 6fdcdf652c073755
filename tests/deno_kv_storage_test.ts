import assert from "node:assert/strict";
import { DenoKvStorage } from "../src/drivers/storage/deno_kv_storage.ts";
import { makeRecord } from "./_storage_conformance.ts";

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "idemtrack-kv-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("DenoKvStorage queues with different prefixes in one database do not see each other", async () => {
  await using dir = await tempDir();
  const kv = await Deno.openKv(`${dir.path}/shared.kv`);
  try {
    const a = new DenoKvStorage({ kv, prefix: "app-a" });
    const b = new DenoKvStorage({ kv, prefix: "app-b" });
    await a.open();
    await b.open();
    a.append([makeRecord(1)]);
    b.append([makeRecord(2)]);
    a.setValue("nr", 1);
    await a.close();
    await b.close();
    // The shared database stays open: it belongs to the caller.
    const reopened = new DenoKvStorage({ kv, prefix: "app-a" });
    const snapshot = await reopened.open();
    assert.deepEqual(snapshot.records.map((r) => r.id), ["rec-1"]);
    assert.deepEqual([...snapshot.values], [["nr", 1]]);
    await reopened.close();
  } finally {
    kv.close();
  }
});

Deno.test("DenoKvStorage skips and reports a large record whose parts a crash left incomplete", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/queue.kv`;
  const storage = new DenoKvStorage({ path });
  await storage.open();
  const records = [makeRecord(1, 10), makeRecord(2, 200_000), makeRecord(3, 10)];
  storage.append(records);
  await storage.close();

  // Simulate the split commit of a crash: one part of rec-2 is missing.
  const kv = await Deno.openKv(path);
  const keys: Deno.KvKey[] = [];
  for await (const entry of kv.list({ prefix: ["idemtrack", "r"] })) keys.push(entry.key);
  const part = keys.find((key) => key.length === 4 && key[3] === 1);
  assert.ok(part, `a part key exists among ${JSON.stringify(keys)}`);
  await kv.delete(part);
  kv.close();

  const recovered = new DenoKvStorage({ path });
  const snapshot = await recovered.open();
  assert.deepEqual(snapshot.records.map((r) => r.id), ["rec-1", "rec-3"]);
  assert.equal(snapshot.skipped.entries, 1);
  await recovered.close();
  // The broken record's keys were cleaned up: the next open is clean.
  const again = new DenoKvStorage({ path });
  assert.deepEqual((await again.open()).skipped, { entries: 0, bytes: 0 });
  await again.close();
});
