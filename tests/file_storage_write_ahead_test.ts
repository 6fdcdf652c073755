// saveBatch() writes the batch and its records ahead of the rest of the backlog. These tests check
// that every state a crash can leave in the file is consistent: a batch is never on disk without
// its records, records keep their append order, a settle or removal is never undone, and once
// everything is written the store holds what the ops, applied in push order, describe.
import assert from "node:assert/strict";
import type { Clock } from "../src/ports/clock.ts";
import type { JsonValue } from "../src/event.ts";
import type { StorageOp } from "../src/drivers/storage/_ops.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import type { QueuedRecord, StorageSnapshot, StoredBatch } from "../src/ports/storage.ts";
import { makeRecord } from "./_storage_conformance.ts";
import { seededRandom } from "./_random.ts";
import { MapModel } from "./_map_model.ts";

const CHILD = new URL("./_file_storage_child.ts", import.meta.url).pathname;

async function tempDir(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-ahead-" });
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** Opens a copy of `bytes` as a store (what a new process would see) and returns its snapshot. */
async function openImage(dir: string, name: string, bytes: Uint8Array): Promise<StorageSnapshot> {
  const path = `${dir}/${name}.log`;
  await Deno.writeFile(path, bytes);
  // Not compacted on open: the images are thrown away.
  const storage = new FileStorage(path, { compactMinBytes: 2 ** 40 });
  try {
    return await storage.open();
  } finally {
    await storage.close();
  }
}

/** A clock whose timers fire only when the test says so. */
function manualClock(): Clock & { fire(): void } {
  const timers = new Map<number, () => void>();
  let next = 0;
  return {
    now: () => 0,
    setTimeout: (callback) => {
      timers.set(++next, callback);
      return next;
    },
    clearTimeout: (id) => void timers.delete(id as number),
    fire() {
      const due = [...timers.values()];
      timers.clear();
      for (const callback of due) callback();
    },
  };
}

Deno.test("a process killed right after saveBatch() resolved reopens with the batch and its records, not the unwritten backlog", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/queue.log`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, "burst", path, "20000", "100"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  try {
    const { value } = await reader.read();
    assert.equal(new TextDecoder().decode(value).trim(), "saved");
  } finally {
    child.kill("SIGKILL");
    reader.releaseLock();
    await child.stdout.cancel();
    await child.status;
  }
  // 20 000 records of 320 B would be over 6 MB: only the batch's part reached the disk.
  assert.ok((await Deno.stat(path)).size < 100 * 1024, "the backlog was not written first");
  const storage = new FileStorage(path);
  const snapshot = await storage.open();
  const expected = Array.from({ length: 100 }, (_, i) => makeRecord(i));
  assert.deepEqual(snapshot.records, expected);
  assert.deepEqual(snapshot.batches, [{
    id: "batch-1",
    stream: "",
    recordIds: expected.map((record) => record.id),
    attempt: 0,
    createdAt: 1,
  }]);
  assert.deepEqual(snapshot.skipped, { entries: 0, bytes: 0 });
  await storage.close();
});

Deno.test("a batch cut off at any byte of its write-ahead entries is never reopened without its records", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/queue.log`;
  const clock = manualClock();
  const storage = new FileStorage(path, { durability: "interval", clock });
  await storage.open();
  const start = (await Deno.stat(path)).size;
  // Two streams: the batch of stream "b" needs records appended after records of stream "a",
  // which go first with them to keep the append order.
  const records = Array.from({ length: 40 }, (_, i) => makeRecord(i, 24, i % 4 === 3 ? "b" : "a"));
  storage.append(records);
  const batch = {
    id: "batch-b",
    stream: "b",
    recordIds: ["rec-3", "rec-7"],
    attempt: 0,
    createdAt: 2,
  };
  await storage.saveBatch(batch);
  const image = await Deno.readFile(path);
  await storage.close();
  const prefix = records.slice(0, 8).map((record) => record.id);
  let sawBatch = false;
  for (let cut = start; cut <= image.length; cut++) {
    const snapshot = await openImage(tmp.dir, `cut-${cut}`, image.subarray(0, cut));
    const ids = snapshot.records.map((record) => record.id);
    assert.deepEqual(ids, prefix.slice(0, ids.length), `cut ${cut}: a prefix in append order`);
    if (snapshot.batches.length > 0) {
      sawBatch = true;
      assert.deepEqual(snapshot.batches, [batch], `cut ${cut}`);
      assert.deepEqual(ids, prefix, `cut ${cut}: the batch comes with every record before it`);
    }
  }
  assert.ok(sawBatch, "the full write-ahead holds the batch");
});

/** What one key looked like after each op touching it (JSON; `undefined`: absent). */
type History = Map<string, Array<string | undefined>>;

function keysOf(op: StorageOp): string[] {
  switch (op.type) {
    case "append":
      return op.records.map((record) => `r:${record.id}`);
    case "saveBatch":
      return [`b:${op.batch.id}`];
    case "settleBatch":
      return [`b:${op.batchId}`, ...op.removedRecordIds.map((id) => `r:${id}`)];
    case "remove":
      return op.recordIds.map((id) => `r:${id}`);
    case "setValue":
      return [`v:${op.key}`];
  }
}

interface LiveView {
  records: ReadonlyMap<string, QueuedRecord>;
  batches: ReadonlyMap<string, StoredBatch>;
  values: ReadonlyMap<string, JsonValue>;
}

/** One key's state, canonical (field order does not matter), `undefined` when absent. */
function stateOf(live: LiveView, key: string): string | undefined {
  const id = key.slice(2);
  switch (key[0]) {
    case "r": {
      const r = live.records.get(id);
      return r && JSON.stringify([r.id, r.key, r.group, r.stream, r.queuedAt, Array.from(r.data)]);
    }
    case "b": {
      const b = live.batches.get(id);
      return b && JSON.stringify([b.id, b.stream, b.recordIds, b.attempt, b.createdAt]);
    }
    default: {
      const value = live.values.get(id);
      return value === undefined ? undefined : JSON.stringify(value);
    }
  }
}

Deno.test("random ops under write-ahead: every crash point is a per-key prefix of the history, never going back, and the end state matches", async () => {
  await using tmp = await tempDir();
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 100_000);
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const path = `${tmp.dir}/queue.log`;
  const clock = manualClock();
  // Never compacted, so the final file holds every byte ever written, in write order.
  const storage = new FileStorage(path, {
    durability: "interval",
    clock,
    compactMinBytes: 2 ** 40,
  });
  await storage.open();
  const model = new MapModel();
  const history: History = new Map();
  const pushed: StorageOp[] = [];
  const apply = (op: StorageOp) => {
    pushed.push(op);
    model.apply(op);
    for (const key of keysOf(op)) {
      if (!history.has(key)) history.set(key, [undefined]);
      history.get(key)!.push(stateOf(model, key));
    }
  };
  const inBatch = new Set<string>();
  let nextRecord = 0;
  let nextBatch = 0;
  for (let step = 0; step < 400; step++) {
    const roll = random();
    if (roll < 0.3) {
      const count = 1 + pick(roll < 0.02 ? 5000 : 30);
      const records = Array.from(
        { length: count },
        () => makeRecord(nextRecord++, 8 + pick(40), pick(3) === 0 ? "b" : "a"),
      );
      storage.append(records);
      apply({ type: "append", records });
    } else if (roll < 0.55) {
      const free = [...model.records.keys()].filter((id) => !inBatch.has(id));
      if (free.length === 0) continue;
      const start = pick(free.length);
      const recordIds = free.slice(start, start + 1 + pick(20));
      for (const id of recordIds) inBatch.add(id);
      const batch = { id: `b-${nextBatch++}`, stream: "", recordIds, attempt: 0, createdAt: step };
      const saved = storage.saveBatch(batch);
      apply({ type: "saveBatch", batch });
      if (random() < 0.7) await saved;
    } else if (roll < 0.75) {
      const batches = [...model.batches.values()];
      if (batches.length === 0) continue;
      const batch = batches[pick(batches.length)]!;
      const removedRecordIds = batch.recordIds.filter(() => random() < 0.8);
      for (const id of batch.recordIds) inBatch.delete(id);
      storage.settleBatch(batch.id, removedRecordIds);
      apply({ type: "settleBatch", batchId: batch.id, removedRecordIds });
    } else if (roll < 0.85) {
      const free = [...model.records.keys()].filter((id) => !inBatch.has(id));
      const recordIds = free.filter(() => random() < 0.1);
      storage.remove(recordIds);
      apply({ type: "remove", recordIds });
    } else if (roll < 0.95) {
      const key = `k${pick(4)}`;
      const value = random() < 0.2 ? undefined : step;
      storage.setValue(key, value);
      apply({ type: "setValue", key, value });
    } else {
      clock.fire();
    }
  }
  await storage.close();
  const image = await Deno.readFile(path);

  // Frame boundaries of the final file: every state a crash between two writes could leave.
  const view = new DataView(image.buffer);
  const cuts: number[] = [];
  for (let pos = 8; pos < image.length; pos += 8 + view.getUint32(pos, true)) cuts.push(pos);
  cuts.push(image.length);
  const appendOrder = new Map<string, number>();
  for (const op of pushed) {
    if (op.type === "append") {
      for (const r of op.records) appendOrder.set(r.id, appendOrder.size);
    }
  }
  const reached = new Map<string, number>();
  let last: StorageSnapshot | undefined;
  for (
    const cut of cuts.filter((_, i) =>
      i % Math.ceil(cuts.length / 60) === 0 || i === cuts.length - 1
    )
  ) {
    const snapshot = await openImage(tmp.dir, `cut-${cut}`, image.subarray(0, cut));
    last = snapshot;
    const live = {
      records: new Map(snapshot.records.map((r) => [r.id, r])),
      batches: new Map(snapshot.batches.map((b) => [b.id, b])),
      values: snapshot.values,
    };
    for (const [key, states] of history) {
      const state = stateOf(live, key);
      const from = reached.get(key) ?? 0;
      const at = states.indexOf(state, from);
      assert.ok(
        at >= 0,
        `seed ${seed}, cut ${cut}: ${key} is ${state}, not a state it had (from ${from})`,
      );
      reached.set(key, at);
    }
    for (const batch of snapshot.batches) {
      for (const id of batch.recordIds) {
        // A member may be gone only through a remove/settle that is on disk.
        if (!live.records.has(id)) {
          assert.ok(
            reached.get(`r:${id}`)! > 1,
            `seed ${seed}, cut ${cut}: ${batch.id} without ${id}`,
          );
        }
      }
    }
    const order = snapshot.records.map((r) => appendOrder.get(r.id)!);
    assert.deepEqual(
      order,
      order.toSorted((a, b) => a - b),
      `seed ${seed}, cut ${cut}: append order`,
    );
  }
  // Compared key by key: a diff of thousands of records would take node:assert minutes to print.
  const final = {
    records: new Map(last!.records.map((r) => [r.id, r])),
    batches: new Map(last!.batches.map((b) => [b.id, b])),
    values: last!.values,
  };
  for (const key of history.keys()) {
    assert.equal(stateOf(final, key), stateOf(model, key), `seed ${seed}: final state of ${key}`);
  }
  assert.equal(
    last!.records.map((r) => r.id).join(),
    [...model.records.keys()].join(),
    `seed ${seed}: final records in append order`,
  );
});

Deno.test("compaction waits while a backlog is pending and runs once it is written", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/queue.log`;
  const clock = manualClock();
  const storage = new FileStorage(path, {
    durability: "interval",
    clock,
    compactMinBytes: 64 * 1024,
  });
  await storage.open();
  const opened = storage.compactions;
  const first = Array.from({ length: 400 }, (_, i) => makeRecord(i, 300));
  storage.append(first);
  await storage.sync();
  // A backlog appended, then 90 % of the written records delivered: the log is mostly dead.
  const backlog = Array.from({ length: 300 }, (_, i) => makeRecord(400 + i, 300));
  storage.append(backlog);
  const delivered = first.slice(0, 360).map((record) => record.id);
  const batch = { id: "b-1", stream: "", recordIds: delivered, attempt: 0, createdAt: 1 };
  await storage.saveBatch(batch);
  storage.settleBatch("b-1", delivered);
  await storage.saveBatch({ ...batch, id: "b-2", recordIds: ["rec-360"] });
  assert.equal(storage.compactions, opened, "not compacted while the backlog is pending");
  await storage.sync();
  assert.equal(storage.compactions, opened + 1, "compacted once the backlog is written");
  await storage.close();
  const reopened = new FileStorage(path);
  const snapshot = await reopened.open();
  assert.deepEqual(snapshot.records, [...first.slice(360), ...backlog]);
  await reopened.close();
});

Deno.test("a backlog that never drains still lets the log compact once it is 4× the live state", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/queue.log`;
  const clock = manualClock();
  const storage = new FileStorage(path, {
    durability: "interval",
    clock,
    compactMinBytes: 16 * 1024,
  });
  await storage.open();
  const opened = storage.compactions;
  let next = 0;
  // Each round: 100 records written ahead with their batch and delivered, while 10 more wait.
  for (let round = 0; round < 40; round++) {
    const records = Array.from({ length: 110 }, () => makeRecord(next++, 200));
    storage.append(records);
    const ids = records.slice(0, 100).map((record) => record.id);
    await storage.saveBatch({
      id: `b-${round}`,
      stream: "",
      recordIds: ids,
      attempt: 0,
      createdAt: 1,
    });
    storage.settleBatch(`b-${round}`, ids);
  }
  assert.ok(storage.compactions > opened, "compacted despite the pending backlog");
  // A record takes ~260 B in the log: at most 4× the 400 kept, plus one round's write.
  const bound = 4 * 400 * 260 + 110 * 260 + 4000;
  assert.ok(storage.fileBytes <= bound, `log of ${storage.fileBytes} B over ${bound} B`);
  await storage.close();
  const reopened = new FileStorage(path);
  const snapshot = await reopened.open();
  assert.equal(snapshot.records.length, 40 * 10);
  assert.deepEqual(snapshot.batches, []);
  await reopened.close();
});
