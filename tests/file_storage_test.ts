import assert from "node:assert/strict";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import { isStorageError } from "../src/errors/storage_error.ts";
import type { Clock } from "../src/ports/clock.ts";
import type { QueuedRecord } from "../src/ports/storage.ts";
import { makeRecord } from "./_storage_conformance.ts";

const CHILD = new URL("./_file_storage_child.ts", import.meta.url).pathname;
const DENO = Deno.execPath();

async function tempStore(): Promise<{ dir: string; path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-file-" });
  return {
    dir,
    path: `${dir}/queue.log`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function sizeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).size;
}

function ids(records: readonly QueuedRecord[]): string[] {
  return records.map((record) => record.id);
}

/** Writes records one frame each and returns the file size after each one. */
async function writeFrames(path: string, records: QueuedRecord[]): Promise<number[]> {
  const storage = new FileStorage(path, { durability: "everyWrite" });
  await storage.open();
  const ends = [await sizeOf(path)];
  for (const record of records) {
    storage.append([record]);
    await storage.sync();
    ends.push(await sizeOf(path));
  }
  await storage.close();
  return ends;
}

Deno.test("a torn last entry, cut at every byte, is skipped and everything before it is kept", async () => {
  await using store = await tempStore();
  const records = [makeRecord(1, 40), makeRecord(2, 40), makeRecord(3, 40)];
  const ends = await writeFrames(store.path, records);
  const full = await Deno.readFile(store.path);
  const lastStart = ends[2]!;
  assert.equal(full.length, ends[3]);
  for (let cut = lastStart; cut < full.length; cut++) {
    const path = `${store.dir}/torn-${cut}.log`;
    await Deno.writeFile(path, full.subarray(0, cut));
    const storage = new FileStorage(path);
    const snapshot = await storage.open();
    assert.deepEqual(ids(snapshot.records), ["rec-1", "rec-2"], `cut at ${cut}`);
    const torn = cut - lastStart;
    assert.deepEqual(snapshot.skipped, { entries: torn > 0 ? 1 : 0, bytes: torn }, `cut at ${cut}`);
    // The store keeps working: new entries do not follow the torn one.
    storage.append([makeRecord(4, 10)]);
    await storage.close();
    const again = new FileStorage(path);
    const reopened = await again.open();
    assert.deepEqual(ids(reopened.records), ["rec-1", "rec-2", "rec-4"], `reopen after cut ${cut}`);
    assert.deepEqual(reopened.skipped, { entries: 0, bytes: 0 });
    await again.close();
  }
});

Deno.test("garbage bytes overwriting one entry in the middle lose only that entry", async () => {
  await using store = await tempStore();
  const records = Array.from({ length: 10 }, (_, i) => makeRecord(i, 60));
  const ends = await writeFrames(store.path, records);
  const bytes = await Deno.readFile(store.path);
  const [start, end] = [ends[5]!, ends[6]!]; // the frame of rec-5
  for (let i = start + 3; i < end - 3; i++) bytes[i] = (i * 131) & 0xff;
  await Deno.writeFile(store.path, bytes);
  const storage = new FileStorage(store.path);
  const snapshot = await storage.open();
  assert.deepEqual(ids(snapshot.records), ids(records.filter((_, i) => i !== 5)));
  assert.deepEqual(snapshot.skipped, { entries: 1, bytes: end - start });
  await storage.close();
});

Deno.test("garbage bytes inserted between entries are skipped and every entry is kept", async () => {
  await using store = await tempStore();
  const records = Array.from({ length: 6 }, (_, i) => makeRecord(i, 60));
  const ends = await writeFrames(store.path, records);
  const bytes = await Deno.readFile(store.path);
  const garbage = new Uint8Array(777);
  crypto.getRandomValues(garbage);
  // A fake length pointing past the end of the file, then zeros, then random bytes.
  new DataView(garbage.buffer).setUint32(0, 0x7fffffff, true);
  garbage.fill(0, 4, 100);
  const corrupt = new Uint8Array([
    ...bytes.subarray(0, ends[3]!),
    ...garbage,
    ...bytes.subarray(ends[3]!),
  ]);
  await Deno.writeFile(store.path, corrupt);
  const storage = new FileStorage(store.path);
  const snapshot = await storage.open();
  assert.deepEqual(ids(snapshot.records), ids(records));
  assert.deepEqual(snapshot.skipped, { entries: 1, bytes: 777 });
  await storage.close();
  const clean = new FileStorage(store.path);
  assert.deepEqual((await clean.open()).skipped, { entries: 0, bytes: 0 });
  await clean.close();
});

Deno.test("a file that is not a store is refused with a StorageError, not overwritten", async () => {
  await using store = await tempStore();
  const foreign = new TextEncoder().encode("my precious notes, not a queue\n".repeat(20));
  await Deno.writeFile(store.path, foreign);
  const storage = new FileStorage(store.path);
  await assert.rejects(storage.open(), (error) => {
    assert.ok(isStorageError(error));
    assert.match(error.message, /not an idemtrack store/);
    return true;
  });
  assert.deepEqual(await Deno.readFile(store.path), foreign);
  // The failed open released its lock.
  await assert.rejects(Deno.stat(`${store.path}.lock`), Deno.errors.NotFound);
});

Deno.test("a second open of a store held by a live process fails; after that process is killed the lock is taken over", async () => {
  await using store = await tempStore();
  const child = new Deno.Command(DENO, {
    args: ["run", "--allow-all", CHILD, "hold", store.path],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.equal(new TextDecoder().decode(value).trim(), "open");
    reader.releaseLock();

    const second = new FileStorage(store.path);
    await assert.rejects(second.open(), (error) => {
      assert.ok(isStorageError(error));
      assert.match(error.message, new RegExp(`locked by process ${child.pid}\\b`));
      return true;
    });
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    await child.stdin.close().catch(() => {});
  }
  // The killed child left its lock behind: it is stale now.
  assert.equal(JSON.parse(await Deno.readTextFile(`${store.path}.lock`)).pid, child.pid);
  const third = new FileStorage(store.path);
  await third.open();
  assert.equal(JSON.parse(await Deno.readTextFile(`${store.path}.lock`)).pid, Deno.pid);
  await third.close();
  await assert.rejects(Deno.stat(`${store.path}.lock`), Deno.errors.NotFound);
});

Deno.test("a second FileStorage on the same path in the same process gets a StorageError", async () => {
  await using store = await tempStore();
  const first = new FileStorage(store.path);
  await first.open();
  first.append([makeRecord(1)]);
  await assert.rejects(new FileStorage(store.path).open(), isStorageError);
  await first.close();
  const reopened = new FileStorage(store.path);
  assert.deepEqual(ids((await reopened.open()).records), ["rec-1"]);
  await reopened.close();
});

Deno.test("a stale lock left by a dead process is taken over", async () => {
  await using store = await tempStore();
  const exited = new Deno.Command("true").spawn();
  await exited.status;
  await Deno.writeTextFile(`${store.path}.lock`, `${exited.pid}\n`);
  const storage = new FileStorage(store.path);
  await storage.open();
  assert.equal(JSON.parse(await Deno.readTextFile(`${store.path}.lock`)).pid, Deno.pid);
  await storage.close();
});

Deno.test("compaction keeps the live state and shrinks the file", async () => {
  await using store = await tempStore();
  const storage = new FileStorage(store.path, {
    durability: "everyWrite",
    compactMinBytes: 16 * 1024,
  });
  await storage.open();
  const all = Array.from({ length: 400 }, (_, i) => makeRecord(i, 200));
  for (const record of all) storage.append([record]);
  storage.setValue("nr", 400);
  await storage.sync();
  const before = await sizeOf(store.path);
  assert.ok(before > 400 * 200, `log holds every record: ${before}`);
  const kept = all.filter((_, i) => i % 10 === 0);
  const delivered = ids(all.filter((_, i) => i % 10 !== 0));
  await storage.saveBatch({
    id: "b-1",
    stream: "",
    recordIds: delivered,
    attempt: 1,
    createdAt: 5,
  });
  storage.settleBatch("b-1", delivered);
  await storage.saveBatch({
    id: "b-2",
    stream: "",
    recordIds: ["rec-0"],
    attempt: 0,
    createdAt: 6,
  });
  await storage.sync();
  assert.ok(storage.compactions >= 1, "compacted");
  const after = await sizeOf(store.path);
  assert.equal(after, storage.fileBytes);
  assert.ok(after < before / 5, `file shrank from ${before} to ${after}`);
  await storage.close();
  await assert.rejects(Deno.stat(`${store.path}.compact`), Deno.errors.NotFound);

  const reopened = new FileStorage(store.path);
  const snapshot = await reopened.open();
  assert.deepEqual(snapshot.records, kept);
  assert.deepEqual(ids(snapshot.records), ids(kept));
  assert.deepEqual(snapshot.batches, [
    { id: "b-2", stream: "", recordIds: ["rec-0"], attempt: 0, createdAt: 6 },
  ]);
  assert.equal(snapshot.values.get("nr"), 400);
  await reopened.close();
});

Deno.test("interval durability writes pending changes when its timer fires, without sync()", async () => {
  await using store = await tempStore();
  const timers: Array<{ callback: () => void; delayMs: number } | undefined> = [];
  const clock: Clock = {
    now: () => 0,
    setTimeout: (callback, delayMs) => timers.push({ callback, delayMs }) - 1,
    clearTimeout: (id) => {
      timers[id as number] = undefined;
    },
  };
  const storage = new FileStorage(store.path, {
    durability: "interval",
    syncIntervalMs: 250,
    clock,
  });
  await storage.open();
  const empty = await sizeOf(store.path);
  storage.append([makeRecord(1)]);
  storage.append([makeRecord(2)]);
  const armed = timers.filter((timer) => timer !== undefined);
  assert.equal(armed.length, 1, "one timer for both appends");
  assert.equal(armed[0]!.delayMs, 250);
  assert.equal(await sizeOf(store.path), empty, "nothing written before the timer");
  armed[0]!.callback();
  // The write is asynchronous: wait for it without sync() (which would force it).
  for (let i = 0; i < 200 && (await sizeOf(store.path)) === empty; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok((await sizeOf(store.path)) > empty + 2 * 320, "both records written by the timer");
  await storage.close();
});

Deno.test("bad options throw std-style TypeError and RangeError", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new FileStorage("/tmp/x", { durability: "sometimes" as any }),
    new TypeError(
      `Cannot open FileStorage as 'durability' must be one of "everyWrite", "interval", "none": current value is "sometimes"`,
    ),
  );
  assert.throws(
    () => new FileStorage("/tmp/x", { syncIntervalMs: -1 }),
    /^RangeError: Cannot open FileStorage as 'syncIntervalMs' must be a number from 0 to \d+: current value is -1$/,
  );
  assert.throws(() => new FileStorage("/tmp/x", { compactDeadRatio: 2 }), RangeError);
  assert.throws(() => new FileStorage(""), TypeError);
});

Deno.test("writes before open() or after close() throw a StorageError", async () => {
  await using store = await tempStore();
  const storage = new FileStorage(store.path);
  assert.throws(() => storage.append([makeRecord(1)]), isStorageError);
  await storage.open();
  await storage.close();
  assert.throws(() => storage.setValue("k", 1), isStorageError);
  await assert.rejects(storage.open(), isStorageError);
});

async function killWhileWriting(
  path: string,
  durability: string,
  syncEvery: number,
  minSynced: number,
): Promise<number> {
  const child = new Deno.Command(DENO, {
    args: ["run", "--allow-all", CHILD, "write", path, durability, String(syncEvery)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let lastSynced = -1;
  let buffered = "";
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  // Kill at a moment that varies from run to run, once enough was synced.
  const killAfter = minSynced + Math.floor(Math.random() * minSynced);
  try {
    while (lastSynced < killAfter) {
      const { value, done } = await reader.read();
      if (done) throw new Error("child exited before it was killed");
      buffered += decoder.decode(value, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) lastSynced = Number(line);
    }
  } finally {
    child.kill("SIGKILL");
    // Lines already printed count too: their sync() had resolved.
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
    }
    for (const line of buffered.split("\n")) if (line !== "") lastSynced = Number(line);
    await child.status;
  }
  return lastSynced;
}

for (const [durability, syncEvery] of [["everyWrite", 1], ["interval", 25]] as const) {
  Deno.test(`kill -9 of a writer with ${durability} durability loses nothing whose sync() resolved`, async () => {
    await using store = await tempStore();
    for (let run = 0; run < 3; run++) {
      const lastSynced = await killWhileWriting(store.path, durability, syncEvery, 150);
      const storage = new FileStorage(store.path);
      const snapshot = await storage.open();
      const indexes = snapshot.records.map((record) => Number(record.id.slice(4)));
      // Every run restarts at 0 with the same ids: the store holds 0..n, in order, each once.
      assert.ok(
        indexes.length > lastSynced,
        `run ${run}: ${indexes.length} records, synced up to ${lastSynced}`,
      );
      assert.deepEqual(indexes, Array.from({ length: indexes.length }, (_, i) => i), `run ${run}`);
      for (const record of snapshot.records) {
        assert.deepEqual(record, makeRecord(Number(record.id.slice(4))));
      }
      await storage.close();
    }
  });
}
