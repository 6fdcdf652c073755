import assert from "node:assert/strict";
import { MemoryStorage } from "../src/drivers/storage/memory_storage.ts";
import type { QueuedRecord } from "../src/ports/storage.ts";
import { randomInt, seededRandom } from "./_random.ts";

function record(i: number): QueuedRecord {
  return {
    id: `r-${i}`,
    key: `event-${String(i).padStart(6, "0")}`,
    group: "track",
    stream: "",
    data: new Uint8Array([i & 0xff]),
    queuedAt: i,
  };
}

Deno.test("MemoryStorage keeps exactly the unremoved records in append order under out-of-order batch settles", async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const random = seededRandom(seed);
    const storage = new MemoryStorage();
    await storage.open();
    // Reference model: a plain array filtered by a set of removed ids.
    const appended: QueuedRecord[] = [];
    const removed = new Set<string>();
    const batches: string[][] = [];
    let next = 0;
    for (let step = 0; step < 400; step++) {
      const action = random();
      if (action < 0.45) {
        const records = Array.from({ length: randomInt(random, 1, 300) }, () => record(next++));
        appended.push(...records);
        storage.append(records);
        // Batches are contiguous runs of what is not yet batched, as the pipeline forms them.
        batches.push(records.map((r) => r.id));
      } else if (batches.length > 0) {
        // Settle a random batch (not necessarily the oldest), removing a random part of it.
        const [batch] = batches.splice(randomInt(random, 0, batches.length - 1), 1);
        const gone = batch!.filter(() => random() < 0.9);
        for (const id of gone) removed.add(id);
        if (action < 0.9) storage.settleBatch("b", gone);
        else storage.remove(gone);
      }
      if (step % 50 === 0) {
        const expected = appended.filter((r) => !removed.has(r.id));
        assert.equal(storage.size, expected.length, `seed ${seed} step ${step}`);
      }
    }
    const expected = appended.filter((r) => !removed.has(r.id));
    const snapshot = await new MemoryStorage({ sharedWith: storage }).open();
    assert.deepEqual(snapshot.records.map((r) => r.id), expected.map((r) => r.id), `seed ${seed}`);
    assert.ok(snapshot.records.every((r, i) => r === expected[i]), "records kept as given");
  }
});

Deno.test("MemoryStorage ignores removals of ids it never held", async () => {
  const storage = new MemoryStorage();
  await storage.open();
  storage.append([record(1), record(2), record(3)]);
  storage.remove(["r-9", "r-2"]);
  storage.remove(["r-1"]);
  assert.deepEqual((await storage.open()).records.map((r) => r.id), ["r-3"]);
});
