import assert from "node:assert/strict";
import { Client } from "../src/client.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import type { Storage } from "../src/ports/storage.ts";
import type { TransportResponse } from "../src/ports/transport.ts";
import { waitFor } from "./_helpers.ts";

/** A FileStorage (real file) seen through its batch saves: ids as called, and as resolved. */
function observed(file: FileStorage): { storage: Storage; saves: string[]; saved: string[] } {
  const saves: string[] = [];
  const saved: string[] = [];
  const storage: Storage = {
    name: file.name,
    open: () => file.open(),
    append: (records) => file.append(records),
    saveBatch: async (batch) => {
      saves.push(batch.id);
      await file.saveBatch(batch);
      saved.push(batch.id);
    },
    settleBatch: (batchId, removed) => file.settleBatch(batchId, removed),
    remove: (recordIds) => file.remove(recordIds),
    setValue: (key, value) => file.setValue(key, value),
    sync: () => file.sync(),
    close: () => file.close(),
  };
  return { storage, saves, saved };
}

/** Answers each request with a 200 when released, or at once after `releaseAll()`. */
function heldAnswers() {
  const held: (() => void)[] = [];
  let atOnce = false;
  const ok: TransportResponse = { status: 200, headers: new Headers(), body: "{}" };
  return {
    held,
    answer: (): Promise<TransportResponse> =>
      atOnce ? Promise.resolve(ok) : new Promise((resolve) => held.push(() => resolve(ok))),
    releaseAll() {
      atOnce = true;
      for (const release of held.splice(0)) release();
    },
  };
}

Deno.test("with both send slots busy, the next full batch is saved to a file store before a slot frees, and sent as soon as one does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-ahead-" });
  const file = new FileStorage(`${dir}/queue.log`);
  const { storage, saves, saved } = observed(file);
  const requests: { key: string; events: string[] }[] = [];
  const { held, answer, releaseAll } = heldAnswers();
  const client = new Client({
    endpoint: "http://collector.test",
    exitHook: false,
    storage,
    flushAt: 10,
    maxBatchEvents: 10,
    transport: (request) => {
      const { events } = JSON.parse(new TextDecoder().decode(request.body));
      requests.push({
        key: request.headers["x-idempotency-key"]!,
        events: events.map((event: { idempotency_key: string }) => event.idempotency_key),
      });
      return answer();
    },
  });
  const keys: string[] = [];
  for (let i = 0; i < 40; i++) keys.push(client.track("page_viewed", { i }, { userId: "u1" }));

  await waitFor(() => requests.length === 2 && saved.length === 3, "a third batch saved");
  assert.equal(saves.length, 3, "one batch ahead, not more");
  assert.deepEqual(saves.slice(0, 2), requests.map((request) => request.key));
  held.shift()!();
  await waitFor(() => requests.length === 3, "the third batch sent");
  assert.equal(requests[2]!.key, saves[2], "the batch saved ahead, with its stored key");
  assert.deepEqual(requests[2]!.events, keys.slice(20, 30));
  await waitFor(() => saved.length === 4, "the fourth batch saved ahead in turn");

  releaseAll();
  const summary = await client.close();
  assert.equal(summary.delivered, 40);
  assert.deepEqual(requests.map((request) => request.key), saves, "sent in the order saved");
  assert.deepEqual(
    requests.flatMap((request) => request.events),
    keys,
    "each event once, in order",
  );

  const reopened = new FileStorage(`${dir}/queue.log`);
  const snapshot = await reopened.open();
  assert.deepEqual([snapshot.records.length, snapshot.batches.length], [0, 0], "all settled");
  await reopened.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a store in memory (durable at once) gets no batch formed ahead of a free slot", async () => {
  const { held, answer, releaseAll } = heldAnswers();
  const client = new Client({
    endpoint: "http://collector.test",
    exitHook: false,
    flushAt: 10,
    maxBatchEvents: 10,
    transport: answer,
  });
  for (let i = 0; i < 40; i++) client.track("page_viewed", { i }, { userId: "u1" });
  await waitFor(() => held.length === 2, "two requests in flight");
  assert.deepEqual([client.stats().inFlight, client.stats().queued], [20, 20]);
  releaseAll();
  assert.equal((await client.close()).delivered, 40);
});
