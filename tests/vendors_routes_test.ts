// The receiver routes emulating the vendors' ingest APIs, over real HTTP on
// loopback: authentication, malformed and oversize bodies, invalid events,
// and the vendor-shaped answers their SDKs read.
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { createEvent } from "../src/event.ts";
import { segmentRoute } from "../src/profiles/segment/route.ts";
import { rudderstackRoute } from "../src/profiles/rudderstack/route.ts";
import { posthogRoute } from "../src/profiles/posthog/route.ts";
import { amplitudeRoutes } from "../src/profiles/amplitude/route.ts";
import { mixpanelRoutes } from "../src/profiles/mixpanel/route.ts";
import { VENDORS } from "./_vendor_profiles.ts";
import { startFaultServer } from "./_fault_server.ts";
import { batchOf, recordsOf } from "./_profile_helpers.ts";

const basic = (credentials: string) => `Basic ${btoa(credentials)}`;
const json = (body: unknown) => JSON.stringify(body);

async function post(
  origin: string,
  path: string,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const answer = await fetch(`${origin}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: answer.status, text: await answer.text() };
}

for (const setup of Object.values(VENDORS)) {
  Deno.test(`${setup.name} route stores the track, identify and alias calls the ${setup.name} profile sends, keyed by the vendor's id`, async () => {
    const server = await startFaultServer(setup.routes());
    try {
      const profile = setup.profile(server.origin);
      const events = Array.from(
        { length: 5 },
        (_, n) => createEvent({ name: "order_paid", userId: "user-1", properties: { n } }),
      );
      events.push(
        createEvent({ type: "identify", name: "$identify", userId: "user-1", properties: {} }),
      );
      if (setup.name !== "amplitude") {
        events.push(
          createEvent({ type: "alias", name: "$alias", userId: "user-1", previousId: "anon-1" }),
        );
      }
      const request = await profile.buildRequest(
        batchOf(recordsOf(profile, events), "batch-0001"),
        0,
      );
      const send = () =>
        fetch(request.url, {
          method: "POST",
          headers: request.headers,
          body: request.body as Uint8Array<ArrayBuffer>,
        })
          .then(async (answer) => ({ status: answer.status, text: await answer.text() }));
      const first = await send();
      assert.equal(first.status, 200, first.text);
      const again = await send();
      assert.equal(again.status, 200, again.text);
      assert.equal(server.accepted.length, events.length);
      assert.equal(server.receiver.stats.rejected, 0);
      assert.equal(server.receiver.stats.duplicates, events.length);
      for (const stored of server.accepted) {
        assert.equal(stored.key?.includes(setup.vendorId(stored.event)), true);
      }
    } finally {
      await server.close();
    }
  });
}

Deno.test("Segment and RudderStack routes refuse unknown write keys and malformed bodies, and read gzip", async () => {
  const server = await startFaultServer([segmentRoute({ writeKeys: { wk: "acme" } })]);
  const rudder = await startFaultServer([rudderstackRoute({ writeKeys: { wk: "acme" } })]);
  try {
    const call = { type: "track", event: "x", userId: "u", messageId: "m-1" };
    assert.equal(
      (await post(server.origin, "/v1/batch", json({ batch: [call] }), {
        authorization: basic("nope:"),
      })).status,
      401,
    );
    // analytics-node also sends the write key in the body.
    assert.equal(
      (await post(server.origin, "/v1/batch", json({ batch: [call], writeKey: "wk" }))).status,
      200,
    );
    assert.equal(
      (await post(rudder.origin, "/v1/batch", json({ batch: [call], writeKey: "wk" }))).status,
      401,
    );
    const malformed = await post(server.origin, "/v1/batch", "{", { authorization: basic("wk:") });
    assert.equal(malformed.status, 400);
    const big = json({ batch: [{ ...call, properties: { b: "x".repeat(510 * 1024) } }] });
    assert.equal(
      (await post(server.origin, "/v1/batch", big, { authorization: basic("wk:") })).status,
      400,
    );
    const gzipped = await post(
      rudder.origin,
      "/v1/batch",
      new Uint8Array(gzipSync(json({ batch: [{ ...call, messageId: "m-2" }] }))),
      {
        authorization: basic("wk:"),
        "content-encoding": "gzip",
      },
    );
    assert.deepEqual(gzipped, { status: 200, text: "OK" });
    // A call without an id or over 32 KB is refused, the others stored.
    const mixed = await post(
      server.origin,
      "/v1/batch",
      json({
        batch: [{ type: "track", userId: "u", messageId: "m-3" }, { ...call, messageId: "m-4" }],
      }),
      { authorization: basic("wk:") },
    );
    assert.equal(mixed.status, 200);
    assert.deepEqual(server.accepted.map((event) => event.key), ["m-1", "m-4"]);
    assert.equal(server.receiver.stats.rejected, 1);
  } finally {
    await server.close();
    await rudder.close();
  }
});

Deno.test("PostHog route takes the key from the body and refuses events without distinct_id or with a non-UUID uuid", async () => {
  const server = await startFaultServer([posthogRoute({ apiKeys: { phc: "acme" } })]);
  try {
    const event = { event: "x", distinct_id: "u", uuid: "F650F058-192C-4E52-B72D-9634116F59EB" };
    const unknown = await post(
      server.origin,
      "/batch/",
      json({ api_key: "phc_other", batch: [event] }),
    );
    assert.equal(unknown.status, 401);
    assert.match(unknown.text, /invalid_api_key/);
    const answer = await post(
      server.origin,
      "/batch/",
      json({
        api_key: "phc",
        batch: [event, { event: "y", uuid: "not-a-uuid", distinct_id: "u" }, { event: "z" }],
      }),
    );
    assert.deepEqual(answer, { status: 200, text: '{"status":"Ok"}' });
    assert.deepEqual(server.accepted.map((stored) => stored.key), [
      "f650f058-192c-4e52-b72d-9634116f59eb",
    ]);
    assert.equal(server.receiver.stats.rejected, 2);
    assert.equal((await post(server.origin, "/batch/", json({ api_key: "phc" }))).status, 400);
  } finally {
    await server.close();
  }
});

Deno.test("Amplitude route answers in the body's code and lists invalid events by index, as analytics-node reads them", async () => {
  const server = await startFaultServer(amplitudeRoutes({ apiKeys: { amp: "acme" } }));
  try {
    const ok = { event_type: "x", user_id: "user-1", insert_id: "i-1" };
    const invalid = await post(
      server.origin,
      "/2/httpapi",
      json({
        api_key: "amp",
        events: [ok, { event_type: "y", user_id: "u1" }, { user_id: "user-2" }],
      }),
    );
    assert.equal(invalid.status, 400);
    assert.deepEqual(JSON.parse(invalid.text), {
      code: 400,
      error: "Request has events with invalid fields",
      events_with_missing_fields: { event_type: [2] },
      events_with_invalid_fields: {},
      events_with_invalid_id_lengths: { user_id: [1] },
    });
    assert.deepEqual(server.accepted.map((stored) => stored.key), ["i-1"]);
    const shortIds = await post(
      server.origin,
      "/batch",
      json({
        api_key: "amp",
        events: [{ event_type: "y", user_id: "u1", insert_id: "i-2" }],
        options: { min_id_length: 2 },
      }),
    );
    assert.equal(JSON.parse(shortIds.text).code, 200);
    const badKey = await post(server.origin, "/2/httpapi", json({ api_key: "nope", events: [ok] }));
    assert.equal(badKey.status, 400);
    assert.match(JSON.parse(badKey.text).error, /^Invalid API key/);
    const tooMany = Array.from({ length: 2001 }, (_, n) => ({ ...ok, insert_id: `m-${n}` }));
    const large = await post(
      server.origin,
      "/2/httpapi",
      json({ api_key: "amp", events: tooMany }),
    );
    assert.equal(JSON.parse(large.text).code, 413);
  } finally {
    await server.close();
  }
});

Deno.test("Mixpanel routes: /import checks credentials and answers strict failures per record; /track reads data= by POST and GET", async () => {
  const server = await startFaultServer(
    mixpanelRoutes({
      projectTokens: { tok: "acme" },
      importSecrets: { "sa:secret": "acme", apisecret: "acme" },
    }),
    { receiver: { maxBodyBytes: 1024 * 1024 } },
  );
  try {
    const event = (n: number, extra: Record<string, unknown> = {}) => ({
      event: "x",
      properties: {
        distinct_id: "u",
        time: 1_700_000_000_000,
        $insert_id: `id-${n}`,
        token: "tok",
        n,
        ...extra,
      },
    });
    assert.equal(
      (await post(server.origin, "/import", json([event(0)]), { authorization: basic("sa:wrong") }))
        .status,
      401,
    );
    assert.equal(
      (await post(server.origin, "/import", json([event(0)]), {
        authorization: basic("apisecret:"),
      })).status,
      200,
    );
    const strict = await post(
      server.origin,
      "/import?strict=1",
      json([event(1), event(2, { $insert_id: "has_underscore" })]),
      {
        authorization: basic("sa:secret"),
      },
    );
    assert.equal(strict.status, 400);
    const parsed = JSON.parse(strict.text);
    assert.equal(parsed.num_records_imported, 1);
    assert.deepEqual(parsed.failed_records.map((record: { index: number }) => record.index), [1]);
    // The fault server forwards bodies, which a GET cannot have: GETs go to the receiver directly.
    const data = btoa(json([event(3)]));
    const form = await post(
      server.origin,
      "/track?ip=0&verbose=0",
      `data=${encodeURIComponent(data)}`,
      {
        "content-type": "application/x-www-form-urlencoded",
      },
    );
    assert.deepEqual(form, { status: 200, text: "1" });
    const get = await server.receiver(
      new Request(
        `${server.origin}/track?verbose=1&data=${encodeURIComponent(btoa(json(event(4))))}`,
      ),
    );
    assert.deepEqual(await get.json(), { status: 1, error: null });
    const wrongToken = await server.receiver(
      new Request(
        `${server.origin}/track?data=${
          encodeURIComponent(btoa(json(event(5, { token: "other" }))))
        }`,
      ),
    );
    assert.equal(await wrongToken.text(), "0");
    assert.deepEqual(
      server.accepted.map((stored) => (stored.event.properties as { n: number }).n),
      [0, 1, 3, 4],
    );
  } finally {
    await server.close();
  }
});

Deno.test("vendor routes answer 5xx when the sink could not take the events, so the SDKs resend", async () => {
  let fail = true;
  const server = await startFaultServer(VENDORS.segment!.routes(), {
    beforeWrite: () => {
      if (fail) throw new Error("disk full");
    },
  });
  try {
    const body = json({ batch: [{ type: "track", event: "x", userId: "u", messageId: "m-1" }] });
    const first = await post(server.origin, "/v1/batch", body, {
      authorization: basic("wk_segment:"),
    });
    assert.equal(first.status >= 500, true, first.text);
    fail = false;
    const second = await post(server.origin, "/v1/batch", body, {
      authorization: basic("wk_segment:"),
    });
    assert.equal(second.status, 200);
    assert.equal(server.accepted.length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("vendor routes answer malformed input with a 4xx or a vendor refusal, never a 5xx", async () => {
  const bodies = [
    "",
    "null",
    "[]",
    "42",
    '"text"',
    "{",
    json({ batch: "x", events: 3, api_key: 7 }),
    json({ batch: [null, 1, "x", []], events: [null, 1, "x", []] }),
    json([null, 1, { event: 3 }, { event: "x", properties: [] }]),
    json({ api_key: "phc_test", batch: [{ event: "x", distinct_id: "u", uuid: 5 }] }),
    json({ api_key: "amp_key", events: [{ event_type: "x", user_id: "user-1", time: "now" }] }),
    "\u0000\uffff",
  ];
  const headerSets: Record<string, string>[] = [
    {},
    { authorization: "Basic !!!not-base64" },
    { authorization: basic("wk_segment:") },
    { authorization: basic("wk_rudder:") },
    { authorization: basic("mp_secret:") },
    { "content-type": "application/x-www-form-urlencoded" },
  ];
  for (const setup of Object.values(VENDORS)) {
    const server = await startFaultServer(setup.routes());
    try {
      const paths = [
        ...new Set(setup.routes().filter((r) => r.method === "POST").map((r) => r.path)),
      ];
      for (const path of paths) {
        for (const body of bodies) {
          for (const headers of headerSets) {
            const answer = await post(server.origin, path, body, headers);
            assert.ok(answer.status < 500, `${setup.name} ${path} ${body} → ${answer.status}`);
          }
        }
        const garbled = await post(server.origin, `${path}?data=%%%`, "data=***", {
          "content-type": "application/x-www-form-urlencoded",
        });
        assert.ok(garbled.status < 500, `${setup.name} ${path} garbled data`);
      }
      assert.equal(server.accepted.length, 0);
    } finally {
      await server.close();
    }
  }
});
