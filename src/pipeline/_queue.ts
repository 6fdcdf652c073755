import type { IdemtrackEvent } from "../event.ts";
import { QueueFullError } from "../errors/queue_full_error.ts";
import type { FailedRecord, OverflowPolicy } from "./pipeline.ts";
import type { QueuedRecord } from "../ports/storage.ts";
import type { Waiter } from "./_settle.ts";
import type { PackedQueue, PackedRun } from "./_packed_queue.ts";

/**
 * A held event with its bookkeeping, as batches, results and storage see it:
 * either a record (restored from storage, given to `send()`, or journaled by
 * a storage that keeps records) or a place in a {@linkcode PackedRun}, whose
 * fields are read from the run's columns and slabs when asked for (the
 * record id and key strings included): an entry of a packed run is a few
 * words, so that batches handed to a transport during a burst hold little.
 */
export class Entry implements QueuedRecord {
  bulk: Waiter | undefined = undefined;
  inBatch = false;
  /** Order of arrival; restored records get seq <= 0 (older than anything new). */
  readonly seq: number;
  /** Size of the encoded event in bytes. */
  readonly bytes: number;
  /** The event as the caller gave it (`send()`), for failure reports. */
  readonly event: IdemtrackEvent | undefined;
  readonly #record: QueuedRecord | undefined;
  readonly #run: PackedRun | undefined;
  readonly #index: number;

  private constructor(
    seq: number,
    bytes: number,
    event: IdemtrackEvent | undefined,
    record: QueuedRecord | undefined,
    run: PackedRun | undefined,
    index: number,
  ) {
    this.seq = seq;
    this.bytes = bytes;
    this.event = event;
    this.#record = record;
    this.#run = run;
    this.#index = index;
  }

  /** An entry over a record (its fields as they are). */
  static of(record: QueuedRecord, seq: number, event?: IdemtrackEvent): Entry {
    return new Entry(seq, record.data.length, event, record, undefined, -1);
  }

  /** The `index`-th event of a packed run. */
  static packed(run: PackedRun, index: number): Entry {
    return new Entry(run.seq(index), run.size(index), undefined, undefined, run, index);
  }

  /**
   * The entries with the bytes of those in a packed run copied out, together,
   * into one buffer: for events that outlive their batch (the retrying part of
   * a partial answer), which would otherwise keep the whole run and its 1 MB
   * slabs alive for as long as they wait and retry. Entries over a record are
   * returned as they are.
   */
  static detached(entries: readonly Entry[]): Entry[] {
    let bytes = 0;
    for (const entry of entries) if (entry.#run !== undefined) bytes += entry.bytes;
    if (bytes === 0) return [...entries];
    const buffer = new Uint8Array(bytes);
    let offset = 0;
    return entries.map((entry) => {
      if (entry.#run === undefined) return entry;
      const data = buffer.subarray(offset, offset + entry.bytes);
      data.set(entry.data);
      offset += entry.bytes;
      const { id, key, group, stream, queuedAt } = entry;
      const copy = Entry.of({ id, key, group, stream, data, queuedAt }, entry.seq, entry.event);
      copy.bulk = entry.bulk;
      copy.inBatch = entry.inBatch;
      return copy;
    });
  }

  get id(): string {
    return this.#run?.id(this.#index) ?? this.#record!.id;
  }

  get key(): string {
    return this.#run?.key(this.#index) ?? this.#record!.key;
  }

  get group(): string {
    return this.#run?.group(this.#index) ?? this.#record!.group;
  }

  get stream(): string {
    return this.#run?.stream(this.#index) ?? this.#record!.stream;
  }

  get data(): Uint8Array {
    return this.#run?.data(this.#index) ?? this.#record!.data;
  }

  get queuedAt(): number {
    return this.#run?.queuedAt(this.#index) ?? this.#record!.queuedAt;
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

  /** Removes the first `count` entries and returns them. */
  take(count: number): Entry[] {
    const taken = this.#items.slice(this.#head, this.#head + count);
    for (const entry of taken) this.#bytes -= entry.bytes;
    this.#items.fill(undefined as unknown as Entry, this.#head, this.#head + count);
    this.#head += count;
    this.#compact();
    return taken;
  }

  /** Releases the consumed prefix once it is most of the array. */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * The events not yet in a batch, oldest first: entries made at once
 * (records restored from storage, and every new event when storage journals
 * records) ahead of the packed new events.
 */
export class Queue {
  readonly entries = new EntryQueue();
  readonly packed: PackedQueue;

  constructor(packed: PackedQueue) {
    this.packed = packed;
  }

  get length(): number {
    return this.entries.length + this.packed.length;
  }

  /** Encoded bytes queued (without framing). */
  get bytes(): number {
    return this.entries.bytes + this.packed.bytes;
  }

  sizeAt(index: number): number {
    const n = this.entries.length;
    return index < n ? this.entries.at(index)!.bytes : this.packed.sizeAt(index - n);
  }

  groupAt(index: number): string {
    const n = this.entries.length;
    return index < n ? this.entries.at(index)!.group : this.packed.groupAt(index - n);
  }

  streamAt(index: number): string {
    const n = this.entries.length;
    return index < n ? this.entries.at(index)!.stream : this.packed.streamAt(index - n);
  }

  seqAt(index: number): number {
    const n = this.entries.length;
    return index < n ? this.entries.at(index)!.seq : this.packed.seqAt(index - n);
  }

  /** Removes the first `count` events and returns them as entries. */
  take(count: number): Entry[] {
    const fromEntries = Math.min(count, this.entries.length);
    const taken = this.entries.take(fromEntries);
    if (count === fromEntries) return taken;
    const packed = this.packed.takeRun(count - fromEntries).entries(false);
    return fromEntries === 0 ? packed : taken.concat(packed);
  }

  /** Removes the first `count` events as a run, when all of them are packed ones. */
  takeRun(count: number): PackedRun | undefined {
    return this.entries.length === 0 ? this.packed.takeRun(count) : undefined;
  }

  /** Removes and returns the oldest event. */
  shift(): Entry | undefined {
    return this.length === 0 ? undefined : this.take(1)[0];
  }

  /** Every queued event as an entry, left in place. */
  snapshot(): Entry[] {
    const entries: Entry[] = [];
    for (let i = 0; i < this.entries.length; i++) entries.push(this.entries.at(i)!);
    return entries.concat(this.packed.snapshot());
  }

  /** Idempotency keys of everything queued. */
  keys(): string[] {
    return this.snapshot().map((entry) => entry.key);
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
  /** Queued events dropped (to remove from storage). */
  readonly removed: Entry[];
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
  queue: Queue,
  size: number,
  incoming: { key: string; data: () => Uint8Array; event: IdemtrackEvent | undefined },
  drop: (entry: Entry, reason: string) => FailedRecord,
): Overflow {
  const bound = held.unsettled + 1 > bounds.maxQueueSize ? "events" : "bytes";
  const limit = bound === "events" ? bounds.maxQueueSize : bounds.maxQueueBytes;
  if (bounds.overflow === "reject") throw new QueueFullError(bound, limit);
  const reason = new QueueFullError(bound, limit).message;
  const dropped: FailedRecord[] = [];
  const removed: Entry[] = [];
  if (bounds.overflow === "dropOldest") {
    while (isFull(bounds, held, size)) {
      const oldest = queue.shift();
      if (oldest === undefined) break;
      removed.push(oldest);
      dropped.push(drop(oldest, reason));
    }
  }
  if (!isFull(bounds, held, size)) return { admit: true, dropped, removed };
  // dropNewest, or everything held is in flight: the new event is the one dropped.
  const { key, data, event } = incoming;
  const failed: FailedRecord = { key, data: data(), error: reason, code: "dropped" };
  dropped.push(event === undefined ? failed : { ...failed, event });
  return { admit: false, dropped, removed };
}
