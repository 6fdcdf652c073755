import { joinJsonArrayOf } from "../../_util/json_array.ts";
import type { QueuedRecord } from "../../ports/storage.ts";
import type { Members } from "../_batch.ts";
import type { Entry } from "../_entry.ts";
import type { Waiter } from "../_waiter.ts";

/** A batch's events as entries (restored ones, `deliver()`'s, a split or a retried part). */
export class EntryList implements Members {
  readonly #entries: Entry[];

  /** `entries`: at least one. */
  constructor(entries: Entry[]) {
    this.#entries = entries;
  }

  get length(): number {
    return this.#entries.length;
  }

  get stream(): string {
    return this.#entries[0]!.stream;
  }

  entries(): Entry[] {
    return this.#entries;
  }

  enter(): number {
    let entered = 0;
    for (const entry of this.#entries) {
      if (!entry.inBatch) {
        entry.inBatch = true;
        entered++;
      }
    }
    return entered;
  }

  forEach(visit: (seq: number, bytes: number, bulk: Waiter | undefined) => void): void {
    for (const entry of this.#entries) visit(entry.seq, entry.bytes, entry.bulk);
  }

  ids(): string[] {
    return this.#entries.map((entry) => entry.id);
  }

  records(): QueuedRecord[] {
    return this.#entries.map((entry) => entry.record());
  }

  data(): Uint8Array[] {
    return this.#entries.map((entry) => entry.data);
  }

  joinJson(
    prefix: Uint8Array,
    suffix: Uint8Array,
    allocate?: (length: number) => Uint8Array,
  ): Uint8Array {
    const entries = this.#entries;
    return joinJsonArrayOf(
      prefix,
      entries.length,
      (i) => entries[i]!.bytes,
      (i, body, offset) => body.set(entries[i]!.data, offset),
      suffix,
      allocate,
    );
  }
}
