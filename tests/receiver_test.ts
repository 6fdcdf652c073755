import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { bearerAuth } from "../src/receiver/auth.ts";
import { createJsonRoute } from "../src/receiver/json_route.ts";
import { createReceiver, type Receiver, type ReceiverOptions } from "../src/receiver/receiver.ts";
import { callbackSink } from "../src/receiver/sink.ts";
import {
  BATCH_PATH,
  batchRequest,
  deferred,
  manualClock,
  recordingSink,
  wireEvent,
  withServer,
} from "./_receiver_fixtures.ts";

type Send = (request: Request) => Promise<Response>;
const MODES = ["direct", "http"] as const;

/** Runs `body` with a sender that calls the handler directly or goes over loopback HTTP. */
async function via(
  mode: (typeof MODES)[number],
  receiver: Receiver,
  body: (send: Send) => Promise<void>,
): Promise<void> {
  if (mode === "direct") return await body((request) => receiver(request));
  await withServer(receiver, (base) =>
    body(async (request) => {
      const url = new URL(request.url);
      const payload = request.body === null ? null : new Uint8Array(await request.arrayBuffer());
      return await fetch(`${base}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        body: payload,
      });
    }));
}

function setup(options: Partial<ReceiverOptions> = {}) {
  const sink = recordingSink();
  const receiver = createReceiver({ sink, onError: () => {}, ...options });
  return { sink, receiver };
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return await response.json() as Record<string, unknown>;
}

const events = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => wireEvent(from + i));

for (const mode of MODES) {
  Deno.test(`${mode}: a valid batch is stored in the sink and answered 200 with one result per event`, async () => {
    const { sink, receiver } = setup();
    await via(mode, receiver, async (send) => {
      const response = await send(batchRequest({ events: events(1, 3) }, { key: "batch-0001" }));
      assert.equal(response.status, 200);
      assert.deepEqual(await json(response), {
        accepted: 3,
        duplicates: 0,
        rejected: 0,
        results: [{ status: "accepted" }, { status: "accepted" }, { status: "accepted" }],
      });
    });
    assert.deepEqual(sink.events.map((e) => e.event), events(1, 3));
    assert.deepEqual(sink.events.map((e) => [e.tenant, e.route, e.key]), [
      ["default", "json", "evt-00000001"],
      ["default", "json", "evt-00000002"],
      ["default", "json", "evt-00000003"],
    ]);
  });

  Deno.test(`${mode}: an unknown path is 404 and a non-POST method is 405 with Allow`, async () => {
    const { receiver } = setup();
    await via(mode, receiver, async (send) => {
      const missing = await send(new Request("http://localhost/v2/nothing", { method: "POST" }));
      assert.equal(missing.status, 404);
      assert.equal((await json(missing)).error, "not_found");
      const wrong = await send(new Request(`http://localhost${BATCH_PATH}`, { method: "GET" }));
      assert.equal(wrong.status, 405);
      assert.equal(wrong.headers.get("allow"), "POST");
      assert.equal((await json(wrong)).error, "method_not_allowed");
    });
  });

  Deno.test(`${mode}: a missing Content-Type is 400, an unsupported one 415, a charset parameter is fine`, async () => {
    const { receiver } = setup();
    await via(mode, receiver, async (send) => {
      const body = new TextEncoder().encode(JSON.stringify({ events: [] }));
      const none = await send(
        new Request(`http://localhost${BATCH_PATH}`, { method: "POST", body }),
      );
      assert.equal(none.status, 400);
      assert.equal((await json(none)).error, "missing_content_type");
      const xml = await send(
        batchRequest({ events: [] }, { headers: { "content-type": "text/xml" } }),
      );
      assert.equal(xml.status, 415);
      assert.equal((await json(xml)).error, "unsupported_media_type");
      const charset = await send(
        batchRequest({ events: [] }, {
          headers: { "content-type": "Application/JSON; charset=utf-8" },
        }),
      );
      assert.equal(charset.status, 200);
    });
  });

  Deno.test(`${mode}: a body over the cap is 413 and nothing is stored`, async () => {
    const { sink, receiver } = setup({ maxBodyBytes: 4096 });
    await via(mode, receiver, async (send) => {
      const big = { events: events(1, 60) };
      assert.ok(JSON.stringify(big).length > 4096);
      const response = await send(batchRequest(big));
      assert.equal(response.status, 413);
      assert.equal((await json(response)).error, "payload_too_large");
      assert.equal((await send(batchRequest({ events: events(1, 2) }))).status, 200);
    });
    assert.equal(sink.events.length, 2);
  });

  Deno.test(`${mode}: malformed JSON and a body without an events array are 400 naming the problem`, async () => {
    const { receiver } = setup();
    await via(mode, receiver, async (send) => {
      const broken = await send(batchRequest('{"events":[{"type":'));
      assert.equal(broken.status, 400);
      const brokenBody = await json(broken);
      assert.equal(brokenBody.error, "malformed_json");
      assert.match(String(brokenBody.detail), /JSON/);
      const shape = await send(batchRequest({ records: [] }));
      assert.equal(shape.status, 400);
      assert.deepEqual(await json(shape), {
        error: "invalid_body",
        detail: `the body is an object without an 'events' array: expected {"events":[…]}`,
      });
      const invalidUtf8 = await send(batchRequest(new Uint8Array([0x7b, 0xff, 0x7d])));
      assert.equal(invalidUtf8.status, 400);
    });
  });

  Deno.test(`${mode}: a completed request key is answered 409 duplicate with the original results`, async () => {
    const { sink, receiver } = setup();
    const body = { events: [wireEvent(1), wireEvent(2, { type: "click" }), wireEvent(1)] };
    await via(mode, receiver, async (send) => {
      const first = await json(await send(batchRequest(body, { key: "batch-0001" })));
      assert.deepEqual(first.results, [
        { status: "accepted" },
        {
          status: "rejected",
          code: "invalid_field",
          reason: "'type' is \"click\": expected one of track, identify, alias",
          retryable: false,
        },
        { status: "duplicate" },
      ]);
      const again = await send(batchRequest(body, { key: "batch-0001" }));
      assert.equal(again.status, 409);
      const answer = await json(again);
      assert.equal(answer.error, "duplicate");
      assert.deepEqual(answer.results, first.results);
    });
    assert.equal(sink.events.length, 1);
    assert.equal(receiver.stats.duplicateRequests, 1);
  });

  Deno.test(`${mode}: a request key reused with a different body is 422`, async () => {
    const { sink, receiver } = setup();
    await via(mode, receiver, async (send) => {
      assert.equal(
        (await send(batchRequest({ events: events(1, 2) }, { key: "batch-0001" }))).status,
        200,
      );
      const reused = await send(batchRequest({ events: events(3, 2) }, { key: "batch-0001" }));
      assert.equal(reused.status, 422);
      assert.equal((await json(reused)).error, "idempotency_key_reused");
    });
    assert.equal(sink.events.length, 2);
  });

  Deno.test(`${mode}: the same key while the first request is processing is 409 in_progress with Retry-After`, async () => {
    const gate = deferred();
    const entered = deferred();
    const stored: unknown[] = [];
    const receiver = createReceiver({
      onError: () => {},
      sink: callbackSink(async (batch) => {
        if (stored.length === 0) {
          entered.resolve();
          await gate.promise;
        }
        stored.push(...batch);
      }),
    });
    await via(mode, receiver, async (send) => {
      const body = { events: events(1, 2) };
      const first = send(batchRequest(body, { key: "batch-0001" }));
      await entered.promise;
      const second = await send(batchRequest(body, { key: "batch-0001" }));
      assert.equal(second.status, 409);
      assert.equal(second.headers.get("retry-after"), "1");
      assert.equal((await json(second)).error, "in_progress");
      gate.resolve();
      assert.equal((await first).status, 200);
      assert.equal((await send(batchRequest(body, { key: "batch-0001" }))).status, 409);
    });
    assert.equal(stored.length, 2);
  });

  Deno.test(`${mode}: events seen before are duplicates, also when repeated within one request`, async () => {
    const { sink, receiver } = setup();
    await via(mode, receiver, async (send) => {
      await send(batchRequest({ events: events(1, 2) }));
      const answer = await json(
        await send(
          batchRequest({ events: [wireEvent(2), wireEvent(3), wireEvent(3), wireEvent(1)] }),
        ),
      );
      assert.deepEqual(answer, {
        accepted: 1,
        duplicates: 3,
        rejected: 0,
        results: [
          { status: "duplicate" },
          { status: "accepted" },
          { status: "duplicate" },
          { status: "duplicate" },
        ],
      });
    });
    assert.deepEqual(sink.events.map((e) => e.key), [
      "evt-00000001",
      "evt-00000002",
      "evt-00000003",
    ]);
  });

  Deno.test(`${mode}: a failing sink answers 503, releases the keys, and the retry is accepted`, async () => {
    let failures = 1;
    const stored: unknown[] = [];
    const receiver = createReceiver({
      onError: () => {},
      sink: callbackSink((batch) => {
        if (failures-- > 0) throw new Error("disk full");
        stored.push(...batch);
      }),
    });
    await via(mode, receiver, async (send) => {
      const body = { events: events(1, 3) };
      const failed = await send(batchRequest(body, { key: "batch-0001" }));
      assert.equal(failed.status, 503);
      assert.equal(failed.headers.get("retry-after"), "1");
      const failedBody = await json(failed);
      assert.equal(failedBody.error, "unavailable");
      assert.doesNotMatch(JSON.stringify(failedBody), /disk full/);
      const retry = await json(await send(batchRequest(body, { key: "batch-0001" })));
      assert.equal(retry.accepted, 3);
    });
    assert.equal(stored.length, 3);
    assert.equal(receiver.stats.sinkFailures, 1);
  });

  Deno.test(`${mode}: keys of different tenants never collide, and bad tokens are 401 without echo`, async () => {
    const auth = bearerAuth({
      tokens: { "token-of-acme-0001": "acme", "token-of-beta-0002": "beta" },
    });
    const { sink, receiver } = setup({ routes: [createJsonRoute({ auth })] });
    await via(mode, receiver, async (send) => {
      const body = { events: events(1, 2) };
      const acme = await json(
        await send(batchRequest(body, { key: "batch-0001", token: "token-of-acme-0001" })),
      );
      const beta = await json(
        await send(batchRequest(body, { key: "batch-0001", token: "token-of-beta-0002" })),
      );
      assert.equal(acme.accepted, 2);
      assert.equal(beta.accepted, 2);
      const denied = await send(batchRequest(body, { token: "token-of-acme-0001-guess" }));
      assert.equal(denied.status, 401);
      const text = await denied.text();
      assert.doesNotMatch(text, /token-of/);
      assert.deepEqual(JSON.parse(text), {
        error: "unauthorized",
        detail: "the bearer token is not valid",
      });
      const missing = await send(batchRequest(body));
      assert.equal(missing.status, 401);
      assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer/);
    });
    assert.deepEqual(sink.events.map((e) => e.tenant), ["acme", "acme", "beta", "beta"]);
  });
}

Deno.test("http: concurrent requests with the same key never both get accepted", async () => {
  const { sink, receiver } = setup();
  await withServer(receiver, async (base) => {
    const body = JSON.stringify({ events: events(1, 50) });
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${base}${BATCH_PATH}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-idempotency-key": "batch-race-1" },
          body,
        }).then(async (response) => {
          await response.body?.cancel();
          return response.status;
        })),
    );
    assert.equal(statuses.filter((status) => status === 200).length, 1, statuses.join(","));
    assert.ok(statuses.every((status) => status === 200 || status === 409), statuses.join(","));
  });
  assert.equal(sink.events.length, 50);
});

Deno.test("http: concurrent requests sharing event keys store each event once", async () => {
  const gate = deferred();
  const entered = deferred();
  let calls = 0;
  const stored: string[] = [];
  const receiver = createReceiver({
    onError: () => {},
    sink: callbackSink(async (batch) => {
      // Hold the first write so the other requests meet claims still in progress.
      if (calls++ === 0) {
        entered.resolve();
        await gate.promise;
      }
      stored.push(...batch.map((e) => e.key!));
    }),
  });
  await withServer(receiver, async (base) => {
    const body = JSON.stringify({ events: events(1, 40) });
    const post = (n: number) =>
      fetch(`${base}${BATCH_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-idempotency-key": `batch-${1000 + n}` },
        body,
      }).then((response) =>
        response.json() as Promise<{ results: { status: string; retryable?: boolean }[] }>
      );
    const first = post(0);
    await entered.promise;
    const others = await Promise.all(Array.from({ length: 8 }, (_, n) => post(n + 1)));
    gate.resolve();
    const firstAnswer = await first;
    assert.ok(firstAnswer.results.every((r) => r.status === "accepted"));
    for (const answer of others) {
      // Still being processed elsewhere: retryable rejections, never "duplicate" before it is stored.
      assert.ok(answer.results.every((r) => r.status === "rejected" && r.retryable === true));
    }
    const late = await post(99);
    assert.ok(late.results.every((r) => r.status === "duplicate"));
    // A request answered with retryable records keeps no completed key: resent as is, it is answered afresh.
    const resent = await post(1);
    assert.ok(resent.results.every((r) => r.status === "duplicate"));
  });
  assert.equal(stored.length, 40);
  assert.equal(new Set(stored).size, 40);
});

Deno.test("direct: records with bad fields are rejected with clear reasons and the rest accepted", async () => {
  const { sink, receiver } = setup();
  const bad = [
    42,
    wireEvent(2, { type: undefined }),
    wireEvent(3, { event: "" }),
    wireEvent(4, { properties: [1] }),
    wireEvent(5, { timestamp: "yesterday" }),
    wireEvent(6, { idempotency_key: "short" }),
    wireEvent(7, { user_id: undefined }),
    wireEvent(8, { user_id: undefined, anonymous_id: "anon-8" }),
    wireEvent(9, { context: "ctx" }),
    wireEvent(10, { attachments: [{ url: "file:///etc/passwd" }] }),
    wireEvent(11, { attachments: [{ url: "https://example.com/a.pdf", ignore_if_error: "no" }] }),
  ];
  const answer = await json(await receiver(batchRequest({ events: bad })));
  const results = answer.results as Record<string, unknown>[];
  const codes = results.map((r) => r.status === "rejected" ? `${r.code}: ${r.reason}` : r.status);
  assert.deepEqual(codes, [
    "invalid_event: the event is a number: expected an object",
    "missing_field: 'type' is missing: expected one of track, identify, alias",
    "invalid_field: 'event' is empty: expected a non-empty string",
    "invalid_field: 'properties' is an array: expected an object",
    `invalid_field: 'timestamp' is not an ISO 8601 date-time: expected e.g. "2026-11-25T08:00:00.000Z"`,
    `invalid_idempotency_key: 'idempotency_key': Cannot use idempotency key "short" (5 chars): it breaks the 'minLength' rule of the 'strict' policy, which allows 8–64 characters of letters, digits, '.', '_' and '-'`,
    "missing_field: 'user_id' and 'anonymous_id' are both missing: expected at least one",
    "accepted",
    "invalid_field: 'context' is a string: expected an object",
    "invalid_field: 'attachments[0].url' is not an http: or https: URL: expected a publicly reachable URL",
    "invalid_field: 'attachments[0].ignore_if_error' is a string: expected a boolean",
  ]);
  assert.equal(answer.rejected, 10);
  assert.equal(answer.accepted, 1);
  assert.deepEqual(sink.events.map((e) => e.key), ["evt-00000008"]);
});

Deno.test("direct: a timestamp is taken at every field's bound and refused one past it", async () => {
  const taken = [
    "2026-01-01T00:00:00Z",
    "2026-12-31T23:59:59.999999999Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T24:00:00.000Z",
    "2026-01-01T00:00:00+23:59",
    "2026-01-01T00:00:00-00:00",
    "0000-01-01T00:00:00Z",
  ];
  const refused = [
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "2026-01-32T00:00:00Z",
    "2026-01-01T24:00:01Z",
    "2026-01-01T24:00:00.001Z",
    "2026-01-01T25:00:00Z",
    "2026-01-01T23:60:00Z",
    "2026-01-01T23:59:60Z",
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00+12:60",
  ];
  const { receiver } = setup();
  const answer = await json(
    await receiver(batchRequest({
      events: [...taken, ...refused].map((timestamp, i) => wireEvent(i + 1, { timestamp })),
    })),
  );
  assert.deepEqual(
    (answer.results as { status: string }[]).map((r) => r.status),
    [...taken.map(() => "accepted"), ...refused.map(() => "rejected")],
  );
});

Deno.test("direct: an event over maxEventBytes is rejected and the rest accepted", async () => {
  const { sink, receiver } = setup({ maxEventBytes: 1000 });
  const huge = wireEvent(2, { properties: { blob: "y".repeat(2000) } });
  const answer = await json(
    await receiver(batchRequest({ events: [wireEvent(1), huge, wireEvent(3)] })),
  );
  assert.deepEqual((answer.results as unknown[])[1], {
    status: "rejected",
    code: "event_too_large",
    reason: "the event is larger than 1000 bytes",
    retryable: false,
  });
  assert.deepEqual(sink.events.map((e) => e.key), ["evt-00000001", "evt-00000003"]);
});

Deno.test("direct: maxEventBytes counts an event's UTF-8 bytes: at the limit accepted, one byte over rejected", async () => {
  // "é" is 1 UTF-16 unit and 2 UTF-8 bytes, "😀" 2 units and 4 bytes: the length alone misjudges both.
  const sized = (n: number, bytes: number, char: string) => {
    const base = new TextEncoder().encode(JSON.stringify(wireEvent(n, { properties: { t: "" } })))
      .byteLength;
    const charBytes = new TextEncoder().encode(char).byteLength;
    const fill = bytes - base;
    const text = char.repeat(Math.floor(fill / charBytes)) + "x".repeat(fill % charBytes);
    const event = wireEvent(n, { properties: { t: text } });
    assert.equal(new TextEncoder().encode(JSON.stringify(event)).byteLength, bytes);
    return event;
  };
  const max = 1200;
  const { sink, receiver } = setup({ maxEventBytes: max });
  const answer = await json(
    await receiver(batchRequest({
      events: [
        sized(1, max, "é"),
        sized(2, max + 1, "é"),
        sized(3, max, "😀"),
        sized(4, max + 1, "😀"),
        sized(5, max + 1, "x"),
      ],
    })),
  );
  assert.deepEqual(
    (answer.results as { status: string; code?: string }[]).map((r) => r.code ?? r.status),
    ["accepted", "event_too_large", "accepted", "event_too_large", "event_too_large"],
  );
  assert.deepEqual(sink.events.map((e) => e.key), ["evt-00000001", "evt-00000003"]);
});

Deno.test("direct: more events than maxEventsPerRequest is 413 too_many_events", async () => {
  const { sink, receiver } = setup({ maxEventsPerRequest: 5 });
  const response = await receiver(batchRequest({ events: events(1, 6) }));
  assert.equal(response.status, 413);
  assert.equal((await json(response)).error, "too_many_events");
  assert.equal((await receiver(batchRequest({ events: events(1, 5) }))).status, 200);
  assert.equal(sink.events.length, 5);
});

Deno.test("direct: a streamed body is no longer read once it passes the cap", async () => {
  const { receiver } = setup({ maxBodyBytes: 64 * 1024 });
  let pulled = 0;
  const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += chunk.byteLength;
      if (pulled > 64 * 1024 * 1024) controller.close();
      else controller.enqueue(chunk);
    },
  });
  const response = await receiver(
    new Request(`http://localhost${BATCH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    }),
  );
  assert.equal(response.status, 413);
  assert.ok(pulled <= 64 * 1024 + 3 * chunk.byteLength, `pulled ${pulled} bytes`);
});

Deno.test("http: a declared Content-Length over the cap is 413 before the body is read", async () => {
  const { receiver } = setup({ maxBodyBytes: 1024 });
  await withServer(receiver, async (base) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(base).port) });
    try {
      // Headers only: the 10 MB body is never sent, so an answer proves the server did not wait for it.
      await conn.write(new TextEncoder().encode(
        `POST ${BATCH_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n`,
      ));
      const buffer = new Uint8Array(4096);
      const n = await conn.read(buffer);
      assert.match(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), /^HTTP\/1\.1 413/);
    } finally {
      conn.close();
    }
  });
});

Deno.test("direct: a gzip body is inflated, and a gzip bomb is 413", async () => {
  const { sink, receiver } = setup({ maxBodyBytes: 64 * 1024 });
  const gzipped = gzipSync(JSON.stringify({ events: events(1, 3) }));
  const ok = await receiver(
    batchRequest(new Uint8Array(gzipped), { headers: { "content-encoding": "gzip" } }),
  );
  assert.equal(ok.status, 200);
  assert.equal(sink.events.length, 3);
  const bomb = gzipSync(" ".repeat(10 * 1024 * 1024));
  assert.ok(bomb.byteLength < 64 * 1024);
  const refused = await receiver(
    batchRequest(new Uint8Array(bomb), { headers: { "content-encoding": "gzip" } }),
  );
  assert.equal(refused.status, 413);
  const br = await receiver(
    batchRequest({ events: [] }, { headers: { "content-encoding": "br" } }),
  );
  assert.equal(br.status, 415);
});

Deno.test("direct: keys are forgotten after keyTtlMs of the injected clock", async () => {
  const clock = manualClock();
  const { sink, receiver } = setup({ clock });
  const body = { events: events(1, 1) };
  assert.equal((await receiver(batchRequest(body, { key: "batch-0001" }))).status, 200);
  clock.advance(24 * 60 * 60 * 1000 - 1);
  assert.equal((await receiver(batchRequest(body, { key: "batch-0001" }))).status, 409);
  assert.equal((await json(await receiver(batchRequest(body)))).duplicates, 1);
  clock.advance(1);
  assert.equal((await receiver(batchRequest(body, { key: "batch-0001" }))).status, 200);
  assert.equal(sink.events.length, 2);
});

Deno.test("direct: the rate limit is per tenant and answers 429 with Retry-After", async () => {
  const clock = manualClock();
  const auth = bearerAuth({ tokens: { "token-a-000001": "a", "token-b-000002": "b" } });
  const { receiver } = setup({
    clock,
    routes: [createJsonRoute({ auth })],
    rateLimit: { requestsPerSecond: 2, burst: 2 },
  });
  const post = (token: string) => receiver(batchRequest({ events: [] }, { token }));
  assert.equal((await post("token-a-000001")).status, 200);
  assert.equal((await post("token-a-000001")).status, 200);
  const limited = await post("token-a-000001");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "1");
  assert.equal((await json(limited)).error, "rate_limited");
  assert.equal((await post("token-b-000002")).status, 200);
  clock.advance(500);
  assert.equal((await post("token-a-000001")).status, 200);
  assert.equal(receiver.stats.rateLimited, 1);
});

Deno.test("direct: rateLimit true allows a burst of 500 then 100 requests per second", async () => {
  const clock = manualClock();
  const { receiver } = setup({ clock, rateLimit: true });
  const statuses: number[] = [];
  for (let i = 0; i < 501; i++) {
    statuses.push((await receiver(batchRequest({ events: [] }))).status);
  }
  assert.equal(statuses.filter((s) => s === 200).length, 500);
  assert.equal(statuses[500], 429);
  clock.advance(10);
  assert.equal((await receiver(batchRequest({ events: [] }))).status, 200);
  assert.equal((await receiver(batchRequest({ events: [] }))).status, 429);
});

Deno.test("createReceiver() rejects bad options with RangeError/TypeError", () => {
  const sink = recordingSink();
  assert.throws(() => createReceiver({ sink, maxBodyBytes: 0 }), {
    name: "RangeError",
    message:
      "Cannot create receiver as 'maxBodyBytes' must be a positive integer: current value is 0",
  });
  assert.throws(() => createReceiver({ sink, routes: [] }), RangeError);
  assert.throws(() => createReceiver({ sink: {} as never }), TypeError);
  assert.throws(
    () => createReceiver({ sink, rateLimit: { requestsPerSecond: 0, burst: 1 } }),
    RangeError,
  );
  // A misspelt option is refused, not ignored (its default would apply silently).
  assert.throws(
    () => createReceiver({ sink, maxBodySize: 1024 } as Parameters<typeof createReceiver>[0]),
    (error: unknown) =>
      error instanceof TypeError &&
      /^Cannot create receiver as 'maxBodySize' is not one of its options: expected .*\bmaxBodyBytes\b/
        .test(error.message),
  );
});
