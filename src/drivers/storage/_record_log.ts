import type { QueuedRecord } from "../../ports/storage.ts";

/**
 * The records a storage driver holds, in append order, without a per-record
 * hash table (hashing every record id on append and again on removal cost
 * more than the rest of the bookkeeping together): records are settled mostly
 * in the order they were queued, so a removal usually matches the oldest
 * record (`head`); the others wait in `gone` (in removal order, matched at the
 * head as it reaches them) and are resolved in bulk when they pile up.
 * Removed records are released as the head passes them.
 *
 * Removing an id that is not held is a no-op. Ids are unique (the
 * `Storage` contract): an id appended again is held twice until
 * {@linkcode RecordLog.dedupe}, which drivers run on what they read back.
 */
export class RecordLog {
  #records: QueuedRecord[] = [];
  #head = 0;
  #gone: string[] = [];
  #goneHead = 0;
  #bytes = 0;
  readonly #sizeOf: (record: QueuedRecord) => number;

  /** `sizeOf`: what one record counts in {@linkcode RecordLog.bytes}. */
  constructor(sizeOf: (record: QueuedRecord) => number = (record) => record.data.length) {
    this.#sizeOf = sizeOf;
  }

  /**
   * Size of the records held, by `sizeOf`. Records removed out of order and
   * not matched yet count as records of average size (exact once they are
   * resolved, at the latest when they are half of what is held): about
   * exact when records are of similar sizes, as a queue's events are.
   */
  get bytes(): number {
    const remaining = this.#records.length - this.#head;
    const pending = this.#pendingRemovals;
    if (pending === 0 || remaining === 0) return this.#bytes;
    return this.#bytes - pending * (this.#bytes / remaining);
  }

  /** Records held (removals still pending counted as done; an unknown id counts too). */
  get held(): number {
    return this.#records.length - this.#head - this.#pendingRemovals;
  }

  append(records: readonly QueuedRecord[]): void {
    const sizeOf = this.#sizeOf;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      this.#records.push(record);
      this.#bytes += sizeOf(record);
    }
  }

  remove(ids: readonly string[]): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (this.#head < this.#records.length && this.#records[this.#head]!.id === id) {
        this.#release();
      } else {
        this.#gone.push(id);
      }
    }
    // Earlier out-of-order removals the head has now reached.
    while (
      this.#goneHead < this.#gone.length && this.#head < this.#records.length &&
      this.#records[this.#head]!.id === this.#gone[this.#goneHead]
    ) {
      this.#release();
      this.#goneHead++;
    }
    const pending = this.#pendingRemovals;
    if (pending === 0) {
      this.#gone = [];
      this.#goneHead = 0;
    } else if (pending * 2 > this.#records.length - this.#head) {
      // Amortized: the pass costs at most three removals' worth each.
      this.#resolve();
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The records not removed, in append order. */
  live(): QueuedRecord[] {
    this.#resolve();
    return this.#records.slice(this.#head);
  }

  get size(): number {
    this.#resolve();
    return this.#records.length - this.#head;
  }

  /**
   * Keeps one record per id, as a map would: at the place of the first
   * append, with the fields of the last (a log read back may repeat an id).
   */
  dedupe(): void {
    this.#resolve();
    const at = new Map<string, number>();
    const kept: QueuedRecord[] = [];
    for (let i = this.#head; i < this.#records.length; i++) {
      const record = this.#records[i]!;
      const index = at.get(record.id);
      if (index === undefined) {
        at.set(record.id, kept.length);
        kept.push(record);
      } else {
        kept[index] = record;
      }
    }
    if (kept.length === this.#records.length - this.#head) return;
    this.#records = kept;
    this.#head = 0;
    this.#bytes = 0;
    for (const record of kept) this.#bytes += this.#sizeOf(record);
  }

  /** Out-of-order removals not matched or resolved yet. */
  get #pendingRemovals(): number {
    return this.#gone.length - this.#goneHead;
  }

  /** Drops the head record. */
  #release(): void {
    this.#bytes -= this.#sizeOf(this.#records[this.#head]!);
    this.#records[this.#head++] = undefined as unknown as QueuedRecord;
  }

  /** Applies the pending out-of-order removals in one pass. */
  #resolve(): void {
    if (this.#pendingRemovals === 0) return;
    const gone = new Set(this.#gone.slice(this.#goneHead));
    const kept: QueuedRecord[] = [];
    for (let i = this.#head; i < this.#records.length; i++) {
      const record = this.#records[i]!;
      if (gone.has(record.id)) this.#bytes -= this.#sizeOf(record);
      else kept.push(record);
    }
    this.#records = kept;
    this.#head = 0;
    this.#gone = [];
    this.#goneHead = 0;
  }
}
