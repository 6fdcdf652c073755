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
import { conformanceCases, type DriverFactory } from "./_storage_conformance.ts";
import { MapModel } from "./_map_model.ts";

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

/** A `StorageBackend` as an author outside the library would write it: maps, written op by op. */
function mapBackend(model: MapModel): StorageBackend {
  return {
    open: () =>
      Promise.resolve({
        records: [...model.records.values()],
        batches: [...model.batches.values()],
        values: new Map(model.values),
        skipped: { entries: 0, bytes: 0 },
      }),
    write(ops) {
      for (const op of ops) model.apply(op);
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
      const model = new MapModel();
      return Promise.resolve({
        connect: () => new WriteBehindStorage("map", mapBackend(model), { delayMs: 5 }),
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
