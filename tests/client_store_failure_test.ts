// The Client over a store that fails: one that cannot open, and FileStorage on a disk that
// fills up while events are tracked (a real tmpfs, see _full_disk.ts). Failures are reported at
// once, nothing is stranded or miscounted, flush() and close() answer with the cause, and
// delivery resumes by itself when the store recovers.
import assert from "node:assert/strict";
import { Client } from "../src/client.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import type { IdemtrackError } from "../src/errors/idemtrack_error.ts";
import { isStorageError } from "../src/errors/storage_error.ts";
import { startJsonServer } from "./_json_server.ts";
import { waitFor } from "./_helpers.ts";
import { fill, tinyDisk } from "./_full_disk.ts";

/** Resolves with `promise`'s value, or rejects if it takes longer than `ms`. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

Deno.test("a store that cannot open is reported at once, and flush() and close() answer with its cause", async () => {
  const dir = await Deno.makeTempDir();
  const server = await startJsonServer();
  try {
    await Deno.writeTextFile(`${dir}/not-a-folder`, "");
    const errors: IdemtrackError[] = [];
    const client = new Client({
      endpoint: server.url,
      storage: new FileStorage(`${dir}/not-a-folder/queue.log`),
      flushAt: 1000,
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 10; i++) client.track("unstored", { i }, { userId: "u1" });
    await waitFor(() => errors.length > 0, "the open failure to be reported", 2000);
    assert.ok(isStorageError(errors[0]), String(errors[0]));
    assert.match(errors[0]!.message, /not-a-folder/);

    const result = await within(2000, "flush()", client.flush());
    assert.equal(result.status, "fail");
    assert.equal(result.failure, 10);
    assert.equal(result.failedRecords[0]!.code, "storage");
    assert.match(result.failedRecords[0]!.error, /not-a-folder/);

    const summary = await within(2000, "close()", client.close());
    assert.deepEqual({ ...summary }, {
      delivered: 0,
      duplicates: 0,
      failed: 10,
      dropped: 0,
      pending: 0,
    });
    const messages = errors.map((error) => error.message).join("\n");
    assert.doesNotMatch(messages, /timed out|kept by/);
    assert.equal(server.requests.length, 0);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStorage filling its disk under the Client: reported at once, counted right, flush() answers with the cause, and delivery resumes by itself once there is space", async () => {
  await using disk = await tinyDisk(1024 * 1024);
  if (disk === undefined) return;
  const server = await startJsonServer();
  const errors: IdemtrackError[] = [];
  const client = new Client({
    endpoint: server.url,
    storage: new FileStorage(`${disk.dir}/queue.log`),
    flushAt: 100,
    onError: (error) => errors.push(error),
  });
  try {
    client.track("first", {}, { userId: "u1" });
    assert.equal((await client.flush()).success, 1);
    const filler = await fill(disk.dir);

    const total = 3000;
    for (let i = 0; i < total; i++) client.track("on_full_disk", { i }, { userId: "u1" });
    await waitFor(() => errors.some(isStorageError), "the write failure to be reported", 3000);
    assert.match(errors.find(isStorageError)!.message, /No space left|ENOSPC/);

    const stats = client.stats();
    assert.equal(stats.delivered + stats.queued + stats.inFlight, total + 1, JSON.stringify(stats));

    const result = await within(10_000, "flush() on a failing store", client.flush());
    assert.notEqual(result.status, "success");
    const blocked = result.failedRecords.filter((record) => record.code === "storage");
    assert.ok(blocked.length > 0, JSON.stringify(result.failedRecords.slice(0, 2)));
    assert.match(blocked[0]!.error, /No space left|ENOSPC/);
    // Not failed for good: still held, and counted so.
    const after = client.stats();
    assert.equal(after.failed, 0);
    assert.equal(after.delivered + after.queued + after.inFlight, total + 1);

    // Space comes back: with no call from us, everything is delivered, once.
    await Deno.remove(filler);
    await waitFor(() => client.stats().delivered === total + 1, "the resumed delivery", 30_000);
    const done = client.stats();
    assert.equal(done.queued + done.inFlight, 0);
    assert.equal(server.accepted.length, total + 1);
    assert.equal(new Set(server.accepted.map((event) => event.idempotency_key)).size, total + 1);
    const summary = await within(10_000, "close()", client.close());
    assert.equal(summary.pending, 0);
  } finally {
    await client.close({ timeoutMs: 1000 });
    await server.close();
  }
});
