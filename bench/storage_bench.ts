// Durable appends per second for FileStorage in each durability mode, with an
// MemoryStorage (the default driver) as the comparison in the same run.
//
//   npx -y deno@2 bench --allow-all bench/storage_bench.ts
//
// One iteration = 1000 records of 320 B appended one call each (as the client
// does per event), then `await sync()` (all 1000 durable), then the 1000
// removed (delivered), so the log stays bounded and compaction runs as in
// production. appends/s = 1000 × iter/s.
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import { MemoryStorage } from "../src/drivers/storage/memory_storage.ts";
import type { Durability } from "../src/drivers/storage/_options.ts";
import type { QueuedRecord } from "../src/ports/storage.ts";

const RECORDS_PER_ITERATION = 1000;
const RECORD_BYTES = 320;

let nextId = 0;
function records(count: number): QueuedRecord[] {
  const data = new Uint8Array(RECORD_BYTES).fill(42);
  return Array.from({ length: count }, () => {
    const id = `rec-${nextId++}`;
    return { id, key: `evt-${id}`, group: "track", stream: "", data, queuedAt: Date.now() };
  });
}

const dir = await Deno.makeTempDir({ prefix: "idemtrack-bench-" });
const stores = new Map<Durability, FileStorage>();
for (const durability of ["everyWrite", "interval", "none"] as const) {
  const storage = new FileStorage(`${dir}/${durability}.log`, { durability });
  await storage.open();
  stores.set(durability, storage);
}
globalThis.addEventListener("unload", () => {
  for (const storage of stores.values()) storage.close().catch(() => {});
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // best effort
  }
});

const memory = new MemoryStorage();
await memory.open();
Deno.bench({
  name: "MemoryStorage: 1000 appends + sync()",
  group: "1000 appends then sync",
  baseline: true,
  async fn() {
    const batch = records(RECORDS_PER_ITERATION);
    for (const record of batch) memory.append([record]);
    await memory.sync();
    memory.remove(batch.map((r) => r.id));
  },
});

for (const [durability, storage] of stores) {
  Deno.bench({
    name: `FileStorage(${durability}): 1000 appends + sync()`,
    group: "1000 appends then sync",
    async fn() {
      const batch = records(RECORDS_PER_ITERATION);
      for (const record of batch) storage.append([record]);
      await storage.sync();
      storage.remove(batch.map((r) => r.id));
    },
  });
}

// The latency of one durable append when every append waits for its own fsync.
for (const durability of ["everyWrite", "none"] as const) {
  Deno.bench({
    name: `FileStorage(${durability}): 1 append + sync()`,
    group: "1 append then sync",
    baseline: durability === "none",
    async fn() {
      const storage = stores.get(durability)!;
      const [record] = records(1);
      storage.append([record!]);
      await storage.sync();
      storage.remove([record!.id]);
    },
  });
}
