/**
 * The Hamustro route against the reference collector's behaviour
 * (microsoftarchive/hamustro@11a205f `src/track.go`, `src/track_test.go`,
 * bfaludi/remoteip `remoteip_test.go`; the cases are in
 * tests/fixtures/hamustro_reference.json with their sources), over loopback
 * through the receiver.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hamustroRoute } from "../src/hamustro/route.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { recordingSink, withServer } from "./_receiver_fixtures.ts";

const SECRET = "reference-secret";
const md5 = (text: string | Uint8Array) => createHash("md5").update(text).digest("hex");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const sign = (time: string, body: Uint8Array) =>
  createHash("sha256").update(`${time}|${md5(body)}|${SECRET}`).digest("base64");
const DEVICE = sha256("device-1");

interface ReferenceFixture {
  source: Record<string, string>;
  remoteIp: { headers: Record<string, string>; ip: string | null }[];
  json: { label: string; body: string; status: number }[];
}
const FIXTURE: ReferenceFixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/hamustro_reference.json", import.meta.url)),
);

function collection(payloads: unknown[], env: number | string = 0) {
  return {
    device_id: DEVICE,
    client_id: "c1",
    session: md5(`${DEVICE}:c1:14.1:2.3:${typeof env === "number" ? env : 0}`),
    system_version: "14.1",
    product_version: "2.3",
    env,
    payloads,
  };
}

async function post(
  base: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
  time = String(Math.floor(Date.now() / 1000)),
): Promise<Response> {
  return await fetch(`${base}/api/v1/track`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-Hamustro-Time": time,
      "X-Hamustro-Signature": sign(time, body),
      ...headers,
    },
    body: body as Uint8Array<ArrayBuffer>,
  });
}

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

Deno.test("two different payloads under one session:nr are both stored and the conflict is counted, while an identical resend is a duplicate", async () => {
  const sink = recordingSink();
  const route = hamustroRoute({ sharedSecretKey: SECRET });
  const receiver = createReceiver({ sink, routes: [route] });
  await withServer(receiver, async (base) => {
    // The reference's own test fixture gives every payload nr 1.
    const first = encode(collection([
      { at: 1454514088, event: "App.Open", nr: 1 },
      { at: 1454514089, event: "Task.Create", nr: 1 },
    ]));
    const answer = await post(base, first);
    assert.equal(answer.status, 200);
    await answer.body?.cancel();
    assert.deepEqual(sink.events.map((e) => e.event.event), ["App.Open", "Task.Create"]);
    assert.equal(sink.events[0]?.event.nr_conflict, undefined);
    assert.equal(sink.events[1]?.event.nr_conflict, true);
    // The same collection again (a resend after a lost 200): nothing new.
    const resent = await post(base, first);
    assert.equal(resent.status, 200);
    await resent.body?.cancel();
    assert.equal(sink.events.length, 2);
    // A third payload under nr 1 in a later request: stored and flagged.
    const later = await post(base, encode(collection([{ at: 1454514090, event: "x", nr: 1 }])));
    assert.equal(later.status, 200);
    await later.body?.cancel();
    assert.equal(sink.events.length, 3);
    assert.equal(sink.events[2]?.event.nr_conflict, true);
    assert.equal(route.stats.nrConflicts, 2);
    assert.equal(receiver.stats.duplicates, 2);
  });
  await receiver.close();
});

Deno.test("a payload without ip takes the first public IPv4 of X-Forwarded-For, then X-Real-Ip, never the socket's", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({ sink, routes: [hamustroRoute({ sharedSecretKey: SECRET })] });
  await withServer(receiver, async (base) => {
    let nr = 0;
    for (const { headers, ip } of FIXTURE.remoteIp) {
      nr++;
      const answer = await post(base, encode(collection([{ at: 1, event: "e", nr }])), headers);
      assert.equal(answer.status, 200);
      await answer.body?.cancel();
      assert.equal(sink.events.at(-1)?.event.ip, ip ?? undefined, JSON.stringify(headers));
    }
    // A payload's own ip is kept.
    const own = await post(
      base,
      encode(collection([{ at: 1, event: "e", nr: 999, ip: "10.1.1.1" }])),
      {
        "X-Forwarded-For": "198.51.100.1",
      },
    );
    await own.body?.cancel();
    assert.equal(sink.events.at(-1)?.event.ip, "10.1.1.1");
  });
  await receiver.close();
});

Deno.test("JSON bodies get the reference collector's status codes", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({ sink, routes: [hamustroRoute({ sharedSecretKey: SECRET })] });
  await withServer(receiver, async (base) => {
    for (const { label, body, status } of FIXTURE.json) {
      const text = body.replaceAll("$SESSION", collection([]).session).replaceAll(
        "$DEVICE",
        DEVICE,
      );
      const answer = await post(base, new TextEncoder().encode(text));
      assert.equal(answer.status, status, label);
      await answer.body?.cancel();
    }
  });
  await receiver.close();
});

Deno.test("an env outside the enum is accepted, its session computed with the number, and reported as the number", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({ sink, routes: [hamustroRoute({ sharedSecretKey: SECRET })] });
  await withServer(receiver, async (base) => {
    const answer = await post(base, encode(collection([{ at: 1, event: "e", nr: 1 }], 12)));
    assert.equal(answer.status, 200);
    await answer.body?.cancel();
    assert.equal(sink.events[0]?.event.env, 12);
    const unknownName = await post(
      base,
      encode(collection([{ at: 1, event: "e", nr: 2 }], "GAMMA")),
    );
    assert.equal(unknownName.status, 400);
    await unknownName.body?.cancel();
  });
  await receiver.close();
});

Deno.test("the time window can be turned off, as the reference collector has none, while signatures are still checked", async () => {
  const sink = recordingSink();
  const receiver = createReceiver({
    sink,
    routes: [hamustroRoute({ sharedSecretKey: SECRET, maxClockSkewMs: false })],
  });
  await withServer(receiver, async (base) => {
    // track_test.go signs with a fixed time from 2016.
    const body = encode(collection([{ at: 1454514088, event: "e", nr: 1 }]));
    const old = await post(base, body, {}, "1454514088");
    assert.equal(old.status, 200);
    await old.body?.cancel();
    const forged = await post(base, body, { "X-Hamustro-Signature": sign("1", body) }, "2");
    assert.equal(forged.status, 401);
    await forged.body?.cancel();
  });
  const windowed = createReceiver({ sink, routes: [hamustroRoute({ sharedSecretKey: SECRET })] });
  await withServer(windowed, async (base) => {
    const old = await post(
      base,
      encode(collection([{ at: 1, event: "e", nr: 2 }])),
      {},
      "1454514088",
    );
    assert.equal(old.status, 401);
    await old.body?.cancel();
  });
  await receiver.close();
});

Deno.test("payloads that differ only in where one field ends and the next begins have different keys", async () => {
  const route = hamustroRoute({ sharedSecretKey: SECRET, conflictMemory: 0 });
  const variants = [
    { at: 1, event: "ab", nr: 1, timezone: "c" },
    { at: 1, event: "a", nr: 1, timezone: "bc" },
    { at: 1, event: "a", nr: 1, timezone: "b", user_id: "c" },
    { at: 1, event: "a", nr: 1, parameters: [{ name: "k", value: "v" }] },
    { at: 1, event: "a", nr: 1, parameters: [{ name: "kv", value: "" }] },
    { at: 1, event: "a", nr: 1, parameters: [{ name: "k", value: "" }, { name: "v", value: "" }] },
    { at: 11, event: "a", nr: 1 },
    { at: 1, event: "a", nr: 11 },
  ];
  const body = encode(collection(variants));
  const time = String(Math.floor(Date.now() / 1000));
  const decoded = await route.decode(
    new Request("http://127.0.0.1/api/v1/track", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-Hamustro-Time": time,
        "X-Hamustro-Signature": sign(time, body),
      },
      body: body as Uint8Array<ArrayBuffer>,
    }),
    body,
    { now: Date.now(), params: {} },
  );
  assert.ok(!(decoded instanceof Response));
  const keys = decoded.records.map((record) => record.key);
  assert.equal(new Set(keys).size, variants.length, keys.join("\n"));
});
