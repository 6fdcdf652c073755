import type { IdemtrackEvent } from "./event.ts";
import { QueueFullError } from "./errors/queue_full_error.ts";
import type { FailedRecord, OverflowPolicy } from "./pipeline.ts";
import type { QueuedRecord } from "./storage.ts";
import type { Waiter } from "./_settle.ts";
import { SlabEncoder } from "./_slab_encoder.ts";

// Bytes made on demand share slabs: one view each, not an ArrayBuffer each.
const slabs = new SlabEncoder();

/**
 * A queued record with its bookkeeping (one object per event: it is also
 * what storage gets). An event a profile encoded as text keeps the text, and
 * its bytes are made only if something reads `data` (a storage that writes
 * them, a failure report); request bodies are built from the texts at once.
 */
export class Entry implements QueuedRecord {
  bulk: Waiter | undefined = undefined;
  #encoded: Uint8Array | string;

  constructor(
    readonly id: string,
    readonly key: string,
    readonly group: string,
    readonly stream: string,
    encoded: Uint8Array | string,
    /** Size of the encoded event in bytes (UTF-8 of the text). */
    readonly bytes: number,
    readonly queuedAt: number,
    /** Order of arrival; restored records get seq <= 0 (older than anything new). */
    readonly seq: number,
    public inBatch: boolean,
    readonly event: IdemtrackEvent | undefined,
  ) {
    this.#encoded = encoded;
  }

  get data(): Uint8Array {
    const encoded = this.#encoded;
    if (typeof encoded !== "string") return encoded;
    const data = slabs.encode(encoded);
    this.#encoded = data;
    return data;
  }

  get text(): string | undefined {
    const encoded = this.#encoded;
    return typeof encoded === "string" ? encoded : undefined;
  }
}

/** The entries not yet in a batch, oldest first: an array with a moving head. */
export class EntryQueue {
  #items: Entry[] = [];
  #head = 0;
  #bytes = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Encoded bytes queued (the events' data, without framing). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The `index`-th entry from the head. */
  at(index: number): Entry | undefined {
    return this.#items[this.#head + index];
  }

  push(entry: Entry): void {
    this.#items.push(entry);
    this.#bytes += entry.bytes;
  }

  /** Puts entries before everything queued (restored records are older). */
  prepend(entries: Entry[]): void {
    for (const entry of entries) this.#bytes += entry.bytes;
    this.#items = [...entries, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }

  /** Removes and returns the head. */
  shift(): Entry | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const entry = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as unknown as Entry;
    this.#bytes -= entry.bytes;
    return entry;
  }

  /** Drops `count` entries off the head. */
  skip(count: number): void {
    for (let i = 0; i < count; i++) {
      this.#bytes -= this.#items[this.#head]!.bytes;
      this.#items[this.#head++] = undefined as unknown as Entry;
    }
    this.compact();
  }

  /** Releases the consumed prefix once it is most of the array. */
  compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Idempotency keys of everything queued. */
  keys(): string[] {
    const keys: string[] = [];
    for (let i = this.#head; i < this.#items.length; i++) keys.push(this.#items[i]!.key);
    return keys;
  }
}

/** The queue bounds and what happens at them. */
export interface QueueBounds {
  readonly maxQueueSize: number;
  readonly maxQueueBytes: number;
  readonly overflow: OverflowPolicy;
}

/** What `makeRoom` needs from the pipeline: current holdings and a way to drop an entry. */
export interface HeldCounts {
  readonly unsettled: number;
  readonly heldBytes: number;
}

/** What the overflow policy decided for one new event of `size` bytes. */
export interface Overflow {
  /** Whether the new event may be queued. */
  readonly admit: boolean;
  /** Events dropped (the oldest ones, or the new one), for the `drop` hook. */
  readonly dropped: FailedRecord[];
  /** Ids of queued records dropped (to remove from storage). */
  readonly removedIds: string[];
}

/** Whether one more event of `size` bytes passes a bound. */
export function isFull(bounds: QueueBounds, held: HeldCounts, size: number): boolean {
  return held.unsettled + 1 > bounds.maxQueueSize || held.heldBytes + size > bounds.maxQueueBytes;
}

/**
 * Applies the overflow policy at a bound: throws for `reject`, drops the
 * oldest queued events (`drop(entry, reason)` settles each) for `dropOldest`,
 * else drops the new event (also when everything held is in flight).
 *
 * @throws {QueueFullError} under the `reject` policy.
 */
export function makeRoom(
  bounds: QueueBounds,
  held: HeldCounts,
  queue: EntryQueue,
  size: number,
  incoming: { key: string; data: Uint8Array; event: IdemtrackEvent | undefined },
  drop: (entry: Entry, reason: string) => FailedRecord,
): Overflow {
  const bound = held.unsettled + 1 > bounds.maxQueueSize ? "events" : "bytes";
  const limit = bound === "events" ? bounds.maxQueueSize : bounds.maxQueueBytes;
  if (bounds.overflow === "reject") throw new QueueFullError(bound, limit);
  const reason = new QueueFullError(bound, limit).message;
  const dropped: FailedRecord[] = [];
  const removedIds: string[] = [];
  if (bounds.overflow === "dropOldest") {
    while (isFull(bounds, held, size)) {
      const oldest = queue.shift();
      if (oldest === undefined) break;
      removedIds.push(oldest.id);
      dropped.push(drop(oldest, reason));
    }
    queue.compact();
  }
  if (!isFull(bounds, held, size)) return { admit: true, dropped, removedIds };
  // dropNewest, or everything held is in flight: the new event is the one dropped.
  const { key, data, event } = incoming;
  const failed: FailedRecord = { key, data, error: reason, code: "dropped" };
  dropped.push(event === undefined ? failed : { ...failed, event });
  return { admit: false, dropped, removedIds };
}
