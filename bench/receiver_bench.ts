/**
 * Receiver throughput: ~500 KB JSON batches through the whole handler (route,
 * body read, JSON decode and field checks, dedupe claims, sink, answer), with
 * the memory dedupe store against a store that checks nothing — the
 * difference is the per-event cost of de-duplication — and against a
 * hand-written floor (read, parse, check two fields, one JSON line per event;
 * no limits, no dedupe), the ratio the receiver is held to (≥ 0.7×; the
 * end-to-end version over HTTP at 1, 4 and 16 in flight, with CPU and peak
 * RSS, is bench/e2e_receiver.ts). Also the stores alone, and the memory
 * store's key table against the `Map` of strings it replaced (bench/_map_dedupe_store.ts),
 * both holding 400 000 keys (the e2e benchmark's load), with Hamustro-shaped keys.
 *
 * Events per batch are in the bench names: events/s = events ÷ time per iteration.
 */
import type { DedupeStore, EventClaim } from "../src/receiver/dedupe_store.ts";
import { KvDedupeStore } from "../src/receiver/kv_dedupe_store.ts";
import { MemoryDedupeStore } from "../src/receiver/memory_dedupe_store.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { callbackSink } from "../src/receiver/sink.ts";
import { jsonEvent, jsonFloor } from "./_json_floor.ts";
import { MapDedupeStore } from "./_map_dedupe_store.ts";

const TARGET_BYTES = 500 * 1024;
let sequence = 0;

/** A fresh ~500 KB body (new keys every time, so nothing is a duplicate). */
function body(): { text: string; events: number } {
  const parts: string[] = [];
  let bytes = 12;
  while (bytes < TARGET_BYTES - 400) {
    const text = JSON.stringify(jsonEvent(sequence++));
    parts.push(text);
    bytes += text.length + 1;
  }
  return { text: `{"events":[${parts.join(",")}]}`, events: parts.length };
}

const EVENTS_PER_BATCH = body().events;

/** Claims everything: the baseline without de-duplication work. */
const noDedupe: DedupeStore = {
  claimRequest: (_t, _k, _f, owner) => ({ state: "claimed", owner }),
  claimEvents: (_t, keys) => keys.map((): EventClaim => "claimed"),
  commit: () => {},
  release: () => {},
};

function receiverWith(store: DedupeStore) {
  let stored = 0;
  return createReceiver({ store, sink: callbackSink((events) => void (stored += events.length)) });
}

function request(text: string): Request {
  return new Request("http://localhost/v1/events/batch", {
    method: "POST",
    headers: { "content-type": "application/json", "x-idempotency-key": crypto.randomUUID() },
    body: text,
  });
}

const withDedupe = receiverWith(new MemoryDedupeStore());
const withoutDedupe = receiverWith(noDedupe);

Deno.bench(`receiver: 500 KB JSON batch (${EVENTS_PER_BATCH} events), dedupe on, memory store`, {
  group: "receiver",
  baseline: true,
}, async (b) => {
  const { text } = body();
  b.start();
  const response = await withDedupe(request(text));
  b.end();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  await response.body?.cancel();
});

Deno.bench(`receiver: 500 KB JSON batch (${EVENTS_PER_BATCH} events), no dedupe checks`, {
  group: "receiver",
}, async (b) => {
  const { text } = body();
  b.start();
  const response = await withoutDedupe(request(text));
  b.end();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  await response.body?.cancel();
});

let floorBytes = 0;
const floor = jsonFloor((lines) => void (floorBytes += lines.length));

Deno.bench(`floor: 500 KB JSON batch (${EVENTS_PER_BATCH} events), hand-written`, {
  group: "receiver",
}, async (b) => {
  const { text } = body();
  b.start();
  const response = await floor(request(text));
  b.end();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  await response.body?.cancel();
});

const memory = new MemoryDedupeStore();
const timing = () => ({ now: Date.now(), ttlMs: 86_400_000, leaseMs: 60_000 });
function keys(count: number): string[] {
  return Array.from({ length: count }, () => crypto.randomUUID());
}

Deno.bench(
  `memory store: claim + commit ${EVENTS_PER_BATCH} event keys`,
  { group: "store" },
  (b) => {
    const batch = keys(EVENTS_PER_BATCH);
    const owner = crypto.randomUUID();
    b.start();
    memory.claimEvents("tenant", batch, owner, timing());
    memory.commit("tenant", { owner, eventKeys: batch }, timing());
    b.end();
  },
);

const kvDir = await Deno.makeTempDir();
const kv = await KvDedupeStore.open(`${kvDir}/bench.kv`);
globalThis.addEventListener("unload", () => {
  kv.close();
  Deno.removeSync(kvDir, { recursive: true });
});

Deno.bench(`kv store: claim + commit ${EVENTS_PER_BATCH} event keys`, {
  group: "store",
  n: 5,
  warmup: 1,
}, async (b) => {
  const batch = keys(EVENTS_PER_BATCH);
  const owner = crypto.randomUUID();
  b.start();
  await kv.claimEvents("tenant", batch, owner, timing());
  await kv.commit("tenant", { owner, eventKeys: batch }, timing());
  b.end();
});

// Hamustro's event keys: `${session}:${nr}:${digest}`, built per request (ConsStrings, ~55 chars).
const HAMUSTRO_KEYS = 2_000;
let hamustroNr = 0;
function hamustroKeys(): string[] {
  const session = crypto.randomUUID().replaceAll("-", "");
  return Array.from(
    { length: HAMUSTRO_KEYS },
    () => `${session}:${hamustroNr++}:${(hamustroNr * 2654435761 >>> 0).toString(16)}`,
  );
}

for (
  const [name, store] of [
    ["key table (MemoryDedupeStore)", new MemoryDedupeStore({ maxKeys: 400_000 })],
    ["Map of strings (before)", new MapDedupeStore({ maxKeys: 400_000 })],
  ] as const
) {
  // Full first: every claim then also evicts as many keys as it adds.
  for (let i = 0; i < 400_000 / HAMUSTRO_KEYS; i++) {
    const batch = hamustroKeys();
    store.claimEvents("tenant", batch, "warm", timing());
    store.commit("tenant", { owner: "warm", eventKeys: batch }, timing());
  }
  Deno.bench(`${name}: claim + commit ${HAMUSTRO_KEYS} Hamustro keys, 400 000 held`, {
    group: "keys",
    baseline: name.startsWith("key table"),
  }, (b) => {
    const batch = hamustroKeys();
    const owner = crypto.randomUUID();
    b.start();
    store.claimEvents("tenant", batch, owner, timing());
    store.commit("tenant", { owner, eventKeys: batch }, timing());
    b.end();
  });
}
