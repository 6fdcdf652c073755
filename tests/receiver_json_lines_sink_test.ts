import assert from "node:assert/strict";
import { JsonLinesSink } from "../src/receiver/json_lines_sink.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import type { AcceptedEvent } from "../src/receiver/sink.ts";
import { batchRequest, wireEvent } from "./_receiver_fixtures.ts";

function accepted(request: number, count: number): AcceptedEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    tenant: "acme",
    route: "json",
    key: `r${request}-e${i}`,
    receivedAt: 1_790_000_000_000 + request,
    event: { request, index: i, text: 'é✓\n"quoted"' },
  }));
}

async function readLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text.endsWith("\n"));
  return text.trimEnd().split("\n").map((line) => JSON.parse(line));
}

Deno.test("JsonLinesSink appends one JSON line per event and keeps appending after a reopen", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/events.jsonl`;
  try {
    const first = new JsonLinesSink(path);
    await first.write(accepted(1, 2));
    await first.close();
    const second = new JsonLinesSink(path, { sync: true });
    await second.write(accepted(2, 1));
    await second.close();
    const lines = await readLines(path);
    assert.deepEqual(lines[0], {
      tenant: "acme",
      route: "json",
      key: "r1-e0",
      received_at: 1_790_000_000_001,
      event: { request: 1, index: 0, text: 'é✓\n"quoted"' },
    });
    assert.deepEqual(lines.map((line) => line.key), ["r1-e0", "r1-e1", "r2-e0"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JsonLinesSink keeps every concurrent write whole and in one piece", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/events.jsonl`;
  try {
    const sink = new JsonLinesSink(path);
    await Promise.all(Array.from({ length: 50 }, (_, n) => sink.write(accepted(n, 10))));
    await sink.close();
    const lines = await readLines(path);
    assert.equal(lines.length, 500);
    // Each request's lines are contiguous and in order.
    for (let start = 0; start < 500; start += 10) {
      const request = (lines[start]!.event as { request: number }).request;
      assert.deepEqual(
        lines.slice(start, start + 10).map((line) => line.key),
        Array.from({ length: 10 }, (_, i) => `r${request}-e${i}`),
      );
    }
    await assert.rejects(() => sink.write(accepted(99, 1)), /closed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a JsonLinesSink that cannot write makes the receiver answer 503 and keep the keys free", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = new JsonLinesSink(`${dir}/missing-dir/events.jsonl`);
    const receiver = createReceiver({ sink, onError: () => {} });
    const body = { events: [wireEvent(1)] };
    assert.equal((await receiver(batchRequest(body, { key: "batch-0001" }))).status, 503);
    await Deno.mkdir(`${dir}/missing-dir`);
    const retry = await receiver(batchRequest(body, { key: "batch-0001" }));
    assert.equal((await retry.json()).accepted, 1);
    await receiver.close();
    assert.equal((await readLines(`${dir}/missing-dir/events.jsonl`)).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JsonLinesSink refuses an empty path with a TypeError", () => {
  assert.throws(() => new JsonLinesSink(""), TypeError);
});

Deno.test("JsonLinesSink writes each line byte for byte as JSON.stringify of the record, reusing a given event JSON", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/events.jsonl`;
  try {
    const events: AcceptedEvent[] = [
      { tenant: 'a"b', route: "json", key: "k\u2028", receivedAt: 1, event: { x: [1, "é"] } },
      { tenant: 'a"b', route: "json", receivedAt: 2, event: { y: null } },
      {
        tenant: "t2",
        route: "hamustro",
        key: "s:1",
        receivedAt: 3,
        event: { z: 1 },
        json: '{"z":1}',
      },
    ];
    const sink = new JsonLinesSink(path);
    await sink.write(events);
    await sink.close();
    const expected = events.map(({ tenant, route, key, receivedAt, event }) =>
      JSON.stringify({ tenant, route, key, received_at: receivedAt, event }) + "\n"
    ).join("");
    assert.equal(await Deno.readTextFile(path), expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a write larger than the sink's largest buffer (4 MB), with characters of every UTF-8 length, reads back whole", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    const sink = new JsonLinesSink(path);
    const note = "aé€😀".repeat(20_000); // 1-, 2-, 3- and 4-byte characters, ~200 KB per event
    // 48 × ~100 000 UTF-16 units: past the buffer's 4 MB cap, in ~10 MB of UTF-8.
    const events = Array.from({ length: 48 }, (_, n) => ({
      tenant: "t",
      route: "json",
      key: `k-${n}`,
      receivedAt: n,
      event: { n, note },
    }));
    await sink.write(events);
    await sink.close();
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n").map((line) =>
      JSON.parse(line)
    );
    assert.deepEqual(
      lines.map((line) => [line.key, line.event.n, line.event.note === note]),
      events.map(({ key, event }) => [key, event.n, true]),
    );
  } finally {
    await Deno.remove(path);
  }
});
