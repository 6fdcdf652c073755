import assert from "node:assert/strict";
import { Client, type ClientOptions } from "../src/client.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import { isQueueFullError } from "../src/errors/queue_full_error.ts";
import { LENIENT_KEY_POLICY } from "../src/idempotency_key.ts";
import type { TransportRequest } from "../src/ports/transport.ts";
import { jsonProfile, jsonWireText } from "../src/profiles/json/profile.ts";
import { createEvent, type EventInput } from "../src/event.ts";

// `track()` queues an event before its bytes are written (see PackedQueue.pushText): sizes,
// bounds and batches must still be those of the exact UTF-8 bytes, non-ASCII ones included.

const encoder = new TextEncoder();
const iso = (ms: number) => new Date(ms).toISOString();

function capturing(options: Partial<ClientOptions> = {}) {
  const bodies: Uint8Array[] = [];
  const client = new Client({
    endpoint: "http://collector.test",
    exitHook: false,
    flushAt: Infinity,
    flushIntervalMs: 0,
    keyPolicy: LENIENT_KEY_POLICY,
    transport: (request: TransportRequest) => {
      bodies.push(request.body.slice());
      const count = JSON.parse(new TextDecoder().decode(request.body)).events.length;
      return Promise.resolve({
        status: 200,
        headers: new Headers(),
        body: JSON.stringify({ accepted: count, duplicates: 0, rejected: 0 }),
      });
    },
    ...options,
  });
  return { client, bodies };
}

/** Inputs with ASCII and non-ASCII text and keys (2-, 3- and 4-byte characters), fixed timestamps. */
function inputs(count: number): EventInput[] {
  const texts = ["plain", "café", "€ 12", "🎉 party", "\u2028 line", "naïve ".repeat(30)];
  return Array.from({ length: count }, (_, i) => ({
    name: "viewed",
    userId: i % 7 === 0 ? `ユーザー-${i}` : `user-${i}`,
    properties: { title: texts[i % texts.length]!, n: i },
    timestamp: 1_700_000_000_000 + i,
    idempotencyKey: i % 5 === 0 ? `clé-${i}-🔑` : `key-${String(i).padStart(6, "0")}`,
  }));
}

const bytesOf = (input: EventInput) =>
  encoder.encode(jsonWireText(createEvent(input, { keyPolicy: LENIENT_KEY_POLICY }), iso));

function joined(events: Uint8Array[]): Uint8Array {
  const text = `{"events":[${events.map((e) => new TextDecoder().decode(e)).join(",")}]}`;
  return encoder.encode(text);
}

Deno.test("events queued unsized are delivered as exactly TextEncoder's bytes of their text, and counted so", async () => {
  const { client, bodies } = capturing();
  const all = inputs(500);
  let bytes = 0;
  for (const input of all) {
    client.trackEvent(input);
    bytes += bytesOf(input).length;
    // A reader of the count sees the exact bytes at any point.
    if (all.indexOf(input) % 37 === 0) assert.equal(client.stats().queuedBytes, bytes);
  }
  assert.equal(client.stats().queuedBytes, bytes);
  const result = await client.flush();
  assert.equal(result.success, 500);
  assert.deepEqual(bodies, [joined(all.map(bytesOf))]);
  await client.close();
});

Deno.test("batches of events queued unsized are cut at maxBatchBytes by exact bytes, not by length", async () => {
  // Each event is ~2× as many bytes as characters: sizing them by length would put twice as many
  // in a request.
  const all = Array.from({ length: 60 }, (_, i): EventInput => ({
    name: "viewed",
    userId: "u1",
    properties: { title: "é".repeat(200) },
    timestamp: 0,
    idempotencyKey: `key-${String(i).padStart(6, "0")}`,
  }));
  const size = bytesOf(all[0]!).length;
  const perRequest = 5;
  const maxBatchBytes = 11 + perRequest * (size + 1) + 1;
  const { client, bodies } = capturing({ maxBatchBytes });
  for (const input of all) client.trackEvent(input);
  await client.flush();
  assert.equal(bodies.length, all.length / perRequest);
  for (let i = 0; i < bodies.length; i++) {
    const slice = all.slice(i * perRequest, (i + 1) * perRequest);
    assert.deepEqual(bodies[i], joined(slice.map(bytesOf)));
  }
  await client.close();
});

Deno.test("maxQueueBytes and maxEventBytes bound events queued unsized by their exact bytes", async () => {
  const all = inputs(30);
  const sizes = all.map((input) => bytesOf(input).length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const { client } = capturing({ maxQueueBytes: total });
  for (const input of all) client.trackEvent(input);
  assert.equal(client.stats().queuedBytes, total);
  assert.throws(
    () => client.trackEvent({ ...all[0]!, idempotencyKey: "one-more-event" }),
    (error) => isQueueFullError(error) && error.bound === "bytes",
  );
  await client.flush();

  // Three times the characters is over the cap, the bytes are not: accepted.
  const text = "é".repeat(300);
  const event = { name: "e", userId: "u1", properties: { text }, timestamp: 0 };
  const exact = bytesOf({ ...event, idempotencyKey: "k".repeat(36) }).length;
  const { client: capped, bodies } = capturing({
    profile: jsonProfile({ endpoint: "http://collector.test", limits: { maxEventBytes: exact } }),
  });
  capped.trackEvent({ ...event, idempotencyKey: "k".repeat(36) });
  assert.throws(
    () => capped.trackEvent({ ...event, properties: { text: text + "é" } }),
    (error) =>
      isEventValidationError(error) && error.message.includes(`encodes to ${exact + 2} bytes`),
  );
  await capped.flush();
  assert.equal(bodies.length, 1);
  await capped.close();
  await client.close();
});
