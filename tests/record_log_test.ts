import assert from "node:assert/strict";
import type { QueuedRecord } from "../src/ports/storage.ts";
import { RecordLog } from "../src/drivers/storage/_record_log.ts";
import { randomInt, seededRandom } from "./_random.ts";

function record(i: number, size = 1 + (i % 7), version = 0): QueuedRecord {
  return {
    id: `r-${i}`,
    key: `event-${String(i).padStart(6, "0")}`,
    group: "track",
    stream: "",
    data: new Uint8Array(size).fill(version),
    queuedAt: i,
  };
}

const sum = (records: readonly QueuedRecord[]) =>
  records.reduce((total, r) => total + r.data.length, 0);

Deno.test("RecordLog bytes stay close to the exact size under random out-of-order removals and are exact once resolved", () => {
  for (const seed of [11, 12, 13]) {
    const random = seededRandom(seed);
    const log = new RecordLog();
    const held = new Map<string, QueuedRecord>();
    let next = 0;
    for (let step = 0; step < 500; step++) {
      if (random() < 0.5) {
        const records = Array.from({ length: randomInt(random, 1, 200) }, () => record(next++));
        log.append(records);
        for (const r of records) held.set(r.id, r);
      } else if (held.size > 0) {
        // Remove a random slice of what is held, in a random order of slices.
        const ids = [...held.keys()];
        const start = randomInt(random, 0, ids.length - 1);
        const gone = ids.slice(start, start + randomInt(random, 1, 300));
        log.remove(gone);
        for (const id of gone) held.delete(id);
      }
      const exact = sum([...held.values()]);
      // Sizes are 1–7: each record assumed of average size is off by at most 6.
      assert.ok(
        Math.abs(log.bytes - exact) <= 6 * held.size + 1e-6,
        `seed ${seed} step ${step}: ${log.bytes} vs ${exact}`,
      );
      assert.equal(log.held, held.size, `seed ${seed} step ${step}: held`);
    }
    assert.deepEqual(log.live().map((r) => r.id), [...held.keys()]);
    assert.equal(log.bytes, sum([...held.values()]), "exact once resolved");
  }
});

Deno.test("RecordLog counts bytes with the given size function", () => {
  const log = new RecordLog((r) => 100 + r.id.length);
  log.append([record(1), record(2), record(3)]);
  assert.equal(log.bytes, 3 * 103);
  log.remove(["r-1", "r-404"]);
  // An unknown id counts as removed until resolved; live() resolves.
  assert.deepEqual(log.live().map((r) => r.id), ["r-2", "r-3"]);
  assert.equal(log.bytes, 2 * 103);
  assert.equal(log.held, 2);
});

Deno.test("RecordLog.dedupe() keeps one record per id where it was first appended, with the last fields", () => {
  const log = new RecordLog();
  log.append([record(1), record(2, 4, 0), record(3)]);
  log.append([record(2, 9, 1), record(4)]);
  log.dedupe();
  const live = log.live();
  assert.deepEqual(live.map((r) => r.id), ["r-1", "r-2", "r-3", "r-4"]);
  assert.deepEqual(live[1]!.data, new Uint8Array(9).fill(1));
  assert.equal(log.bytes, sum(live));
  log.remove(["r-2"]);
  assert.deepEqual(log.live().map((r) => r.id), ["r-1", "r-3", "r-4"]);
});
