// Outages of the real servers: the receiver answers 503 with Retry-After while Redis or
// PostgreSQL is away, accepts nothing without de-duplication, and stores nothing twice once
// the server is back.
import assert from "node:assert/strict";
import postgres from "postgres";
import { PostgresSink } from "../src/receiver/postgres/mod.ts";
import { createReceiver, type Receiver } from "../src/receiver/receiver.ts";
import { RedisDedupeStore } from "../src/receiver/redis_dedupe_store.ts";
import { batchRequest, wireEvent } from "./_receiver_fixtures.ts";
import { canStartServers, serviceUrl, startServer, uniqueName } from "./_services.ts";

const redisUrl = serviceUrl("redis");
const postgresUrl = serviceUrl("postgres");
const ignore = redisUrl === undefined || postgresUrl === undefined || !(await canStartServers());

const batch = (from: number, count: number) => ({
  events: Array.from({ length: count }, (_, i) => wireEvent(from + i)),
});

/** Sends until the answer is not a 503 (the server coming back), at most 100 times. */
async function sendUntilServed(receiver: Receiver, body: unknown): Promise<Response> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await receiver(batchRequest(body));
    if (response.status !== 503) return response;
    await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("still 503 after 100 attempts");
}

async function statuses(response: Response): Promise<string[]> {
  assert.equal(response.status, 200);
  return (await response.json()).results.map((result: { status: string }) => result.status);
}

async function assertUnavailable(response: Response): Promise<void> {
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal((await response.json()).error, "unavailable");
}

async function countRows(url: string, table: string): Promise<{ events: number; keys: number }> {
  const sql = postgres(url, { onnotice: () => {} });
  try {
    const [row] = await sql.unsafe(
      `select count(*)::int as events, count(distinct key)::int as keys from ${table}`,
    );
    return { events: row!.events, keys: row!.keys };
  } finally {
    await sql.end();
  }
}

Deno.test({
  name:
    "Redis away: 503 with Retry-After and nothing stored; back (empty): the resent events are stored once",
  ignore,
  fn: async () => {
    await using redis = await startServer("redis");
    const table = uniqueName("outage");
    const store = await RedisDedupeStore.connect(redis.url);
    const sink = await PostgresSink.connect(postgresUrl!, { table });
    const receiver = createReceiver({ store, sink, onError: () => {} });
    try {
      assert.deepEqual(
        await statuses(await receiver(batchRequest(batch(0, 20)))),
        Array(20).fill("accepted"),
      );

      await redis.halt();
      assert.equal(await store.ping(), false);
      await assertUnavailable(await receiver(batchRequest(batch(10, 20))));
      await assertUnavailable(await receiver(batchRequest(batch(0, 20))));
      assert.deepEqual(await countRows(postgresUrl!, table), { events: 20, keys: 20 });

      // Redis comes back without the keys it had: the table still knows events 0–19.
      await redis.start();
      assert.deepEqual(
        await statuses(await sendUntilServed(receiver, batch(10, 20))),
        [...Array(10).fill("duplicate"), ...Array(10).fill("accepted")],
      );
      assert.equal(await store.ping(), true);
      // And Redis knows them again: repeats are answered without reaching the table.
      assert.deepEqual(
        await statuses(await receiver(batchRequest(batch(0, 30)))),
        Array(30).fill("duplicate"),
      );
      assert.deepEqual(await countRows(postgresUrl!, table), { events: 30, keys: 30 });
    } finally {
      await receiver.close();
      const sql = postgres(postgresUrl!, { onnotice: () => {} });
      await sql.unsafe(`drop table if exists ${table}`);
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "PostgreSQL away: 503 with Retry-After and the keys released; back: the retry is accepted, once",
  ignore,
  fn: async () => {
    await using pg = await startServer("postgres");
    const table = uniqueName("outage");
    const store = await RedisDedupeStore.connect(redisUrl!, { prefix: `${uniqueName("outage")}:` });
    const sink = await PostgresSink.connect(pg.url, { table });
    const receiver = createReceiver({ store, sink, onError: () => {} });
    try {
      assert.deepEqual(
        await statuses(await receiver(batchRequest(batch(0, 20)))),
        Array(20).fill("accepted"),
      );

      await pg.halt();
      assert.equal(await sink.ping(), false);
      await assertUnavailable(await receiver(batchRequest(batch(20, 20))));
      // Keys seen before the outage are still answered from Redis.
      assert.deepEqual(
        await statuses(await receiver(batchRequest(batch(0, 5)))),
        Array(5).fill("duplicate"),
      );

      await pg.start();
      // Not in_progress: the failed request released its claims.
      assert.deepEqual(
        await statuses(await sendUntilServed(receiver, batch(20, 20))),
        Array(20).fill("accepted"),
      );
      assert.equal(await sink.ping(), true);
      assert.deepEqual(
        await statuses(await receiver(batchRequest(batch(0, 40)))),
        Array(40).fill("duplicate"),
      );
      assert.deepEqual(await countRows(pg.url, table), { events: 40, keys: 40 });
    } finally {
      await receiver.close();
    }
  },
});
