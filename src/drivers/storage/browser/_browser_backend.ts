import type { JsonValue } from "../../../event.ts";
import type { QueuedRecord, StoredBatch } from "../../../ports/storage.ts";

/** One change to a browser store; records are keyed by a sequence number that keeps append order. */
export type BrowserMutation =
  | { readonly kind: "putRecord"; readonly seq: number; readonly record: QueuedRecord }
  | { readonly kind: "deleteRecord"; readonly seq: number }
  | { readonly kind: "putBatch"; readonly batch: StoredBatch }
  | { readonly kind: "deleteBatch"; readonly id: string }
  | { readonly kind: "putValue"; readonly key: string; readonly value: JsonValue }
  | { readonly kind: "deleteValue"; readonly key: string };

/** What a browser store holds; `records` in ascending `seq`. */
export interface BrowserContents {
  records: Array<{ seq: number; record: QueuedRecord }>;
  batches: StoredBatch[];
  values: Map<string, JsonValue>;
  /** Entries that did not parse (skipped). */
  skipped: { entries: number; bytes: number };
}

/** A place in the browser to keep a queue (IndexedDB, localStorage). */
export interface BrowserBackend {
  readonly kind: "indexedDB" | "localStorage";
  load(): Promise<BrowserContents>;
  /** Applies the mutations in order; all or nothing where the backend allows (IndexedDB). */
  write(mutations: readonly BrowserMutation[]): Promise<void>;
  close(): void;
}
