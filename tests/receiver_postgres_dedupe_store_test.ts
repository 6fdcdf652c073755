import postgres from "postgres";
import { PostgresDedupeStore } from "../src/receiver/postgres/mod.ts";
import { dedupeStoreConformance } from "./_dedupe_store_conformance.ts";
import { serviceUrl, uniqueName } from "./_services.ts";

const url = serviceUrl("postgres");

dedupeStoreConformance("postgres", async () => {
  // Each test has its own table on the shared server, so tests run in parallel.
  const table = uniqueName("dedupe");
  const store = await PostgresDedupeStore.connect(url!, { table });
  return {
    store,
    twin: () => PostgresDedupeStore.connect(url!, { table }),
    done: async () => {
      await store.close();
      const sql = postgres(url!, { onnotice: () => {} });
      await sql.unsafe(`drop table if exists ${table}`);
      await sql.end();
    },
  };
}, { ignore: url === undefined });
