import assert from "node:assert/strict";
import {
  chunkBySize,
  type Framing,
  JSON_ARRAY_FRAMING,
  jsonArrayFraming,
} from "../src/kit/chunk.ts";
import { utf8ByteLength } from "../src/_util/utf8.ts";
import { randomInt, randomText, seededRandom } from "./_random.ts";

interface Item {
  id: number;
  group: string;
  json: string;
}

const encoder = new TextEncoder();
const GROUPS = ["track", "identify", "alias", "feature"];

function bytesOf(text: string): number {
  return encoder.encode(text).byteLength;
}

/** The body a chunk of items becomes on the wire: `{"events":[a,b,…]}`. */
function arrayBody(items: readonly Item[]): string {
  return `{"events":[${items.map((item) => item.json).join(",")}]}`;
}

/** A body with one array per group, in order of first appearance: `{"identify":[…],"track":[…]}`. */
function groupedBody(items: readonly Item[]): string {
  const groups = new Map<string, string[]>();
  for (const item of items) {
    const list = groups.get(item.group) ?? [];
    list.push(item.json);
    groups.set(item.group, list);
  }
  return `{${[...groups].map(([group, list]) => `"${group}":[${list.join(",")}]`).join(",")}}`;
}

/** Framing of {@linkcode groupedBody}, written independently of chunk.ts. */
const GROUPED_FRAMING: Framing = {
  emptyBytes: 2,
  itemBytes(size, firstInGroup, group, firstInBody) {
    if (!firstInGroup) return size + 1;
    return (firstInBody ? 0 : 1) + bytesOf(`"${group}":[]`) + size;
  },
};

function randomItems(random: () => number, count: number, maxSize: number, groups: number): Item[] {
  return Array.from({ length: count }, (_, id) => {
    const group = GROUPS[randomInt(random, 0, groups - 1)]!;
    const text = randomText(random, randomInt(random, 0, maxSize), random() < 0.2);
    return { id, group, json: JSON.stringify({ id, text }) };
  });
}

interface Caps {
  maxBytes: number;
  maxItems: number;
  maxItemsPerGroup: number;
}

function checkPlan(
  items: Item[],
  caps: Caps,
  body: (items: readonly Item[]) => string,
  framing: Framing,
  label: string,
): void {
  const plan = chunkBySize(items, {
    sizeOf: (item) => utf8ByteLength(item.json),
    groupOf: (item) => item.group,
    framing,
    ...caps,
  });
  const fitsAlone = (item: Item) => bytesOf(body([item])) <= caps.maxBytes;
  // Oversize is exactly the items that cannot fit in a body alone.
  assert.deepEqual(
    plan.oversize.map((item) => item.id),
    items.filter((item) => !fitsAlone(item)).map((item) => item.id),
    `${label}: oversize`,
  );
  // Concatenation is the input in order, minus oversize.
  assert.deepEqual(
    plan.chunks.flat().map((item) => item.id),
    items.filter(fitsAlone).map((item) => item.id),
    `${label}: order`,
  );
  const fits = (chunk: readonly Item[]) => {
    const perGroup = new Map<string, number>();
    for (const item of chunk) perGroup.set(item.group, (perGroup.get(item.group) ?? 0) + 1);
    return chunk.length <= caps.maxItems &&
      Math.max(...perGroup.values()) <= caps.maxItemsPerGroup &&
      bytesOf(body(chunk)) <= caps.maxBytes;
  };
  plan.chunks.forEach((chunk, index) => {
    assert.ok(chunk.length > 0, `${label}: chunk ${index} is empty`);
    assert.ok(
      fits(chunk),
      `${label}: chunk ${index} breaks a cap (${
        bytesOf(body(chunk))
      } bytes, ${chunk.length} items)`,
    );
    // Greedy: a chunk only closes when the next item would break a cap.
    const next = plan.chunks[index + 1]?.[0];
    if (next !== undefined) {
      assert.ok(!fits([...chunk, next]), `${label}: chunk ${index} closed early`);
    }
  });
}

Deno.test("chunkBySize() respects byte, item and per-group caps together on random inputs (JSON array body)", () => {
  for (let seed = 1; seed <= 400; seed++) {
    const random = seededRandom(seed);
    const items = randomItems(
      random,
      randomInt(random, 0, 120),
      randomInt(random, 0, 200),
      randomInt(random, 1, 4),
    );
    const caps: Caps = {
      maxBytes: randomInt(random, 20, 4000),
      maxItems: random() < 0.3 ? Infinity : randomInt(random, 1, 40),
      maxItemsPerGroup: random() < 0.3 ? Infinity : randomInt(random, 1, 15),
    };
    checkPlan(items, caps, arrayBody, JSON_ARRAY_FRAMING, `seed ${seed}`);
  }
});

Deno.test("chunkBySize() respects all caps on random inputs with a per-group framing", () => {
  for (let seed = 1001; seed <= 1300; seed++) {
    const random = seededRandom(seed);
    const items = randomItems(
      random,
      randomInt(random, 0, 120),
      randomInt(random, 0, 150),
      randomInt(random, 1, 4),
    );
    const caps: Caps = {
      maxBytes: randomInt(random, 20, 3000),
      maxItems: random() < 0.3 ? Infinity : randomInt(random, 1, 40),
      maxItemsPerGroup: random() < 0.3 ? Infinity : randomInt(random, 1, 15),
    };
    checkPlan(items, caps, groupedBody, GROUPED_FRAMING, `seed ${seed}`);
  }
});

Deno.test("chunkBySize() fills a body to exactly maxBytes", () => {
  const items: Item[] = ["aaaa", "bbbb", "cccc"].map((text, id) => ({
    id,
    group: "g",
    json: JSON.stringify(text),
  }));
  const exact = bytesOf(arrayBody(items.slice(0, 2)));
  const plan = chunkBySize(items, { sizeOf: (item) => bytesOf(item.json), maxBytes: exact });
  assert.deepEqual(plan.chunks.map((chunk) => chunk.map((item) => item.id)), [[0, 1], [2]]);
  const tighter = chunkBySize(items, { sizeOf: (item) => bytesOf(item.json), maxBytes: exact - 1 });
  assert.deepEqual(tighter.chunks.map((chunk) => chunk.map((item) => item.id)), [[0], [1], [2]]);
});

Deno.test("chunkBySize() reports an item larger than the cap alone as oversize and keeps going", () => {
  const items = ['"small"', `"${"x".repeat(100)}"`, '"after"'];
  const plan = chunkBySize(items, { sizeOf: bytesOf, maxBytes: 50 });
  assert.deepEqual(plan.oversize, [items[1]]);
  assert.deepEqual(plan.chunks, [[items[0], items[2]]]);
  // An item that fits exactly alone is not oversize.
  const exact = '"' + "y".repeat(50 - 13 - 2) + '"';
  assert.equal(bytesOf(arrayBody([{ id: 0, group: "g", json: exact }])), 50);
  assert.deepEqual(chunkBySize([exact], { sizeOf: bytesOf, maxBytes: 50 }), {
    chunks: [[exact]],
    oversize: [],
  });
});

Deno.test("chunkBySize() caps items per group (the third seed's 100 identities / 100 features)", () => {
  const items = Array.from(
    { length: 250 },
    (_, i) => ({ kind: i % 2 === 0 ? "identity" : "feature", i }),
  );
  const plan = chunkBySize(items, {
    sizeOf: () => 10,
    groupOf: (item) => item.kind,
    maxItemsPerGroup: 100,
    maxBytes: 1_000_000,
  });
  assert.deepEqual(plan.chunks.map((chunk) => chunk.length), [200, 50]);
  for (const chunk of plan.chunks) {
    assert.ok(chunk.filter((item) => item.kind === "identity").length <= 100);
    assert.ok(chunk.filter((item) => item.kind === "feature").length <= 100);
  }
});

Deno.test("chunkBySize() accepts any iterable and returns nothing for no input", () => {
  function* generate() {
    yield "a";
    yield "b";
  }
  assert.deepEqual(chunkBySize(generate(), { sizeOf: () => 1, maxItems: 1 }).chunks, [["a"], [
    "b",
  ]]);
  assert.deepEqual(chunkBySize([], { sizeOf: () => 1 }), { chunks: [], oversize: [] });
});

Deno.test("chunkBySize() rejects bad caps with RangeError in std's form", () => {
  assert.throws(() => chunkBySize([], { sizeOf: () => 1, maxBytes: 0 }), {
    name: "RangeError",
    message: "Cannot chunk as 'maxBytes' must be a positive integer: current value is 0",
  });
  assert.throws(() => chunkBySize([], { sizeOf: () => 1, maxItems: 1.5 }), /'maxItems'.*1\.5/);
  assert.throws(
    () => chunkBySize([], { sizeOf: () => 1, maxItemsPerGroup: NaN }),
    /'maxItemsPerGroup'/,
  );
  assert.throws(() => chunkBySize([], { sizeOf: () => 1, maxItems: -1 }), RangeError);
});

Deno.test("jsonArrayFraming() counts the framing bytes and one comma per item after the first", () => {
  const framing = jsonArrayFraming("[", "]");
  assert.equal(framing.emptyBytes, 2);
  assert.equal(JSON_ARRAY_FRAMING.emptyBytes, bytesOf('{"events":[]}'));
  assert.equal(jsonArrayFraming('{"é":[', "]}").emptyBytes, bytesOf('{"é":[]}'));
  assert.equal(framing.itemBytes(5, true, "g", true), 5);
  assert.equal(
    framing.itemBytes(5, true, "other", false),
    6,
    "first of its group but not of the body",
  );
  assert.equal(framing.itemBytes(5, false, "g", false), 6);
});
