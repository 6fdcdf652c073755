import type { JsonValue } from "../../../event.ts";
import type { QueuedRecord, StoredBatch } from "../../../ports/storage.ts";
import type { BrowserBackend, BrowserContents, BrowserMutation } from "./_browser_backend.ts";
import { ownBytes, recordFields } from "../_ops.ts";

// The few IndexedDB types used here, declared structurally: Deno's type
// library has no DOM, and the driver must type-check there too.
interface IdbRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbObjectStore {
  put(value: unknown, key?: unknown): IdbRequest<unknown>;
  delete(key: unknown): IdbRequest<unknown>;
  getAll(): IdbRequest<unknown[]>;
  getAllKeys(): IdbRequest<unknown[]>;
}
interface IdbTransaction {
  objectStore(name: string): IdbObjectStore;
  readonly error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabase {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(
    stores: string[],
    mode: "readonly" | "readwrite",
    options?: { durability?: "strict" | "relaxed" | "default" },
  ): IdbTransaction;
  close(): void;
}
/** The part of `indexedDB` this backend uses. */
export interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}

/** `globalThis.indexedDB` when this runtime has one. */
export function globalIndexedDb(): IdbFactory | undefined {
  return (globalThis as { indexedDB?: IdbFactory }).indexedDB ?? undefined;
}

const STORES = ["records", "batches", "values"];

function request<T>(req: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx: IdbTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

/** One database per queue: stores `records` (key: seq), `batches` (key: id), `values` (key: name). */
export async function openIndexedDbBackend(
  factory: IdbFactory,
  name: string,
): Promise<BrowserBackend> {
  const open = factory.open(name, 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    for (const store of STORES) {
      if (!db.objectStoreNames.contains(store)) db.createObjectStore(store);
    }
  };
  open.onblocked = () => {};
  const db = await request(open);
  return {
    kind: "indexedDB",
    async load(): Promise<BrowserContents> {
      const tx = db.transaction(STORES, "readonly");
      const records = tx.objectStore("records");
      const [seqs, rows, batches, valueKeys, values] = await Promise.all([
        request(records.getAllKeys()),
        request(records.getAll()),
        request(tx.objectStore("batches").getAll()),
        request(tx.objectStore("values").getAllKeys()),
        request(tx.objectStore("values").getAll()),
      ]);
      const contents: BrowserContents = {
        records: [],
        batches: batches as StoredBatch[],
        values: new Map(),
        skipped: { entries: 0, bytes: 0 },
      };
      rows.forEach((row, i) => {
        const record = row as QueuedRecord;
        if (typeof record?.id === "string" && record.data instanceof Uint8Array) {
          contents.records.push({ seq: seqs[i] as number, record });
        } else contents.skipped.entries++;
      });
      valueKeys.forEach((key, i) => contents.values.set(String(key), values[i] as JsonValue));
      return contents;
    },
    write(mutations: readonly BrowserMutation[]): Promise<void> {
      // "strict": the transaction completes only once the browser flushed it to disk.
      const tx = db.transaction(STORES, "readwrite", { durability: "strict" });
      const completed = done(tx);
      const records = tx.objectStore("records");
      const batches = tx.objectStore("batches");
      const values = tx.objectStore("values");
      for (const m of mutations) {
        switch (m.kind) {
          case "putRecord":
            records.put({ ...recordFields(m.record), data: ownBytes(m.record.data) }, m.seq);
            break;
          case "deleteRecord":
            records.delete(m.seq);
            break;
          case "putBatch":
            batches.put(m.batch, m.batch.id);
            break;
          case "deleteBatch":
            batches.delete(m.id);
            break;
          case "putValue":
            values.put(m.value, m.key);
            break;
          case "deleteValue":
            values.delete(m.key);
            break;
        }
      }
      return completed;
    },
    close: () => db.close(),
  };
}
