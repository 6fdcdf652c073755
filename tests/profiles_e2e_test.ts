// Every profile end to end over real HTTP: Client → fetch → loopback server
// with injected faults → the receiver's emulating route → the sink.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Client, type ClientOptions } from "../src/client.ts";
import { isEventValidationError } from "../src/errors/event_validation_error.ts";
import { isIdempotencyKeyError } from "../src/errors/idempotency_key_error.ts";
import type { Profile } from "../src/ports/profile.ts";
import { getfluxlyProfile } from "../src/profiles/getfluxly/profile.ts";
import { getfluxlyRoutes } from "../src/profiles/getfluxly/route.ts";
import { jsonProfile } from "../src/profiles/json/profile.ts";
import { saasquatchProfile } from "../src/profiles/saasquatch/profile.ts";
import { saasquatchRoute } from "../src/profiles/saasquatch/route.ts";
import { skalinProfile } from "../src/profiles/skalin/profile.ts";
import { skalinRoute } from "../src/profiles/skalin/route.ts";
import { suprsendProfile } from "../src/profiles/suprsend/profile.ts";
import { suprsendRoutes } from "../src/profiles/suprsend/route.ts";
import { createJsonRoute } from "../src/receiver/json_route.ts";
import type { Route } from "../src/receiver/route.ts";
import type { AcceptedEvent } from "../src/receiver/sink.ts";
import { type Fault, type SeenRequest, startFaultServer } from "./_fault_server.ts";

type Json = Record<string, unknown>;

/** How one service is driven, and how its requests and sink events are read back. */
interface Case {
  readonly name: string;
  routes(): Route[];
  profile(origin: string): Profile;
  /** Extra client options (e.g. a per-type cap the profile does not impose). */
  readonly clientOptions?: Partial<ClientOptions>;
  /** Tracks the `n`-th event of the mixed workload; returns what identifies it at the sink. */
  track(client: Client, n: number): string;
  /** What identifies an event at the sink. */
  sinkId(event: AcceptedEvent): string;
  /** The request's idempotency key, for services that have one. */
  requestKey?(request: SeenRequest): string;
  /** The event keys a request carries, for services keyed per event. */
  eventKeys?(request: SeenRequest): string[];
  /** Tracks one event of the type whose per-request cap is 100. */
  trackOfOneType(client: Client, n: number): void;
  /** Items per type in a request. */
  itemsPerType(request: SeenRequest): number[];
  /** Tracks an event that encodes over the profile's per-event limit. */
  trackOversize(client: Client): void;
  /** Most items of one type per request. @default {100} */
  readonly itemCap?: number;
  /**
   * The service keeps the last copy of a repeated event (Skalin): a resend
   * reaches the sink again as the same event, and the sink's view keyed by
   * `sinkId` is what counts. Fields the service fills in per request are
   * named here, and not compared between copies.
   */
  readonly lastCopyWins?: { readonly perRequestFields: readonly string[] };
}

const body = (request: SeenRequest) => JSON.parse(request.text);
const big = "x".repeat(110 * 1024);
/** Skalin's eventId, computed independently: the first 16 hex of SHA-256 of the key. */
const skalinEventId = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 16);

const CASES: Case[] = [
  {
    name: "JSON",
    routes: () => [createJsonRoute()],
    profile: (origin) => jsonProfile({ endpoint: origin }),
    clientOptions: { maxItemsPerGroup: 100 },
    track: (client, n) => client.track("order_paid", { n }, { userId: `u${n % 5}` }),
    sinkId: (event) => event.key!,
    requestKey: (request) => request.headers.get("x-idempotency-key")!,
    trackOfOneType: (client, n) => void client.track("order_paid", { n }, { userId: "u" }),
    itemsPerType: (request) => [body(request).events.length],
    trackOversize: (client) => void client.track("order_paid", { big }, { userId: "u" }),
  },
  {
    name: "SaaSquatch",
    routes: () => [saasquatchRoute({ apiKeys: { test_abc: "TEST_KEY" } })],
    profile: (origin) =>
      saasquatchProfile({ tenantAlias: "test_abc", apiKey: "TEST_KEY", baseUrl: origin }),
    track: (client, n) => {
      client.track("purchase", { n }, { userId: `u${n % 5}`, context: { accountId: `a${n % 5}` } });
      return `purchase:${n}`;
    },
    sinkId: (event) => `${event.event.key}:${(event.event.fields as Json).n}`,
    requestKey: (request) => body(request).idempotencyKey,
    trackOfOneType: (client, n) => void client.track("purchase", { n }, { userId: "u1" }),
    itemsPerType: (request) => [body(request).events.length],
    // Each event is its own call, keyed by the event's key (callKey "event").
    itemCap: 1,
    // Strings stay under SaaSquatch's 1500-byte field cap; the event does not fit a request.
    trackOversize: (client) =>
      void client.track(
        "purchase",
        Object.fromEntries(
          Array.from({ length: 400 }, (_, i) => [`f${i}`, "y".repeat(1400)]),
        ),
        { userId: "u1" },
      ),
  },
  {
    name: "SuprSend",
    routes: () => suprsendRoutes({ workspaces: { ws_key_e2e: "ws_secret_e2e" } }),
    profile: (origin) =>
      suprsendProfile({
        workspaceKey: "ws_key_e2e",
        workspaceSecret: "ws_secret_e2e",
        baseUrl: origin,
      }),
    track: (client, n) => client.track("order_paid", { n }, { userId: `u${n % 5}` }),
    sinkId: (event) => event.key!,
    eventKeys: (request) => body(request).map((event: Json) => event.$idempotency_key),
    trackOfOneType: (client, n) => void client.track("order_paid", { n }, { userId: "u" }),
    itemsPerType: (request) => [body(request).length],
    trackOversize: (client) => void client.track("order_paid", { big }, { userId: "u" }),
  },
  {
    name: "Skalin",
    routes: () => [skalinRoute({ clientIds: ["2bb91c92dr779103"] })],
    profile: (origin) => skalinProfile({ clientId: "2bb91c92dr779103", baseUrl: origin }),
    track: (client, n) =>
      skalinEventId(
        n % 3 === 0
          ? client.identify(`u${n}`, {}, { context: { email: `u${n}@example.com` } })
          : client.track(`feature_${n % 7}`, {}, { userId: `u${n % 5}` }),
      ),
    sinkId: (event) => event.event.eventId as string,
    eventKeys: (request) => {
      const { identities, features } = body(request);
      return [...identities, ...features].map((item: Json) => item.eventId as string);
    },
    trackOfOneType: (client, n) => {
      client.track("feature_a", {}, { userId: `u${n}` });
      client.identify(`u${n}`, {}, { context: { email: `u${n}@example.com` } });
    },
    itemsPerType: (request) => [body(request).identities.length, body(request).features.length],
    trackOversize: (client) =>
      void client.track("feature_a", {}, { userId: "u", context: { url: `https://x.io/${big}` } }),
    lastCopyWins: { perRequestFields: ["visitId"] },
  },
  {
    name: "GetFluxly",
    routes: () => getfluxlyRoutes({ tokens: { gflux_secret_e2e: "tenant" }, rateLimit: false }),
    profile: (origin) => getfluxlyProfile({ token: "gflux_secret_e2e", baseUrl: origin }),
    track: (client, n) => {
      if (n % 10 === 0) {
        client.alias(`u${n}`, `anon-${n}`);
        return `alias:u${n}`;
      }
      if (n % 3 === 0) client.identify(`u${n}`, { n });
      else client.track("order_paid", { n }, { userId: `u${n % 5}` });
      return `${n % 3 === 0 ? "$identify" : "order_paid"}:${n}`;
    },
    sinkId: ({ event }) =>
      event.type === "alias"
        ? `alias:${event.user_id}`
        : `${event.event}:${((event.properties ?? event.traits) as Json).n}`,
    requestKey: (request) => request.headers.get("x-idempotency-key")!,
    trackOfOneType: (client, n) => void client.track("order_paid", { n }, { userId: "u" }),
    itemsPerType: (request) => [body(request).events.length],
    trackOversize: (client) => void client.track("order_paid", { big }, { userId: "u" }),
    // The seed client's flush_at.
    itemCap: 20,
  },
];

/** Short waits so retries take milliseconds. */
const FAST: Partial<ClientOptions> = {
  flushIntervalMs: 0,
  retry: { backoffBaseMs: 1, backoffCapMs: 5, retryAfterFloorMs: 1, retryAfterCapMs: 10 },
  timeoutMs: 5_000,
  exitHook: false,
};

function clientFor(testCase: Case, origin: string, options: Partial<ClientOptions> = {}): Client {
  return new Client({
    ...FAST,
    ...testCase.clientOptions,
    ...options,
    profile: testCase.profile(origin),
  });
}

/** The first requests meet every kind of fault, in turn; later ones get through. */
const FAULTS: readonly (Fault | undefined)[] = [
  "500",
  "reset",
  "429",
  undefined,
  "500-after",
  undefined,
];
const faultOf = (index: number) => index < 18 ? FAULTS[index % FAULTS.length] : undefined;

for (const testCase of CASES) {
  Deno.test(`${testCase.name}: every event arrives exactly once through 500s, 429s and dropped connections`, async () => {
    const server = await startFaultServer(testCase.routes(), { faultOf });
    try {
      const client = clientFor(testCase, server.origin, { flushAt: 40 });
      const expected = Array.from({ length: 200 }, (_, n) => testCase.track(client, n));
      const result = await client.flush();
      await client.close();
      assert.equal(result.status, "success", JSON.stringify(result.failedRecords.slice(0, 3)));
      assert.equal(result.success, 200);

      const counts = new Map<string, number>();
      const copies = new Map<string, Json>();
      for (const event of server.accepted) {
        const id = testCase.sinkId(event);
        counts.set(id, (counts.get(id) ?? 0) + 1);
        if (testCase.lastCopyWins === undefined) continue;
        // A later copy replaces the earlier one: it must be the same event, resent.
        const fixed = { ...event.event };
        for (const field of testCase.lastCopyWins.perRequestFields) delete fixed[field];
        if (copies.has(id)) assert.deepEqual(fixed, copies.get(id), `copy of ${id}`);
        copies.set(id, fixed);
      }
      assert.deepEqual([...counts.keys()].sort(), [...new Set(expected)].sort());
      if (testCase.lastCopyWins === undefined) {
        assert.deepEqual([...counts.entries()].filter(([, count]) => count !== 1), []);
        assert.equal(server.accepted.length, 200);
      }

      // Every kind of fault happened, and each faulted request was sent again under the same keys.
      const faulted = server.seen.filter((request) => request.fault !== undefined);
      assert.deepEqual(
        new Set(faulted.map((request) => request.fault)),
        new Set(["500", "reset", "429", "500-after"]),
      );
      for (const request of faulted) {
        const later = server.seen.slice(request.index + 1);
        if (testCase.requestKey) {
          const key = testCase.requestKey(request);
          const again = later.filter((other) => testCase.requestKey!(other) === key);
          assert.ok(again.length > 0, `request key ${key} was not sent again`);
          for (const other of again) {
            assert.deepEqual(other.body, request.body, `body under ${key} changed`);
          }
        } else {
          const sentLater = new Set(later.flatMap((other) => testCase.eventKeys!(other)));
          for (const key of testCase.eventKeys!(request)) {
            assert.ok(sentLater.has(key), `event key ${key} was not sent again`);
          }
        }
      }
    } finally {
      await server.close();
    }
  });

  Deno.test(`${testCase.name}: the 101st item of one type starts a new request`, async () => {
    const server = await startFaultServer(testCase.routes());
    try {
      const client = clientFor(testCase, server.origin, { flushAt: 1_000 });
      for (let n = 0; n < 101; n++) testCase.trackOfOneType(client, n);
      const result = await client.flush();
      await client.close();
      assert.equal(result.status, "success");
      const cap = testCase.itemCap ?? 100;
      const perRequest = server.seen.map((request) => testCase.itemsPerType(request));
      assert.equal(perRequest.length, Math.ceil(101 / cap));
      const sorted = perRequest.sort((a, b) => b[0]! - a[0]!);
      assert.deepEqual(sorted[0], sorted[0]!.map(() => cap));
      assert.deepEqual(sorted.at(-1), sorted[0]!.map(() => 101 % cap || cap));
    } finally {
      await server.close();
    }
  });

  Deno.test(`${testCase.name}: an oversize event is refused by track() and send() and never sent`, async () => {
    const server = await startFaultServer(testCase.routes());
    try {
      const client = clientFor(testCase, server.origin, { flushAt: 1_000 });
      assert.throws(
        () => testCase.trackOversize(client),
        (error) => isEventValidationError(error) && error.rule === "maxBytes",
      );
      testCase.trackOfOneType(client, 1);
      const flushed = await client.flush();
      assert.equal(flushed.status, "success");
      const { tracked, failed } = client.stats();
      assert.deepEqual({ tracked, failed }, { tracked: flushed.total, failed: 0 });
      assert.equal(server.accepted.length, flushed.total);
      assert.ok(server.seen.every((request) => request.body.byteLength < 100 * 1024));
      await client.close();
    } finally {
      await server.close();
    }
  });
}

Deno.test("send() reports an oversize event as a failed record (code oversize) and delivers the rest", async () => {
  const server = await startFaultServer([createJsonRoute()]);
  try {
    const client = new Client({ ...FAST, endpoint: server.origin });
    const result = await client.send([
      { name: "order_paid", userId: "u", properties: { big } },
      { name: "order_paid", userId: "u", properties: { n: 1 } },
    ]);
    await client.close();
    assert.equal(result.status, "partial");
    assert.equal(result.success, 1);
    assert.equal(result.failedRecords.length, 1);
    assert.equal(result.failedRecords[0]!.code, "oversize");
    assert.match(result.failedRecords[0]!.error, /bytes/);
    assert.equal(server.accepted.length, 1);
  } finally {
    await server.close();
  }
});

for (const testCase of CASES.filter((c) => ["SaaSquatch", "GetFluxly", "JSON"].includes(c.name))) {
  Deno.test(`${testCase.name}: an idempotency key outside the strict policy is rejected at track()`, async () => {
    const server = await startFaultServer(testCase.routes());
    try {
      const client = clientFor(testCase, server.origin);
      for (const idempotencyKey of ["short", "has space in it", "x".repeat(65), "slash/inside"]) {
        assert.throws(
          () => client.track("purchase", {}, { userId: "u1", idempotencyKey }),
          (error) => isIdempotencyKeyError(error),
          idempotencyKey,
        );
      }
      assert.equal(client.stats().tracked, 0);
      await client.close();
      assert.equal(server.seen.length, 0);
    } finally {
      await server.close();
    }
  });
}

Deno.test("send() returns an event its profile refuses as an invalid record and delivers the rest", async () => {
  const server = await startFaultServer(
    suprsendRoutes({ workspaces: { ws_key_e2e: "ws_secret_e2e" } }),
  );
  try {
    const client = new Client({
      ...FAST,
      profile: suprsendProfile({
        workspaceKey: "ws_key_e2e",
        workspaceSecret: "ws_secret_e2e",
        baseUrl: server.origin,
      }),
    });
    const result = await client.send([
      {
        name: "order_paid",
        userId: "u",
        properties: { big },
        idempotencyKey: "refused-by-profile",
      },
      { name: "order_paid", userId: "u", properties: { n: 1 } },
    ]);
    await client.close();
    assert.equal(result.status, "partial");
    assert.equal(result.success, 1);
    assert.equal(result.failedRecords.length, 1);
    assert.equal(result.failedRecords[0]!.code, "invalid");
    assert.equal(result.failedRecords[0]!.key, "refused-by-profile");
    assert.match(result.failedRecords[0]!.error, /bytes/);
    assert.equal(server.accepted.length, 1);
  } finally {
    await server.close();
  }
});
