import assert from "node:assert/strict";
import { Client, type ClientOptions } from "../src/client.ts";
import { MemoryStorage } from "../src/drivers/storage/memory_storage.ts";
import type { Storage } from "../src/ports/storage.ts";
import type { Transport, TransportRequest } from "../src/ports/transport.ts";
import { carry } from "../src/_util/internal.ts";

const decoder = new TextDecoder();

/**
 * A transport that answers 200 at once and records, for each request, how
 * many events the burst had tracked when it was called, and how many events
 * the body held.
 */
function recordingTransport(progress: { tracked: number }, maxPending?: number) {
  const calls: Array<{ trackedSoFar: number; events: number; key: string }> = [];
  const send = (request: TransportRequest) => {
    const body = JSON.parse(decoder.decode(request.body)) as { events: unknown[] };
    calls.push({
      trackedSoFar: progress.tracked,
      events: body.events.length,
      key: request.headers["x-idempotency-key"]!,
    });
    return Promise.resolve({ status: 200, headers: new Headers(), body: "{}" });
  };
  const transport: Transport = maxPending === undefined ? send : carry(send, { maxPending });
  return { transport, calls };
}

function burst(client: Client, count: number, progress: { tracked: number }): void {
  for (let i = 0; i < count; i++) {
    client.track("row_imported", { i }, { userId: "u1", idempotencyKey: `burst-key-${i}` });
    progress.tracked++;
  }
}

/**
 * A client over a recording transport (queueing with `maxPending`, as
 * `workerTransport()` says it does, or a plain
 * function for `null`), 100 events per request unless the options say
 * otherwise; `progress` counts what `burst` tracked.
 */
function burstSetup(options: Partial<ClientOptions> = {}, maxPending: number | null = 64) {
  const progress = { tracked: 0 };
  const { transport, calls } = recordingTransport(progress, maxPending ?? undefined);
  const client = new Client({
    endpoint: "http://collector.test",
    transport,
    exitHook: false,
    maxBatchEvents: 100,
    ...options,
  });
  return { client, calls, progress };
}

Deno.test("a synchronous burst hands each full batch to a queueing transport before the burst ends", async () => {
  const { client, calls, progress } = burstSetup();
  burst(client, 1000, progress);
  // Nothing has been awaited yet: every call below happened inside track().
  assert.deepEqual(
    calls.map((call) => call.trackedSoFar),
    [99, 199, 299, 399, 499, 599, 699, 799, 899, 999],
  );
  assert.ok(calls.every((call) => call.events === 100));
  const summary = await client.close();
  assert.equal(summary.delivered, 1000);
  assert.equal(calls.length, 10, "the burst's batches were not sent twice");
  assert.equal(new Set(calls.map((call) => call.key)).size, 10);
});

Deno.test("without maxPending, a burst hands over at most `concurrency` batches before it yields", async () => {
  const { client, calls, progress } = burstSetup({ concurrency: 2 }, null);
  burst(client, 1000, progress);
  assert.deepEqual(calls.map((call) => call.trackedSoFar), [99, 199]);
  const summary = await client.close();
  assert.equal(summary.delivered, 1000);
  assert.equal(calls.reduce((sum, call) => sum + call.events, 0), 1000);
  assert.ok(calls.every((call) => call.events <= 100));
});

Deno.test("a burst sends full batches only: the rest waits for the tick, even with flushAt 1", async () => {
  const { client, calls, progress } = burstSetup({ flushAt: 1 });
  burst(client, 250, progress);
  assert.deepEqual(calls.map((call) => call.events), [100, 100]);
  await client.flush();
  assert.deepEqual(calls.map((call) => call.events), [100, 100, 50]);
  await client.close();
});

Deno.test("with flushAt Infinity a burst sends nothing: only flush() and the timer send", async () => {
  const { client, calls, progress } = burstSetup({ flushAt: Infinity, flushIntervalMs: 0 });
  burst(client, 1000, progress);
  assert.equal(calls.length, 0);
  await client.flush();
  assert.equal(calls.length, 10);
  await client.close();
});

Deno.test("a burst also cuts batches by bytes (maxBatchBytes) before it ends", async () => {
  const { client, calls, progress } = burstSetup({ maxBatchBytes: 20_000, maxBatchEvents: 2000 });
  burst(client, 1000, progress);
  assert.ok(calls.length >= 5, `${calls.length} batches handed over during the burst`);
  const summary = await client.close();
  assert.equal(summary.delivered, 1000);
  assert.equal(calls.reduce((sum, call) => sum + call.events, 0), 1000);
});

/** A storage driver over `memory`, with some methods replaced. */
function over(memory: MemoryStorage, replaced: Partial<Storage>): Storage {
  return {
    name: "memory",
    open: () => memory.open(),
    append: (records) => memory.append(records),
    saveBatch: (batch) => memory.saveBatch(batch),
    settleBatch: (id, removed) => memory.settleBatch(id, removed),
    remove: (ids) => memory.remove(ids),
    setValue: (key, value) => memory.setValue(key, value),
    sync: () => memory.sync(),
    close: () => memory.close(),
    ...replaced,
  };
}

Deno.test("with a storage that opens asynchronously, nothing is sent before it is open, and nothing is lost", async () => {
  const memory = new MemoryStorage();
  const slow = over(memory, {
    open: () => Promise.resolve(memory.open()),
    saveBatch: (batch) => Promise.resolve(memory.saveBatch(batch)),
  });
  const { client, calls, progress } = burstSetup({ storage: slow });
  burst(client, 1000, progress);
  assert.equal(calls.length, 0);
  const summary = await client.close();
  assert.equal(summary.delivered, 1000);
  assert.equal(memory.size, 0, "every record settled in storage");
});

Deno.test("batches formed during a burst are saved with their keys before they are sent", async () => {
  const memory = new MemoryStorage();
  const log: string[] = [];
  const storage = over(memory, {
    saveBatch: (batch) => {
      log.push(`save ${batch.id}`);
      return memory.saveBatch(batch);
    },
  });
  const { client, calls, progress } = burstSetup({
    storage,
    hooks: { beforeRequest: [({ batch }) => void log.push(`send ${batch.id}`)] },
  });
  burst(client, 300, progress);
  await client.close();
  assert.equal(calls.length, 3);
  for (const { key } of calls) {
    const saved = log.indexOf(`save ${key}`);
    assert.ok(saved >= 0 && saved < log.indexOf(`send ${key}`), `${key} saved before sent`);
  }
});

Deno.test("a beforeRequest hook or a transport that throws inside a burst never makes track() throw; the batch is retried and delivered", async () => {
  const progress = { tracked: 0 };
  const { transport: recording, calls } = recordingTransport(progress, 64);
  let transportThrows = 1;
  const transport: Transport = carry((request: TransportRequest) => {
    // A synchronous throw, not a rejection.
    if (transportThrows-- > 0) throw new Error("transport blew up");
    return recording(request);
  }, { maxPending: 64 });
  let hookThrows = 1;
  const client = new Client({
    endpoint: "http://collector.test",
    transport,
    exitHook: false,
    maxBatchEvents: 100,
    retry: { random: () => 0 },
    hooks: {
      beforeRequest: [() => {
        if (hookThrows-- > 0) throw new Error("hook blew up");
      }],
    },
  });
  burst(client, 300, progress); // throws if track() does
  const summary = await client.close();
  assert.equal(summary.delivered, 300);
  assert.equal(summary.failed, 0);
  assert.equal(client.stats().retried, 200, "the two failed sends were retried");
  assert.equal(new Set(calls.map((call) => call.key)).size, 3, "retries kept their batch keys");
});

Deno.test("a hook that tracks more events from inside a burst's send loses none", async () => {
  let client: Client | undefined = undefined;
  let extra = 0;
  const setup = burstSetup({
    hooks: {
      beforeRequest: [() => {
        // Re-entrant: runs inside track() during the burst (the first three sends only).
        if (extra >= 180) return;
        for (let i = 0; i < 60; i++) client!.track("from_hook", { i }, { userId: "u2" });
        extra += 60;
      }],
    },
  });
  const { calls, progress } = setup;
  client = setup.client;
  burst(client, 500, progress);
  assert.equal(extra, 180, "the hook ran inside the burst");
  const summary = await client.close();
  assert.equal(summary.delivered, 500 + extra);
  assert.equal(calls.reduce((sum, call) => sum + call.events, 0), 500 + extra);
});
