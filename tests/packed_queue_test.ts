import assert from "node:assert/strict";
import { PackedQueue } from "../src/pipeline/queue/_packed_queue.ts";
import type { Entry } from "../src/pipeline/_entry.ts";
import { SlabWriter } from "../src/_util/slab_writer.ts";
import { randomInt, seededRandom } from "./_random.ts";

const encoder = new TextEncoder();

interface Model {
  text: string;
  key: string;
  group: string;
  stream: string;
  queuedAt: number;
  seq: number;
}

/** An event text of about `length` characters, non-ASCII now and then. */
function text(random: () => number, length: number): string {
  const pieces = ["a", "é", "€", "🎉", '"', "z"];
  let out = "";
  while (out.length < length) out += pieces[randomInt(random, 0, random() < 0.9 ? 0 : 5)];
  return out;
}

function assertEntry(
  entry: Entry,
  model: Model,
  idPrefix: string,
) {
  assert.deepEqual(entry.data, encoder.encode(model.text), `data of seq ${model.seq}`);
  assert.equal(entry.bytes, encoder.encode(model.text).length);
  assert.equal(entry.key, model.key);
  assert.equal(entry.group, model.group);
  assert.equal(entry.stream, model.stream);
  assert.equal(entry.queuedAt, model.queuedAt);
  assert.equal(entry.seq, model.seq);
  assert.equal(entry.id, idPrefix + model.seq.toString(36));
}

Deno.test("PackedQueue gives back every event as pushed, in order, across slabs, big events and compactions", () => {
  for (const seed of [1, 2, 3]) {
    const random = seededRandom(seed);
    const writer = new SlabWriter();
    const queue = new PackedQueue("p-");
    const model: Model[] = [];
    let seq = 0;
    let taken = 0;
    for (let step = 0; step < 3000; step++) {
      if (random() < 0.7) {
        const size = random() < 0.01
          ? randomInt(random, 100_000, 300_000)
          : randomInt(random, 1, 900);
        const event: Model = {
          text: text(random, size),
          key: `k-${seed}-${step}-${text(random, randomInt(random, 0, 20))}`,
          group: ["track", "identify", "alias"][randomInt(random, 0, 2)]!,
          stream: random() < 0.8 ? "" : `s${randomInt(random, 0, 3)}`,
          queuedAt: 1_700_000_000_000 + step,
          seq: ++seq,
        };
        assert.equal(writer.stage(event.text, event.key), encoder.encode(event.text).length);
        queue.push(writer, event.group, event.stream, event.queuedAt, event.seq);
        model.push(event);
      } else if (queue.length > 0) {
        const count = randomInt(random, 1, Math.min(queue.length, 200));
        for (let i = 0; i < count; i++) {
          assert.equal(queue.sizeAt(i), encoder.encode(model[taken + i]!.text).length);
          assert.equal(queue.seqAt(i), model[taken + i]!.seq);
          assert.equal(queue.groupAt(i), model[taken + i]!.group);
          assert.equal(queue.streamAt(i), model[taken + i]!.stream);
        }
        const run = queue.takeRun(count);
        assert.equal(run.length, count);
        const entries = run.entries(true);
        assert.ok(entries.every((entry) => entry.inBatch));
        entries.forEach((entry, i) => assertEntry(entry, model[taken + i]!, "p-"));
        // Records are plain: spreading one keeps every field.
        assert.deepEqual(
          run.records().map((record) => ({ ...record })),
          entries.map(({ id, key, group, stream, data, queuedAt }) => ({
            id,
            key,
            group,
            stream,
            data,
            queuedAt,
          })),
        );
        assert.deepEqual(run.ids(), entries.map((entry) => entry.id));
        taken += count;
      }
      assert.equal(queue.length, model.length - taken);
      const bytes = model.slice(taken).reduce((sum, e) => sum + encoder.encode(e.text).length, 0);
      assert.equal(queue.bytes, bytes);
    }
    const left = queue.snapshot();
    assert.equal(left.length, model.length - taken);
    left.forEach((entry, i) => assertEntry(entry, model[taken + i]!, "p-"));
    assert.equal(queue.length, model.length - taken, "snapshot() leaves the events queued");
  }
});

Deno.test("SlabWriter keeps only what is committed: a refused event takes no room", () => {
  const writer = new SlabWriter();
  const queue = new PackedQueue("x-");
  writer.stage("refused, never committed", "key-refused");
  writer.stage('{"a":1}', "key-00000001");
  assert.deepEqual(writer.view(), encoder.encode('{"a":1}'));
  queue.push(writer, "track", "", 1, 1);
  writer.stage("refused again", "key-refused");
  writer.stage(new Uint8Array([1, 2, 3]), "key-00000002");
  queue.push(writer, "track", "", 2, 2);
  const [first, second] = queue.takeRun(2).entries(false);
  assert.deepEqual(first!.data, encoder.encode('{"a":1}'));
  assert.equal(first!.key, "key-00000001");
  assert.deepEqual(second!.data, new Uint8Array([1, 2, 3]));
  assert.equal(second!.key, "key-00000002");
  // Back to back in one slab: the second starts right after the first's key.
  assert.equal(second!.data.buffer, first!.data.buffer);
  assert.equal(second!.data.byteOffset, first!.data.byteOffset + 7 + "key-00000001".length);
});

Deno.test("SlabWriter gives an event over a quarter of a slab its own buffer, sized exactly", () => {
  const writer = new SlabWriter();
  const big = "€".repeat(100_000);
  assert.equal(writer.stage(big, "big-key-1"), 300_000);
  assert.equal(writer.slab.length, 300_000 + "big-key-1".length);
  writer.commit();
  writer.stage("small", "small-key");
  assert.notEqual(writer.slab.length, 300_009, "small events go back to the shared slab");
});

Deno.test("PackedQueue keeps runs taken before compactions readable (60 000 steps, big events, refused stages)", () => {
  for (const seed of [1, 2]) {
    const r = seededRandom(seed);
    const w = new SlabWriter();
    const q = new PackedQueue("p-");
    const model: { t: string; k: string; seq: number }[] = [];
    let taken = 0, seq = 0;
    const held: { run: ReturnType<PackedQueue["takeRun"]>; from: number }[] = [];
    for (let step = 0; step < 60000; step++) {
      if (r() < 0.55) {
        const size = r() < 0.002 ? randomInt(r, 270_000, 400_000) : randomInt(r, 1, 3000);
        const t = (r() < 0.5 ? "é" : "a").repeat(size);
        const k = "k" + step;
        if (r() < 0.05) w.stage("refused" + t, "x");
        w.stage(t, k);
        q.push(w, "g", "", step, ++seq);
        model.push({ t, k, seq });
      } else if (q.length > 1) {
        const count = randomInt(r, 1, Math.min(q.length - 1, 300));
        const run = q.takeRun(count);
        held.push({ run, from: taken });
        taken += count;
      }
      if (held.length > 50) held.splice(0, 25);
    }
    for (const { run, from } of held) {
      run.entries(true).forEach((e, i) => {
        const m = model[from + i]!;
        assert.equal(e.key, m.k);
        assert.equal(e.seq, m.seq);
        assert.deepEqual(e.data, encoder.encode(m.t));
      });
    }
    q.snapshot().forEach((e, i) => {
      const m = model[taken + i]!;
      assert.equal(e.key, m.k);
      assert.deepEqual(e.data, encoder.encode(m.t));
    });
  }
});

Deno.test("PackedQueue.pushText: events queued unsized come back as exactly TextEncoder's bytes, sized when any reader asks", () => {
  const random = seededRandom(11);
  const writer = new SlabWriter();
  let sized = 0;
  const queue = new PackedQueue("u-", writer, (bytes) => sized += bytes);
  const model: Model[] = [];
  let seq = 0;
  let expectedBytes = 0;
  let everBytes = 0;
  for (let step = 0; step < 4000; step++) {
    const roll = random();
    // Mostly ASCII runs, some with a non-ASCII event or key, lone surrogates at the edges.
    const body = roll < 0.05
      ? `x\ud800`
      : text(random, randomInt(random, 1, roll < 0.1 ? 12_000 : 400));
    const event: Model = {
      text: body,
      key: random() < 0.1 ? `clé-${step}-🔑` : `key-${step}`,
      group: "track",
      stream: "",
      queuedAt: step,
      seq: ++seq,
    };
    model.push(event);
    expectedBytes += encoder.encode(event.text).length;
    everBytes += encoder.encode(event.text).length;
    if (random() < 0.1) {
      // A staged event: whatever was queued unsized is written first.
      queue.measure();
      writer.stage(event.text, event.key);
      queue.push(writer, event.group, event.stream, event.queuedAt, event.seq);
      sized += writer.size;
    } else {
      queue.pushText(event.text, event.key, event.group, event.stream, event.queuedAt, event.seq);
    }
    if (random() < 0.02) assert.equal(queue.bytes, expectedBytes);
    if (random() < 0.01) {
      const entries = queue.takeRun(queue.length).entries(true);
      for (let i = 0; i < entries.length; i++) assertEntry(entries[i]!, model[i]!, "u-");
      model.length = 0;
      expectedBytes = 0;
    }
  }
  assert.equal(queue.bytes, expectedBytes);
  assert.equal(sized, everBytes);
  const entries = queue.snapshot();
  for (let i = 0; i < entries.length; i++) assertEntry(entries[i]!, model[i]!, "u-");
});

Deno.test("PackedRun.records() decodes ASCII keys together and any other key on its own, each one as pushed", () => {
  for (const keys of [["a-1", "bb-22", "", "ccc-333"], ["a-1", "é-€-🎉", "ccc-333"]]) {
    const writer = new SlabWriter();
    const queue = new PackedQueue("r-");
    keys.forEach((key, i) => {
      writer.stage(`{"i":${i}}`, key);
      queue.push(writer, "track", "", 0, i + 1);
    });
    const records = queue.takeRun(keys.length).records();
    assert.deepEqual(records.map((record) => record.key), keys);
    assert.deepEqual(records.map((record) => new TextDecoder().decode(record.data)), [
      ...keys.map((_, i) => `{"i":${i}}`),
    ]);
  }
});
