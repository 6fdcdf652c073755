// Runs the shared conformance suite against every driver that works under Deno.
// BrowserStorage runs the same cases in headless Chromium (browser_storage_test.ts).
import { MemoryStorage } from "../src/drivers/storage/memory_storage.ts";
import { DenoKvStorage } from "../src/drivers/storage/deno_kv_storage.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import type { Durability } from "../src/drivers/storage/_options.ts";
import {
  type StorageBackend,
  WriteBehindStorage,
} from "../src/drivers/storage/write_behind_storage.ts";
import type { JsonValue } from "../src/event.ts";
import type { QueuedRecord, StoredBatch } from "../src/ports/storage.ts";
import { conformanceCases, type DriverFactory } from "./_storage_conformance.ts";

function fileDriver(durability: Durability): DriverFactory {
  return {
    name: `FileStorage(${durability})`,
    async createStore() {
      const dir = await Deno.makeTempDir({ prefix: "idemtrack-file-" });
      const path = `${dir}/queue.log`;
      return {
        connect: () => new FileStorage(path, { durability, syncIntervalMs: 5 }),
        destroy: () => Deno.remove(dir, { recursive: true }),
      };
    },
  };
}

/** What a backend written against the public contract only keeps: maps, which outlive each driver. */
interface MapData {
  records: Map<string, QueuedRecord>;
  batches: Map<string, StoredBatch>;
  values: Map<string, JsonValue>;
}

/** A `StorageBackend` as an author outside the library would write it (maps, written op by op). */
function mapBackend(data: MapData): StorageBackend {
  return {
    open: () =>
      Promise.resolve({
        records: [...data.records.values()],
        batches: [...data.batches.values()],
        values: new Map(data.values),
        skipped: { entries: 0, bytes: 0 },
      }),
    write(ops) {
      for (const op of ops) {
        switch (op.type) {
          case "append":
            for (const { id, key, group, stream, data: bytes, queuedAt } of op.records) {
              data.records.set(id, { id, key, group, stream, data: bytes.slice(), queuedAt });
            }
            break;
          case "saveBatch":
            data.batches.set(op.batch.id, op.batch);
            break;
          case "settleBatch":
            data.batches.delete(op.batchId);
            for (const id of op.removedRecordIds) data.records.delete(id);
            break;
          case "remove":
            for (const id of op.recordIds) data.records.delete(id);
            break;
          case "setValue":
            if (op.value === undefined) data.values.delete(op.key);
            else data.values.set(op.key, op.value);
            break;
        }
      }
      return Promise.resolve();
    },
    close: () => {},
  };
}

export const denoDrivers: DriverFactory[] = [
  {
    name: "MemoryStorage",
    createStore() {
      // Each connect() is a new driver over the data of the first one.
      const first = new MemoryStorage();
      let connected = 0;
      return Promise.resolve({
        connect: () => connected++ === 0 ? first : new MemoryStorage({ sharedWith: first }),
        destroy: () => Promise.resolve(),
      });
    },
  },
  fileDriver("everyWrite"),
  fileDriver("interval"),
  fileDriver("none"),
  {
    name: "DenoKvStorage",
    async createStore() {
      const dir = await Deno.makeTempDir({ prefix: "idemtrack-kv-" });
      return {
        connect: () => new DenoKvStorage({ path: `${dir}/queue.kv`, syncIntervalMs: 5 }),
        destroy: () => Deno.remove(dir, { recursive: true }),
      };
    },
  },
  {
    name: "WriteBehindStorage over a map backend",
    createStore() {
      const data: MapData = { records: new Map(), batches: new Map(), values: new Map() };
      return Promise.resolve({
        connect: () => new WriteBehindStorage("map", mapBackend(data), { delayMs: 5 }),
        destroy: () => Promise.resolve(),
      });
    },
  },
];

for (const driver of denoDrivers) {
  for (const testCase of conformanceCases) {
    Deno.test(`${driver.name}: ${testCase.name}`, () => testCase.run(driver));
  }
}
