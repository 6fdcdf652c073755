// Storage drivers when the store fails: a real full disk (a tiny tmpfs, mounted for the test:
// needs root, as on CI), a store that cannot open, locks left by dead processes whose pid
// lives on in another process (or in this one).
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import { DenoKvStorage } from "../src/drivers/storage/deno_kv_storage.ts";
import { StorageError } from "../src/errors/storage_error.ts";
import type { QueuedRecord } from "../src/ports/storage.ts";
import { waitFor } from "./_helpers.ts";
import { fill, tinyDisk } from "./_full_disk.ts";

const isStorageError = (error: unknown): error is StorageError => error instanceof StorageError;

function record(i: number, bytes = 1000): QueuedRecord {
  return {
    id: `rec-${i}`,
    key: `evt-${i}`,
    group: "track",
    stream: "",
    data: new TextEncoder().encode(JSON.stringify({ i, pad: "x".repeat(bytes) })),
    queuedAt: 1_700_000_000_000 + i,
  };
}

Deno.test("FileStorage on a full disk: sync() and saveBatch() reject with a StorageError, writes are kept and retried, and it catches up by itself once there is space", async () => {
  await using disk = await tinyDisk(512 * 1024);
  if (disk === undefined) return;
  const path = `${disk.dir}/queue.log`;
  const storage = new FileStorage(path, { durability: "everyWrite" });
  await storage.open();
  const filler = await fill(disk.dir);

  const records = Array.from({ length: 300 }, (_, i) => record(i));
  storage.append(records);
  await assert.rejects(storage.sync(), (error) => {
    assert.ok(isStorageError(error));
    assert.match(error.message, /cannot write .*queue\.log.*(ENOSPC|No space left)/);
    return true;
  });
  await assert.rejects(
    storage.saveBatch({
      id: "batch-1",
      stream: "",
      recordIds: ["rec-0", "rec-1"],
      attempt: 0,
      createdAt: 0,
    }),
    isStorageError,
  );
  // Still failing: the retries run by themselves and keep failing.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await assert.rejects(storage.sync(), isStorageError);

  // Space comes back: with no call from us, the pending writes reach the file.
  await Deno.remove(filler);
  const everything = 300 * 1000;
  await waitFor(() => Deno.statSync(path).size > everything, "the retried writes", 15_000);
  await storage.sync();
  storage.settleBatch("batch-1", ["rec-0"]);
  await storage.close();

  const reopened = new FileStorage(path);
  const snapshot = await reopened.open();
  assert.equal(snapshot.records.length, 299);
  assert.deepEqual(snapshot.batches, []);
  assert.deepEqual(snapshot.skipped, { entries: 0, bytes: 0 });
  await reopened.close();
});

Deno.test("FileStorage.open() on a path it cannot write rejects at once with a StorageError naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/not-a-folder`, "");
    const storage = new FileStorage(`${dir}/not-a-folder/queue.log`);
    await assert.rejects(storage.open(), (error) => {
      assert.ok(isStorageError(error));
      assert.match(error.message, /not-a-folder/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DenoKvStorage.open() without --unstable-kv rejects at once with a StorageError saying what to do", async () => {
  const source = `
    import { DenoKvStorage } from ${
    JSON.stringify(import.meta.resolve("../src/drivers/storage/deno_kv_storage.ts"))
  };
    try {
      await new DenoKvStorage({ path: ":memory:" }).open();
      console.log("opened");
    } catch (error) {
      console.log(error.name + ": " + error.message);
    }
  `;
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", source],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.match(
    new TextDecoder().decode(stdout),
    /^StorageError: .*Deno KV is unavailable; run Deno with --unstable-kv/,
  );
  // With KV available it opens (the same code, this process).
  const storage = new DenoKvStorage({ path: ":memory:" });
  await storage.open();
  await storage.close();
});

/** A lock file as a dead owner left it. */
async function staleLock(path: string, owner: Record<string, unknown> | number): Promise<void> {
  await Deno.writeTextFile(
    `${path}.lock`,
    typeof owner === "number" ? `${owner}\n` : JSON.stringify(owner),
  );
}

Deno.test("a lock left by an earlier process with this process's pid (a container's pid 1) is taken over", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/queue.log`;
    // The lock format of earlier versions: a bare pid, ours.
    await staleLock(path, Deno.pid);
    const storage = new FileStorage(path);
    await storage.open();
    await storage.close();
    // The current format, written by an earlier life of this pid (another token).
    await staleLock(path, { pid: Deno.pid, host: hostname(), token: "an-earlier-life" });
    const again = new FileStorage(path);
    await again.open();
    // …while a second store in this process is still refused.
    await assert.rejects(new FileStorage(path).open(), (error) => {
      assert.ok(isStorageError(error));
      assert.match(error.message, /locked by process \d+ \(this process/);
      return true;
    });
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock whose pid now belongs to another process (pid reused) is taken over", async () => {
  const dir = await Deno.makeTempDir();
  const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const path = `${dir}/queue.log`;
    const stat = await Deno.readTextFile(`/proc/${other.pid}/stat`);
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    // The owner was the same pid started at another time: a dead process's pid reused.
    await staleLock(path, { pid: other.pid, start: String(Number(start) - 1), host: hostname() });
    const storage = new FileStorage(path);
    await storage.open();
    await storage.close();
    // The same pid with its real start time is the live owner: refused.
    await staleLock(path, { pid: other.pid, start, host: hostname() });
    await assert.rejects(new FileStorage(path).open(), (error) => {
      assert.ok(isStorageError(error));
      assert.match(error.message, new RegExp(`locked by process ${other.pid} \\(lock file`));
      return true;
    });
  } finally {
    other.kill("SIGKILL");
    await other.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock from another host is refused with a message saying how to take it over", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/queue.log`;
    await staleLock(path, { pid: 4242, host: "elsewhere", token: "t" });
    await assert.rejects(new FileStorage(path).open(), (error) => {
      assert.ok(isStorageError(error));
      assert.match(
        error.message,
        /locked by process 4242 on host 'elsewhere'.*delete the lock file/,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
