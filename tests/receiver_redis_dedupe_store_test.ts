import { RedisDedupeStore } from "../src/receiver/redis_dedupe_store.ts";
import { dedupeStoreConformance } from "./_dedupe_store_conformance.ts";
import { serviceUrl, uniqueName } from "./_services.ts";

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
