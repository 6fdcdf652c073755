import assert from "node:assert/strict";
import { type KeyBatch, keyBuffers, type KeyScope, KeyTable } from "../src/receiver/_key_table.ts";
import type { DedupeStore, DedupeTiming } from "../src/receiver/dedupe_store.ts";
import { MemoryDedupeStore } from "../src/receiver/memory_dedupe_store.ts";
import { MapDedupeStore } from "../bench/_map_dedupe_store.ts";

const T0 = 1_790_000_000_000;
const at = (now: number): DedupeTiming => ({ now, ttlMs: 10_000, leaseMs: 1_000 });

/** A seeded pseudo-random sequence (mulberry32): the same operations on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The key table alone, with a fixed seed, so keys of known hashes can be chosen.
const SEED = 0x2545f491;
const SEED2 = 0x5bd1e995;
const scope = (name: string, table: KeyTable<KeyBatch>): KeyScope => ({
  seed: table.seedOf(name, 0),
  live: 0,
});

function batchOf(table: KeyTable<KeyBatch>, keyScope: KeyScope, keys: readonly string[]) {
  const batch: KeyBatch = {
    id: -1,
    scope: keyScope,
    ...keyBuffers(keys.reduce((sum, key) => sum + key.length, 0), keys.length),
    count: 0,
    used: 0,
    live: 0,
  };
  table.open(batch);
  const slots = keys.map((key) => {
    const slot = table.stage(batch, key);
    if (slot < 0) table.append(batch);
    return slot;
  });
  table.seal(batch);
  return { batch, slots };
}

Deno.test("keys that differ in one code unit stay apart, in one-byte and two-byte batches alike", () => {
  const store = new MemoryDedupeStore();
  const near = [
    "evt-0001",
    "evt-0002",
    "Evt-0001",
    "evt-000",
    "evt-00010",
    "evt-0001\u0000",
    "evt-\u00e9",
    "evt-\u01e9", // the same low byte as é: a one-byte buffer would merge them
    "evt-\u0100",
    "evt-\u0000",
    "evt-\ud800",
    "evt-\udc00",
    "evt-\ufffd",
    "evt-\ud800\udc00",
    "evt-\udc00\ud800",
    "",
  ];
  // One key per claim (each its own one- or two-byte buffer), then all in one claim (widened
  // part-way, after one-byte keys were written).
  for (const key of near) {
    assert.deepEqual(store.claimEvents("t", [key], "o1", at(T0)), ["claimed"]);
  }
  assert.deepEqual(store.claimEvents("u", near, "o1", at(T0)), near.map(() => "claimed"));
  for (const tenant of ["t", "u"]) {
    store.commit(tenant, { owner: "o1", eventKeys: near }, at(T0));
    assert.deepEqual(store.claimEvents(tenant, near, "o2", at(T0)), near.map(() => "duplicate"));
    assert.deepEqual(
      store.claimEvents(tenant, ["evt-\u02e9", "evt-0003", "evt-\udbff"], "o2", at(T0)),
      ["claimed", "claimed", "claimed"],
    );
  }
  assert.equal(store.size, 2 * near.length + 6);
});

Deno.test("keys and tenants of 100 000 characters differing in their last code unit stay apart", () => {
  const store = new MemoryDedupeStore();
  const long = "k".repeat(99_999);
  const keys = [long + "a", long + "b", long + "\ud800", long + "\udc00"];
  for (const tenant of [long + "\ud800", long + "\udc00"]) {
    assert.deepEqual(store.claimEvents(tenant, keys, "o1", at(T0)), keys.map(() => "claimed"));
    store.commit(tenant, { owner: "o1", eventKeys: keys }, at(T0));
    for (const key of keys) {
      assert.deepEqual(store.claimEvents(tenant, [key], "o2", at(T0)), ["duplicate"]);
    }
  }
  assert.equal(store.size, 8);
});

Deno.test("the table's hash is keyed: another key places the same keys elsewhere, the same key the same", () => {
  const keys = Array.from({ length: 1_000 }, (_, i) => `evt-${i}`);
  const hashes = (k0: number, k1: number) => {
    const table = new KeyTable<KeyBatch>(8, k0, k1);
    const events = scope("t", table);
    return keys.map((key) => table.hashOf(events, key));
  };
  const one = hashes(SEED, SEED2);
  assert.deepEqual(hashes(SEED, SEED2), one);
  for (const [k0, k1] of [[SEED, SEED2 ^ 1], [SEED ^ 1, SEED2]]) {
    const other = hashes(k0!, k1!);
    const same = other.filter((hash, i) => hash === one[i]).length;
    assert.ok(same <= 2, `${same} of 1 000 keys hash alike under another key`);
  }
});

Deno.test("keys of the same 32-bit hash are told apart by their code units", () => {
  const table = new KeyTable<KeyBatch>(8, SEED, SEED2);
  const events = scope("t", table);
  // Birthday search: among 400 000 keys some share a hash. The keys differ only in their code
  // units' high bytes (0x00, 0x01, or lone surrogates 0xd8xx, 0xdcxx): a comparison of low bytes,
  // of characters after replacing lone surrogates, or of hashes alone would merge them.
  const HIGH = [0x0000, 0x0100, 0xd800, 0xdc00];
  const seen = new Map<number, string>();
  const pairs: [string, string][] = [];
  for (let i = 0; i < 400_000 && pairs.length < 4; i++) {
    let key = "";
    for (let j = 0; j < 10; j++) key += String.fromCharCode(HIGH[(i >> (2 * j)) & 3]! + 0x61 + j);
    const hash = table.hashOf(events, key);
    const other = seen.get(hash);
    if (other === undefined) seen.set(hash, key);
    else pairs.push([other, key]);
  }
  assert.ok(pairs.length > 0, "no two keys of the same hash found");
  for (const [a, b] of pairs) {
    assert.notEqual(a, b);
    assert.equal(table.hashOf(events, a), table.hashOf(events, b));
    const { slots } = batchOf(table, events, [a, b, a]);
    assert.deepEqual(slots.slice(0, 2), [-1, -1]);
    assert.ok(slots[2]! >= 0, "the repeat of the first key is found");
    assert.notEqual(table.lookup(events, a), table.lookup(events, b));
  }
  assert.equal(table.size, 2 * pairs.length);
  // Through the store, whose hashes are seeded at random: still apart.
  const store = new MemoryDedupeStore();
  const keys = pairs.flat();
  assert.deepEqual(store.claimEvents("t", keys, "o", at(T0)), keys.map(() => "claimed"));
});

Deno.test("a table grown from 8 slots finds every key, and removing keys keeps the others findable", () => {
  const table = new KeyTable<KeyBatch>(8, SEED, SEED2);
  const events = scope("t", table);
  const requests = { seed: table.seedOf("t", 1), live: 0 };
  const keys = Array.from({ length: 20_000 }, (_, i) => `k-${i}`);
  const batches = Array.from(
    { length: 40 },
    (_, b) => batchOf(table, events, keys.slice(b * 500, b * 500 + 500)),
  );
  assert.ok(batches.every(({ slots }) => slots.every((slot) => slot === -1)));
  assert.equal(table.size, keys.length);
  assert.equal(table.capacity, 32_768);
  assert.equal(events.live, keys.length);
  // The same text in another scope is another key.
  assert.equal(table.lookup(requests, "k-1"), -1);
  const order = random(7);
  const removed = new Set<string>();
  // The first batch's keys, then others at random.
  const shuffled = keys.slice(500).sort(() => order() - 0.5);
  for (const key of [...keys.slice(0, 500), ...shuffled.slice(0, 18_000)]) {
    const slot = table.lookup(events, key);
    assert.ok(slot >= 0, key);
    table.remove(slot);
    removed.add(key);
    if (removed.size % 1_000 === 0) {
      for (const other of keys) {
        assert.equal(table.lookup(events, other) >= 0, !removed.has(other), other);
      }
    }
  }
  assert.equal(table.size, 1_500);
  assert.ok(table.capacity < 32_768, `shrunk: ${table.capacity}`);
  for (const key of keys) assert.equal(table.lookup(events, key) >= 0, !removed.has(key), key);
  // A batch whose every key was removed gave its buffers back.
  const emptied = batches.filter(({ batch }) => batch.live === 0);
  assert.ok(emptied.length > 0);
  for (const { batch } of emptied) assert.deepEqual([batch.id, batch.chars.length], [-1, 0]);
});

Deno.test("removing a key whose probe wrapped past the table's end keeps the wrapped keys findable", () => {
  const table = new KeyTable<KeyBatch>(16, SEED, SEED2);
  const events = scope("t", table);
  // Four keys whose home is the last slot: they sit in slots 15, 0, 1 and 2.
  const last: string[] = [];
  for (let i = 0; last.length < 4; i++) {
    if ((table.hashOf(events, `w-${i}`) & 15) === 15) last.push(`w-${i}`);
  }
  const { slots } = batchOf(table, events, last);
  assert.deepEqual(slots, [-1, -1, -1, -1]);
  assert.deepEqual(last.map((key) => table.lookup(events, key)), [15, 0, 1, 2]);
  table.remove(15);
  assert.deepEqual(last.map((key) => table.lookup(events, key)), [-1, 15, 0, 1]);
  table.remove(0);
  assert.deepEqual(last.map((key) => table.lookup(events, key)), [-1, 15, -1, 0]);
  assert.throws(() => new KeyTable(12), RangeError);
});

/** Applies the same random operations to `stores`, asserting they answer alike. */
function differential(seed: number, steps: number, maxKeys: number): MemoryDedupeStore {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const table = new MemoryDedupeStore({ maxKeys });
  const reference = new MapDedupeStore({ maxKeys });
  const stores: DedupeStore[] = [table, reference];
  const tenants = ["t", "u", "t\ud800", "t\udc00"];
  const keyOf = () =>
    pick(["k", "k\ud800", "k\udc00", "k\u01e9", "k\u00e9"]) + Math.floor(next() * 60);
  let now = T0;
  const claims: { tenant: string; owner: string; keys: string[] }[] = [];
  for (let step = 0; step < steps; step++) {
    now += Math.floor(next() * 60);
    const timing = { now, ttlMs: 2_000, leaseMs: 300 };
    const tenant = pick(tenants);
    const owner = `o${step % 7}`;
    const op = next();
    let answers: unknown[];
    if (op < 0.4) {
      const keys = Array.from({ length: 1 + Math.floor(next() * 12) }, keyOf);
      answers = stores.map((store) => store.claimEvents(tenant, keys, owner, timing));
      claims.push({
        tenant,
        owner,
        keys: keys.filter((_, i) => (answers[0] as string[])[i] === "claimed"),
      });
    } else if (op < 0.65 && claims.length > 0) {
      // The receiver's commit (exactly one claim's keys) or any keys.
      const claim = pick(claims);
      const keys = next() < 0.7 ? claim.keys : Array.from({ length: 3 }, keyOf);
      const request = next() < 0.3
        ? { key: `r${step % 9}`, fingerprint: "fp", results: [] }
        : undefined;
      answers = stores.map((store) =>
        store.commit(claim.tenant, { owner: claim.owner, eventKeys: keys, request }, timing)
      );
    } else if (op < 0.8) {
      const key = `r${Math.floor(next() * 9)}`;
      const fingerprint = pick(["fp", "fq"]);
      answers = stores.map((store) => store.claimRequest(tenant, key, fingerprint, owner, timing));
    } else {
      const keys = Array.from({ length: 4 }, keyOf);
      const requestKey = next() < 0.5 ? `r${Math.floor(next() * 9)}` : undefined;
      answers = stores.map((store) =>
        store.release(tenant, { owner, requestKey, eventKeys: keys })
      );
    }
    assert.deepEqual(answers[0], answers[1], `step ${step}`);
    assert.deepEqual(
      [table.size, table.evicted],
      [reference.size, reference.evicted],
      `step ${step}`,
    );
  }
  return table;
}

Deno.test("the store answers every claim, commit and release as the Map of strings it replaced", () => {
  // Tight: evicting all the time, batch numbers reused, the queue compacted.
  const tight = differential(1, 30_000, 40);
  assert.ok(tight.evicted > 1_000, `evicted ${tight.evicted}`);
  // Roomy: keys expire and lapse instead.
  const roomy = differential(2, 20_000, 100_000);
  assert.equal(roomy.evicted, 0);
});

Deno.test("a million keys past a 100 000-key store leave 100 000, the rest counted as evicted", () => {
  const store = new MemoryDedupeStore({ maxKeys: 100_000 });
  const timing = at(T0);
  for (let request = 0; request < 500; request++) {
    const session = `session-${request}`;
    const keys = Array.from(
      { length: 2_000 },
      (_, nr) => `${session}:${nr}:${(nr * 2654435761 >>> 0).toString(16)}`,
    );
    store.claimEvents("t", keys, session, timing);
    store.commit("t", { owner: session, eventKeys: keys }, timing);
  }
  assert.equal(store.size, 100_000);
  assert.equal(store.evicted, 900_000);
  assert.deepEqual(
    store.claimEvents(
      "t",
      ["session-499:1999:" + (1999 * 2654435761 >>> 0).toString(16), "session-0:0:0"],
      "late",
      timing,
    ),
    ["duplicate", "claimed"],
  );
});

Deno.test("a million keys cost the JS heap nothing per key: they are in array buffers", async () => {
  // A fresh process that may force garbage collections (bench/dedupe_store_memory.ts).
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL("../bench/dedupe_store_memory.ts", import.meta.url).pathname,
      "--child",
      "table",
      "1000000",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success);
  const figures = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.equal(figures.size, 1_000_000);
  // ~49-character keys: their code units, 8 bytes of index, 12 bytes per table slot.
  assert.ok(figures.heapBytesPerKey < 8, `heap: ${figures.heapBytesPerKey} B/key`);
  assert.ok(
    figures.externalBytesPerKey < 100,
    `array buffers: ${figures.externalBytesPerKey} B/key`,
  );
});
