/**
 * The services' official SDKs from npm, their own HTTP code, against the
 * routes over loopback (see tests/_official_sdks.ts for how they are
 * installed and run).
 */
import assert from "node:assert/strict";
import { createEvent } from "../src/event.ts";
import { suprsendProfile } from "../src/profiles/suprsend/profile.ts";
import { suprsendRoutes } from "../src/profiles/suprsend/route.ts";
import { saasquatchRoute } from "../src/profiles/saasquatch/route.ts";
import { saasquatchProfile } from "../src/profiles/saasquatch/profile.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import type { AcceptedEvent } from "../src/receiver/sink.ts";
import { officialSdks, runSdkDriver } from "./_official_sdks.ts";
import { recordingSink, withServer } from "./_receiver_fixtures.ts";
import { batchOf, recordsOf } from "./_profile_helpers.ts";

const nodeModules = await officialSdks();
const ignore = nodeModules === undefined;

interface SeenRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Serves `handler`, recording each raw request before it. */
async function recorded(
  handler: (request: Request) => Promise<Response>,
  body: (base: string, seen: SeenRequest[]) => Promise<void>,
): Promise<void> {
  const seen: SeenRequest[] = [];
  await withServer(async (request) => {
    const bytes = new Uint8Array(await request.arrayBuffer());
    seen.push({
      method: request.method,
      path: new URL(request.url).pathname,
      headers: Object.fromEntries(request.headers),
      body: new TextDecoder().decode(bytes),
    });
    return await handler(
      new Request(request.url, { method: request.method, headers: request.headers, body: bytes }),
    );
  }, (base) => body(base, seen));
}

const KEY = "ws_key_sdk_0123456789ab";
const SECRET = "ws_secret_sdk";

interface SuprsendEventInput {
  distinct_id: string;
  event: string;
  properties?: Record<string, unknown>;
  idempotency_key?: string;
  attachment?: string;
}
type SuprsendCall = { kind: "single" | "bulk"; events: SuprsendEventInput[] };

/** A receiver serving the three SuprSend routes for the test workspace, and its sink. */
function suprsendReceiver() {
  const sink = recordingSink();
  return {
    sink,
    receiver: createReceiver({ sink, routes: suprsendRoutes({ workspaces: { [KEY]: SECRET } }) }),
  };
}

async function suprsendSdk(base: string, calls: SuprsendCall[]) {
  return await runSdkDriver(nodeModules!, "suprsend_driver.cjs", {
    base: `${base}/`,
    key: KEY,
    secret: SECRET,
    calls,
  }) as Record<string, unknown>[];
}

Deno.test({
  name:
    "@suprsend/node-sdk 1.15.1: single and bulk calls to /event/ are accepted, and a resent idempotency key is skipped",
  ignore,
  async fn() {
    const { sink, receiver } = suprsendReceiver();
    await recorded(receiver, async (base, seen) => {
      const bulk: SuprsendCall = {
        kind: "bulk",
        events: ["a", "b", "c"].map((id) => ({
          distinct_id: `user-${id}`,
          event: "order_paid",
          properties: { amount: 10 },
          idempotency_key: `order-${id}`,
        })),
      };
      const answers = await suprsendSdk(base, [
        {
          kind: "single",
          events: [{ distinct_id: "user-1", event: "signed_up", idempotency_key: "signup-1" }],
        },
        bulk,
        bulk,
      ]);
      assert.deepEqual(answers[0], {
        success: true,
        status: "success",
        status_code: 202,
        message: "Accepted",
      });
      assert.equal(answers[1]!.status, "success");
      assert.equal(answers[1]!.total, 3);
      assert.equal(answers[2]!.status, "success", "the resend is answered as a success");
      assert.deepEqual(seen.map((r) => [r.method, r.path]), [
        ["POST", "/event/"],
        ["POST", "/event/"],
        ["POST", "/event/"],
      ]);
      // Stored once each: the resend's keys were skipped.
      assert.deepEqual(
        sink.events.map((e: AcceptedEvent) => e.key),
        ["signup-1", "order-a", "order-b", "order-c"],
      );
      assert.equal(receiver.stats.duplicates, 3);
    });
    await receiver.close();
  },
});

Deno.test({
  name:
    "@suprsend/node-sdk 1.15.1: a bulk of 100 events of 7 KB (745 KB) is taken whole, within the 100 KB per-event cap",
  ignore,
  async fn() {
    const { sink, receiver } = suprsendReceiver();
    await recorded(receiver, async (base, seen) => {
      const events = Array.from({ length: 100 }, (_, i) => ({
        distinct_id: `user-${i}`,
        event: "report_ready",
        properties: { text: "x".repeat(7_000) },
        idempotency_key: `report-${i}`,
      }));
      const tooLarge = {
        distinct_id: "user-x",
        event: "report_ready",
        properties: { text: "y".repeat(110_000) },
      };
      const [whole, oversize] = await suprsendSdk(base, [
        { kind: "bulk", events },
        { kind: "single", events: [tooLarge] },
      ]);
      assert.ok(seen[0]!.body.length > 700_000, String(seen[0]!.body.length));
      assert.equal(whole!.status, "success", JSON.stringify(whole).slice(0, 300));
      assert.equal(whole!.success, 100);
      assert.equal(sink.events.length, 100);
      // The SDK itself lets an event up to 800 KB through; the seed's 100 KB cap refuses it.
      assert.equal(oversize!.success, false);
      assert.equal(oversize!.status_code, 413);
    });
    await receiver.close();
  },
});

Deno.test({
  name:
    "@suprsend/node-sdk 1.15.1: an attachment URL that is not public fails its event with 404, a public one is accepted",
  ignore,
  async fn() {
    const { sink, receiver } = suprsendReceiver();
    await recorded(receiver, async (base) => {
      const answers = await suprsendSdk(base, [
        {
          kind: "single",
          events: [{
            distinct_id: "u",
            event: "invoice",
            attachment: "http://localhost/invoice.pdf",
          }],
        },
        {
          kind: "single",
          events: [{ distinct_id: "u", event: "invoice", attachment: "http://192.168.1.10/a.pdf" }],
        },
        {
          kind: "single",
          events: [{
            distinct_id: "u",
            event: "invoice",
            attachment: "https://www.adobe.com/sample_file.pdf",
          }],
        },
      ]);
      assert.deepEqual(answers.map((a) => a.status_code), [404, 404, 202]);
      assert.equal(sink.events.length, 1);
    });
    await receiver.close();
  },
});

Deno.test({
  name:
    "the SuprSend profile's request has the official Node SDK's path, headers and event fields (golden request captured from the SDK)",
  ignore,
  async fn() {
    const fixture = JSON.parse(
      await Deno.readTextFile(new URL("./fixtures/suprsend_node_sdk_golden.json", import.meta.url)),
    );
    const { receiver } = suprsendReceiver();
    await recorded(receiver, async (base, seen) => {
      await suprsendSdk(base, [{
        kind: "bulk",
        events: [{
          distinct_id: "user-1",
          event: "order_paid",
          properties: { amount: 10 },
          idempotency_key: "order-1",
        }],
      }]);
      const sdk = seen[0]!;
      const shape = (request: SeenRequest) => ({
        method: request.method,
        path: request.path,
        contentType: request.headers["content-type"],
        authorization: /^ws_key_sdk_0123456789ab:[A-Za-z0-9+/]{43}=$/.test(
          request.headers["authorization"] ?? "",
        ),
        date: !Number.isNaN(Date.parse(request.headers["date"] ?? "")),
        fields: (JSON.parse(request.body) as Record<string, unknown>[]).map((event) =>
          Object.keys(event).sort()
        ),
      });
      // The SDK's own request matches what was captured from it.
      assert.deepEqual(shape(sdk), fixture.shape);
      const sdkEvent = JSON.parse(sdk.body)[0];
      assert.match(
        sdkEvent.$insert_id,
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      // The SDK names the Node version and OS it runs on; the rest is fixed.
      const sdkVersion = /^@suprsend\/node-sdk\/1\.15\.1 \(node\/[\d.]+; \w+\)$/;
      assert.match(sdkEvent.properties.$ss_sdk_version, sdkVersion);
      const fixed = (event: Record<string, unknown>) => ({
        ...event,
        $insert_id: "<uuid>",
        $time: "<ms>",
        properties: { ...event.properties as object, $ss_sdk_version: "<sdk>" },
      });
      assert.deepEqual(fixed(sdkEvent), fixed(fixture.body[0]));
      // The profile sends the same request shape.
      const profile = suprsendProfile({
        workspaceKey: KEY,
        workspaceSecret: SECRET,
        baseUrl: base,
      });
      const event = createEvent({
        name: "order_paid",
        userId: "user-1",
        properties: { amount: 10 },
        idempotencyKey: "order-1",
      }, { keyPolicy: profile.keyPolicy });
      const prepared = await profile.buildRequest(
        batchOf(recordsOf(profile, [event]), "b"),
        Date.now(),
      );
      const ours = await fetch(prepared.url, {
        method: prepared.method,
        headers: prepared.headers,
        body: prepared.body as Uint8Array<ArrayBuffer>,
      });
      assert.equal(ours.status, 202);
      await ours.body?.cancel();
      assert.deepEqual(shape(seen[1]!), fixture.shape);
    });
    await receiver.close();
  },
});

Deno.test({
  name:
    "@saasquatch/squatch-js 2.6.3: events().track reaches the SaaSquatch route with its JWT, and a repeated idempotencyKey gets 409",
  ignore,
  async fn() {
    const sink = recordingSink();
    const receiver = createReceiver({
      sink,
      routes: [saasquatchRoute({
        apiKeys: { test_abc: "API_KEY" },
        verifyJwt: (jwt, tenant) => jwt === "user.jwt.token" && tenant === "test_abc",
      })],
    });
    const golden = JSON.parse(
      await Deno.readTextFile(new URL("./fixtures/squatch_js_golden.json", import.meta.url)),
    );
    await recorded(receiver, async (base, seen) => {
      const input = golden.input;
      const answers = await runSdkDriver(nodeModules!, "squatch_driver.cjs", {
        domain: base,
        tenantAlias: "test_abc",
        jwt: "user.jwt.token",
        calls: [input, input],
      }) as Array<{ ok?: Record<string, unknown>; error?: string }>;
      assert.equal(answers[0]!.ok?.userId, "user@example.com");
      assert.equal(answers[0]!.ok?.accountId, "acct/1");
      const conflict = JSON.parse(answers[1]!.error!);
      assert.deepEqual([conflict.statusCode, conflict.apiErrorCode], [409, "CONFLICT"]);
      // What squatch-js sent is the request captured from it (path segments URL-encoded, the JWT
      // in its own header), and the SaaSquatch profile sends the same path and body.
      assert.equal(seen[0]!.method, golden.request.method);
      assert.equal(seen[0]!.path, golden.request.path);
      for (const [name, value] of Object.entries(golden.request.headers)) {
        assert.equal(seen[0]!.headers[name], value, name);
      }
      assert.equal(seen[0]!.body, golden.request.body);
      const profile = saasquatchProfile({
        tenantAlias: "test_abc",
        jwt: "user.jwt.token",
        baseUrl: base,
      });
      const event = createEvent({
        name: "purchase",
        userId: input.userId,
        context: { accountId: input.accountId },
        properties: input.events[0].fields,
        idempotencyKey: input.idempotencyKey,
        timestamp: 1,
      }, { keyPolicy: profile.keyPolicy });
      const prepared = await profile.buildRequest(batchOf(recordsOf(profile, [event]), "b"), 0);
      assert.equal(new URL(prepared.url).pathname, golden.request.path);
      assert.equal(prepared.headers["X-SaaSquatch-User-Token"], "user.jwt.token");
      const body = JSON.parse(new TextDecoder().decode(prepared.body));
      assert.deepEqual(
        {
          ...body,
          events: body.events.map(({ dateTriggered: _, ...rest }: Record<string, unknown>) => rest),
        },
        input,
      );
      assert.equal(sink.events.length, 1);
    });
    await receiver.close();
  },
});
