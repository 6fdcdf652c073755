import { encodeBase64 } from "../../../_util/base64.ts";
import type { JsonValue } from "../../../event.ts";
import type { QueuedRecord, StoredBatch } from "../../../ports/storage.ts";
import type { BrowserBackend, BrowserContents, BrowserMutation } from "./_browser_backend.ts";
import { recordFields } from "../_ops.ts";

/** The part of `localStorage` this backend uses. */
export interface LocalStorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** `globalThis.localStorage` when this runtime has one (and it is usable). */
export function globalLocalStorage(): LocalStorageLike | undefined {
  try {
    return (globalThis as { localStorage?: LocalStorageLike }).localStorage ?? undefined;
  } catch {
    return undefined; // access throws where storage is disabled
  }
}

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

type StoredRecord = Omit<QueuedRecord, "data"> & { data: string };

/**
 * Keys `<name>:r:<seq>` (record, data in base64), `<name>:b:<id>`,
 * `<name>:v:<key>`, each holding JSON. Every write is synchronous, and
 * durable as far as the browser keeps localStorage.
 */
export function localStorageBackend(storage: LocalStorageLike, name: string): BrowserBackend {
  const prefix = `${name}:`;
  return {
    kind: "localStorage",
    load(): Promise<BrowserContents> {
      const contents: BrowserContents = {
        records: [],
        batches: [],
        values: new Map(),
        skipped: { entries: 0, bytes: 0 },
      };
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i);
        if (key === null || !key.startsWith(prefix)) continue;
        const text = storage.getItem(key) ?? "";
        const kind = key.slice(prefix.length, prefix.length + 2);
        const rest = key.slice(prefix.length + 2);
        try {
          const parsed = JSON.parse(text);
          if (kind === "r:") {
            const stored = parsed as StoredRecord;
            const record: QueuedRecord = { ...stored, data: decodeBase64(stored.data) };
            if (typeof record.id !== "string") throw new TypeError("record without id");
            contents.records.push({ seq: Number(rest), record });
          } else if (kind === "b:") contents.batches.push(parsed as StoredBatch);
          else if (kind === "v:") contents.values.set(rest, parsed as JsonValue);
        } catch {
          contents.skipped.entries++;
          contents.skipped.bytes += text.length;
        }
      }
      contents.records.sort((a, b) => a.seq - b.seq);
      return Promise.resolve(contents);
    },
    write(mutations: readonly BrowserMutation[]): Promise<void> {
      try {
        for (const m of mutations) {
          switch (m.kind) {
            case "putRecord": {
              const stored: StoredRecord = {
                ...recordFields(m.record),
                data: encodeBase64(m.record.data),
              };
              storage.setItem(`${prefix}r:${m.seq}`, JSON.stringify(stored));
              break;
            }
            case "deleteRecord":
              storage.removeItem(`${prefix}r:${m.seq}`);
              break;
            case "putBatch":
              storage.setItem(`${prefix}b:${m.batch.id}`, JSON.stringify(m.batch));
              break;
            case "deleteBatch":
              storage.removeItem(`${prefix}b:${m.id}`);
              break;
            case "putValue":
              storage.setItem(`${prefix}v:${m.key}`, JSON.stringify(m.value));
              break;
            case "deleteValue":
              storage.removeItem(`${prefix}v:${m.key}`);
              break;
          }
        }
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error); // QuotaExceededError: the queue outgrew localStorage
      }
    },
    close: () => {},
  };
}
