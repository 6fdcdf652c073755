// The Redis store and the PostgreSQL sink under whichever runtime runs this file: Deno, and
// Node through the npm package's tests (no Deno API here).
import assert from "node:assert/strict";
import process from "node:process";
import postgres from "postgres";
import { PostgresSink } from "../src/receiver/postgres/mod.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { RedisDedupeStore } from "../src/receiver/redis_dedupe_store.ts";

// Not from _receiver_fixtures.ts, which serves with Deno.serve.
function wireEvent(n: number): Record<string, unknown> {
  return {
    type: "track",
    event: "order_paid",
    user_id: `user-${n}`,
    properties: { total: n },
    timestamp: "2026-11-25T08:00:00.000Z",
    idempotency_key: `evt-${String(n).padStart(8, "0")}`,
  };
}

function batchRequest(body: unknown, options: { key?: string } = {}): Request {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.key !== undefined) headers["x-idempotency-key"] = options.key;
  return new Request("http://localhost/v1/events/batch", {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
}

const redisUrl = process.env.IDEMTRACK_REDIS_URL;
const postgresUrl = process.env.IDEMTRACK_POSTGRES_URL;
const missing = !redisUrl || !postgresUrl;
if (missing && process.env.CI === "true") {
  throw new Error("IDEMTRACK_REDIS_URL and IDEMTRACK_POSTGRES_URL must be set under CI");
}
if (missing) {
  console.warn('SKIPPED: Redis and PostgreSQL tests (eval "$(scripts/services.sh start)")');
}

Deno.test({
  name: "a receiver on Redis and PostgreSQL answers duplicates and stores each event once",
  ignore: missing,
  fn: async () => {
    const name = `portable_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const store = await RedisDedupeStore.connect(redisUrl!, { prefix: `${name}:` });
    const sink = await PostgresSink.connect(postgresUrl!, { table: name });
    const receiver = createReceiver({ store, sink });
    const sql = postgres(postgresUrl!, { onnotice: () => {} });
    try {
      const body = { events: [wireEvent(1), wireEvent(2), wireEvent(2)] };
      const first = await receiver(batchRequest(body, { key: "batch-0001" }));
      assert.equal(first.status, 200);
      const results = (await first.json()).results;
      assert.deepEqual(results.map((r: { status: string }) => r.status), [
        "accepted",
        "accepted",
        "duplicate",
      ]);
      const again = await receiver(batchRequest(body, { key: "batch-0001" }));
      assert.equal(again.status, 409);
      assert.deepEqual((await again.json()).results, results);
      const events = await receiver(batchRequest({ events: [wireEvent(2), wireEvent(3)] }));
      assert.deepEqual((await events.json()).results, [
        { status: "duplicate" },
        { status: "accepted" },
      ]);
      const [row] = await sql.unsafe(`select count(*)::int as n from ${name}`);
      assert.equal(row!.n, 3);
    } finally {
      await receiver.close();
      await sql.unsafe(`drop table if exists ${name}`);
      await sql.end();
    }
  },
});
