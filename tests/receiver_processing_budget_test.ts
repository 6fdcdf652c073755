import assert from "node:assert/strict";
import { createJsonRoute } from "../src/receiver/json_route.ts";
import { ReceiverMetrics } from "../src/receiver/metrics.ts";
import { createReceiver, type Receiver } from "../src/receiver/receiver.ts";
import type { Route } from "../src/receiver/route.ts";
import { type AcceptedEvent, callbackSink } from "../src/receiver/sink.ts";
import {
  BATCH_PATH,
  deferred,
  recordingSink,
  wireEvent,
  withServer,
} from "./_receiver_fixtures.ts";

const encoder = new TextEncoder();

/** A batch body of `count` events with keys from `first` on. */
function body(first: number, count: number): Uint8Array {
  const events = Array.from({ length: count }, (_, i) => wireEvent(first + i));
  return encoder.encode(JSON.stringify({ events }));
}

async function post(base: string, payload: Uint8Array): Promise<Response> {
  return await fetch(`${base}${BATCH_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: payload as Uint8Array<ArrayBuffer>,
  });
}

/** Waits (bounded) until `condition` holds. */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(condition(), `timed out waiting until ${what}`);
}

Deno.test("requests past maxProcessingBytes wait in arrival order with their bodies read; one alone passes however large", async () => {
  const a = body(0, 10);
  const b = body(100, 30);
  const c = body(200, 1);
  // A + C fit, but C arrives behind B, which does not fit beside A and is over the budget alone.
  const budget = a.byteLength + c.byteLength;
  assert.ok(b.byteLength > budget);
  const started: string[] = [];
  const gates = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const sink = callbackSink(async (batch: readonly AcceptedEvent[]) => {
    const name = { "evt-00000000": "A", "evt-00000100": "B", "evt-00000200": "C" }[batch[0]!.key!]!;
    started.push(name);
    const gate = deferred();
    gates.set(name, gate);
    await gate.promise;
  });
  const receiver: Receiver = createReceiver({
    sink,
    maxProcessingBytes: budget,
    onError: () => {},
  });
  const metrics = new ReceiverMetrics();
  await withServer(receiver, async (base) => {
    const answers = [post(base, a)];
    // A failed wait must not leave requests hanging (the server waits for them).
    const releaseAll = () => gates.forEach((gate) => gate.resolve());
    try {
      await until("A is being stored", () => started.length === 1);
      answers.push(post(base, b));
      await until("B waits", () => receiver.stats.waiting === 1);
      answers.push(post(base, c));
      await until("C waits", () => receiver.stats.waiting === 2);
      assert.deepEqual(started, ["A"]);
      assert.match(metrics.render(receiver.stats), /^idemtrack_receiver_requests_waiting 2$/m);
      gates.get("A")!.resolve();
      await until("B is being stored", () => started.length === 2);
      assert.deepEqual(started, ["A", "B"]);
      // B alone is over the budget too: C waits until B is done.
      assert.equal(receiver.stats.waiting, 1);
      gates.get("B")!.resolve();
      await until("C is being stored", () => started.length === 3);
    } finally {
      releaseAll();
    }
    for (const answer of answers) {
      const response = await answer;
      assert.equal(response.status, 200);
      assert.equal((await response.json()).rejected, 0);
    }
  });
  assert.deepEqual(started, ["A", "B", "C"]);
  assert.equal(receiver.stats.waiting, 0);
  assert.equal(receiver.stats.accepted, 41);
});

Deno.test("small requests are processed together within maxProcessingBytes", async () => {
  const bodies = Array.from({ length: 4 }, (_, i) => body(i * 10, 2));
  let storing = 0;
  let mostAtOnce = 0;
  const release = deferred();
  const sink = callbackSink(async () => {
    mostAtOnce = Math.max(mostAtOnce, ++storing);
    await release.promise;
    storing--;
  });
  const receiver = createReceiver({
    sink,
    maxProcessingBytes: 3 * Math.max(...bodies.map((payload) => payload.byteLength)),
    onError: () => {},
  });
  await withServer(receiver, async (base) => {
    const answers = bodies.map((payload) => post(base, payload));
    try {
      await until(
        "three are stored at once and one waits",
        () => storing === 3 && receiver.stats.waiting === 1,
      );
    } finally {
      release.resolve();
    }
    for (const answer of answers) assert.equal((await answer).status, 200);
  });
  assert.equal(mostAtOnce, 3);
});

Deno.test("maxProcessingBytes must be a positive integer or Infinity", () => {
  const sink = recordingSink();
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => createReceiver({ sink, maxProcessingBytes: bad }),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message ===
          `Cannot create receiver as 'maxProcessingBytes' must be a positive integer: current value is ${bad}`,
    );
  }
  createReceiver({ sink, maxProcessingBytes: Infinity });
});

Deno.test("the receiver frees a request's body buffer once it has answered, and what was decoded stays whole", async () => {
  const seen: Uint8Array[] = [];
  const json = createJsonRoute();
  const route: Route = {
    ...json,
    decode(request, payload, context) {
      seen.push(payload);
      return json.decode(request, payload, context);
    },
  };
  const sink = recordingSink();
  const receiver = createReceiver({ sink, routes: [route], onError: () => {} });
  await withServer(receiver, async (base) => {
    const payload = body(0, 3);
    const response = await post(base, payload);
    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.byteLength, 0, "the body's buffer is released");
  });
  assert.deepEqual(
    sink.events.map(({ key, event }) => [key, event.user_id]),
    [0, 1, 2].map((n) => [`evt-${String(n).padStart(8, "0")}`, `user-${n}`]),
  );
});
