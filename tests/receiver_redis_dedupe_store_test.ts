import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createReceiver } from "../src/receiver/receiver.ts";
import { RedisDedupeStore } from "../src/receiver/redis_dedupe_store.ts";
import { dedupeStoreConformance } from "./_dedupe_store_conformance.ts";
import { batchRequest, recordingSink, wireEvent } from "./_receiver_fixtures.ts";
import { canStartServers, serviceUrl, startServer, uniqueName } from "./_services.ts";

const url = serviceUrl("redis");

dedupeStoreConformance("redis", async () => {
  // Each test has its own prefix on the shared server, so tests run in parallel.
  const prefix = `${uniqueName("test")}:`;
  const store = await RedisDedupeStore.connect(url!, { prefix });
  return {
    store,
    twin: () => RedisDedupeStore.connect(url!, { prefix }),
    done: () => store.close(),
  };
}, { ignore: url === undefined });

Deno.test({
  name: "a request with a key and 200 events costs Redis two scripts: one claim, one commit",
  // A private server: its counts are this test's alone.
  ignore: url === undefined || !(await canStartServers()),
  fn: async () => {
    await using redis = await startServer("redis");
    const store = await RedisDedupeStore.connect(redis.url);
    const receiver = createReceiver({ store, sink: recordingSink() });
    const stats = new Redis(redis.url);
    const scriptCalls = async () => {
      const info = await stats.info("commandstats");
      const count = (name: string) =>
        Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
      return { evalsha: count("evalsha"), eval: count("eval") };
    };
    try {
      const body = { events: Array.from({ length: 200 }, (_, i) => wireEvent(i)) };
      // The first request loads the scripts (NOSCRIPT, then EVAL); the second runs on EVALSHA.
      assert.equal((await receiver(batchRequest(body, { key: "batch-0001" }))).status, 200);
      const before = await scriptCalls();
      const second = await receiver(
        batchRequest({ events: Array.from({ length: 200 }, (_, i) => wireEvent(1000 + i)) }, {
          key: "batch-0002",
        }),
      );
      assert.equal(second.status, 200);
      const after = await scriptCalls();
      assert.equal(after.evalsha - before.evalsha, 2);
      assert.equal(after.eval - before.eval, 0);
    } finally {
      stats.disconnect();
      await receiver.close();
    }
  },
});
