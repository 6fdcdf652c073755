// A FileStorage store damaged on disk (garbage in the middle, a torn end) under a real Client:
// it opens, delivers what is valid to a loopback receiver, reports what it skipped, and never throws.
import assert from "node:assert/strict";
import { Client } from "../src/client.ts";
import type { IdemtrackError } from "../src/errors/idemtrack_error.ts";
import { isStorageError } from "../src/errors/storage_error.ts";
import { callbackSink, createReceiver } from "../src/receiver/mod.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import type { Transport } from "../src/ports/transport.ts";

const TICKS = 20;
const EVENTS_PER_TICK = 50;
const EVENTS = TICKS * EVENTS_PER_TICK;

const key = (i: number) => `corrupt-${String(i).padStart(6, "0")}`;

/** A network that never answers (until the request is aborted): everything stays in the store. */
const unreachable: Transport = (request) =>
  new Promise((_, reject) => {
    request.signal?.addEventListener("abort", () => reject(new Error("aborted")));
  });

/** Fills a store through a Client: events tracked over several ticks (one log entry each), none delivered. */
async function fillStore(path: string): Promise<void> {
  const client = new Client({
    endpoint: "http://127.0.0.1:9/v1/events/batch",
    storage: new FileStorage(path, { durability: "everyWrite" }),
    transport: unreachable,
    flushAt: 1_000_000,
    flushIntervalMs: 0,
    exitHook: false,
  });
  // Wait for the store to open: events tracked before that are journaled as one entry, and the
  // assertions below count on one entry per tick however slow the machine is.
  await client.flush();
  for (let tick = 0; tick < TICKS; tick++) {
    for (let j = 0; j < EVENTS_PER_TICK; j++) {
      const i = tick * EVENTS_PER_TICK + j;
      client.track("corrupt_test", { seq: i, pad: "x".repeat(200) }, {
        userId: `user-${i % 7}`,
        idempotencyKey: key(i),
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  // The client's timers are unref'd and the fake network holds no I/O: keep the loop alive.
  const keepAlive = setTimeout(() => {}, 10_000);
  const summary = await client.close({ timeoutMs: 50 });
  clearTimeout(keepAlive);
  assert.equal(summary.pending, EVENTS, "every event is left in the store");
}

/** Opens the store with a new Client, delivers to a loopback receiver, returns what arrived. */
async function recover(path: string) {
  const arrived = new Map<string, unknown>();
  const receiver = createReceiver({
    sink: callbackSink((events) => {
      for (const { key, event } of events) {
        assert.ok(!arrived.has(String(key)), `${key} arrived once`);
        arrived.set(String(key), (event.properties as { seq?: unknown }).seq);
      }
    }),
  });
  let port = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: (addr) => void (port = addr.port) },
    receiver,
  );
  const errors: IdemtrackError[] = [];
  try {
    const client = new Client({
      endpoint: `http://127.0.0.1:${port}/v1/events/batch`,
      storage: new FileStorage(path),
      exitHook: false,
      onError: (error) => errors.push(error),
    });
    await client.flush();
    const restored = client.stats().tracked;
    const summary = await client.close({ timeoutMs: 10_000 });
    return { arrived, errors, restored, summary };
  } finally {
    await server.shutdown();
  }
}

async function withStore(body: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-corrupt-" });
  try {
    await body(`${dir}/queue.log`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every arrived event is intact (its key and its own seq) and nothing arrived that was not tracked. */
function assertIntact(arrived: Map<string, unknown>): void {
  for (const [k, seq] of arrived) {
    assert.equal(k, key(Number(seq)), `${k} carries its own properties`);
    assert.ok(Number(seq) >= 0 && Number(seq) < EVENTS, `${k} was tracked`);
  }
}

Deno.test("a Client over a store with garbage in the middle delivers every valid event and reports what it skipped", async () => {
  await withStore(async (path) => {
    await fillStore(path);
    const bytes = await Deno.readFile(path);
    const at = Math.floor(bytes.length * 0.45);
    bytes.fill(0xa5, at, at + 300);
    await Deno.writeFile(path, bytes);

    const { arrived, errors, restored, summary } = await recover(path);
    assertIntact(arrived);
    assert.equal(summary.pending, 0);
    assert.equal(summary.failed, 0);
    assert.equal(
      summary.delivered + summary.duplicates,
      restored,
      "everything restored is delivered",
    );
    assert.equal(arrived.size, restored);
    // The garbage destroys the entries it overlaps (a tick's worth of events each), nothing else.
    const lost = EVENTS - arrived.size;
    assert.ok(lost > 0 && lost <= 2 * EVENTS_PER_TICK, `${lost} events lost to 300 garbage bytes`);
    const missing = Array.from({ length: EVENTS }, (_, i) => i).filter((i) => !arrived.has(key(i)));
    assert.equal(missing.at(-1)! - missing[0]! + 1, missing.length, "the lost events are one run");
    const skipped = errors.filter(isStorageError);
    assert.equal(skipped.length, 1, errors.map((e) => e.message).join("; "));
    assert.match(skipped[0]!.message, /recovery skipped [1-9]\d* damaged entries \(\d+ bytes\)/);
  });
});

Deno.test("a Client over a store cut in the middle of its last entry delivers every earlier event and reports the torn end", async () => {
  await withStore(async (path) => {
    await fillStore(path);
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 17));

    const { arrived, errors, restored, summary } = await recover(path);
    assertIntact(arrived);
    assert.equal(summary.pending, 0);
    assert.equal(arrived.size, restored);
    assert.ok(
      arrived.size >= EVENTS - 2 * EVENTS_PER_TICK,
      `${arrived.size} of ${EVENTS} delivered`,
    );
    for (let i = 0; i < arrived.size; i++) assert.ok(arrived.has(key(i)), `${key(i)} delivered`);
    const skipped = errors.filter(isStorageError);
    assert.equal(skipped.length, 1, errors.map((e) => e.message).join("; "));
    assert.match(skipped[0]!.message, /recovery skipped 1 damaged entries/);
  });
});
