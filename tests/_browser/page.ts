// Runs in headless Chromium (bundled by tests/browser_storage_test.ts): the
// shared conformance suite against BrowserStorage on each backend, plus the
// backend choice, then POSTs the results to the test's loopback server.
import assert from "node:assert/strict";
import { BrowserStorage } from "../../src/drivers/storage/browser/browser_storage.ts";
import { conformanceCases, type DriverFactory, makeRecord } from "../_storage_conformance.ts";
import { Client } from "../../src/client.ts";
import { workerTransport } from "../../src/drivers/transport/worker_transport.ts";

export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
}

let stores = 0;

// Deno's type library (which type-checks this file) has no DOM.
interface DeleteRequest {
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
  onblocked: (() => void) | null;
}
const indexedDB = (globalThis as unknown as {
  indexedDB: { deleteDatabase(name: string): DeleteRequest };
}).indexedDB;

function idbDelete(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    request.onblocked = () => resolve();
  });
}

function localDelete(name: string): void {
  const keys: string[] = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key?.startsWith(`${name}:`)) keys.push(key);
  }
  for (const key of keys) localStorage.removeItem(key);
}

function driver(backend: "indexedDB" | "localStorage"): DriverFactory {
  return {
    name: `BrowserStorage(${backend})`,
    // localStorage holds ~5 MB per origin, as base64 JSON.
    largeRecordBytes: backend === "localStorage" ? 256 * 1024 : 1024 * 1024,
    manyRecords: backend === "localStorage" ? 2000 : 5000,
    createStore() {
      const name = `conformance-${backend}-${stores++}`;
      return Promise.resolve({
        connect: () => {
          const storage = new BrowserStorage({ name, backend, syncIntervalMs: 5 });
          const open = storage.open.bind(storage);
          storage.open = async () => {
            const snapshot = await open();
            assert.equal(storage.backend, backend);
            return snapshot;
          };
          return storage;
        },
        destroy: async () => {
          if (backend === "indexedDB") await idbDelete(name);
          else localDelete(name);
        },
      });
    },
  };
}

const extraCases: Array<{ name: string; run(): Promise<void> }> = [
  {
    name: "BrowserStorage: 'auto' uses IndexedDB where it exists",
    async run() {
      const storage = new BrowserStorage({ name: "auto-idb" });
      await storage.open();
      assert.equal(storage.backend, "indexedDB");
      await storage.close();
      await idbDelete("auto-idb");
    },
  },
  {
    name:
      "BrowserStorage: 'auto' falls back to localStorage without IndexedDB, and keeps the queue",
    async run() {
      const original = Object.getOwnPropertyDescriptor(globalThis, "indexedDB");
      Object.defineProperty(globalThis, "indexedDB", { value: undefined, configurable: true });
      try {
        const storage = new BrowserStorage({ name: "auto-local" });
        await storage.open();
        assert.equal(storage.backend, "localStorage");
        storage.append([makeRecord(1)]);
        await storage.close();
        const again = new BrowserStorage({ name: "auto-local" });
        const snapshot = await again.open();
        assert.deepEqual(snapshot.records.map((record) => record.id), ["rec-1"]);
        assert.ok(localStorage.getItem("auto-local:r:0")?.includes('"rec-1"'));
        await again.close();
      } finally {
        if (original) Object.defineProperty(globalThis, "indexedDB", original);
        else delete (globalThis as { indexedDB?: unknown }).indexedDB;
        localDelete("auto-local");
      }
    },
  },
  {
    name: "workerTransport(): a Web Worker in the browser sends and answers",
    async run() {
      const transport = workerTransport();
      try {
        const body = new TextEncoder().encode('{"events":[]}');
        const response = await transport({
          url: new URL("/v1/events/batch", location.href).href,
          method: "POST",
          headers: { "content-type": "application/json", "x-idempotency-key": "browser-batch-01" },
          body,
        });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("x-seen-key"), "browser-batch-01");
        assert.equal(body.byteLength, 0, "the body was moved to the worker");
      } finally {
        transport.close?.();
      }
    },
  },
  {
    name: "workerTransport(): a Client in the browser delivers every event once from its worker",
    async run() {
      const client = new Client({
        endpoint: location.origin,
        transport: workerTransport(),
        exitHook: false,
        maxBatchEvents: 25,
      });
      for (let i = 0; i < 100; i++) {
        client.track("clicked", { i }, { userId: "u1", idempotencyKey: `browser-key-${i}` });
      }
      const summary = await client.close({ timeoutMs: 20_000 });
      assert.equal(summary.delivered, 100);
      const seen = await (await fetch("/seen")).json() as string[];
      const keys = seen.filter((key) => key.startsWith("browser-key-"));
      assert.equal(keys.length, 100);
      assert.equal(new Set(keys).size, 100);
    },
  },
];

async function main(): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const record = async (name: string, run: () => Promise<void>) => {
    try {
      await run();
      results.push({ name, ok: true });
    } catch (error) {
      results.push({
        name,
        ok: false,
        error: error instanceof Error ? `${error.stack ?? error.message}` : String(error),
      });
    }
  };
  for (const backend of ["indexedDB", "localStorage"] as const) {
    const factory = driver(backend);
    for (const testCase of conformanceCases) {
      await record(`${factory.name}: ${testCase.name}`, () => testCase.run(factory));
    }
  }
  for (const extra of extraCases) await record(extra.name, extra.run);
  return results;
}

main().then(
  (results) => fetch("/results", { method: "POST", body: JSON.stringify(results) }),
  (error) =>
    fetch("/results", {
      method: "POST",
      body: JSON.stringify([{ name: "page", ok: false, error: String(error) }]),
    }),
);
