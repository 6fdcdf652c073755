/**
 * The engine's queue: the events not yet in a batch, whatever their memory
 * layout. Nothing outside this folder knows it: events queued by a store
 * that keeps records are entries, the others packed into slabs and columns
 * ({@linkcode PackedQueue}), some of them before their size is known; a
 * batch taken off the queue is {@linkcode Members}.
 *
 * @module
 */
import { SlabWriter } from "../../_util/slab_writer.ts";
import type { Members } from "../_batch.ts";
import type { Entry } from "../_entry.ts";
import { EntryList } from "./_entry_list.ts";
import { EntryQueue } from "./_entry_queue.ts";
import { PackedQueue } from "./_packed_queue.ts";

/** The members of a batch of `entries` (at least one). */
export function membersOf(entries: Entry[]): Members {
  return new EntryList(entries);
}

/**
 * The events not yet in a batch, oldest first: entries (records restored
 * from storage, and every new event when storage journals records) ahead of
 * the packed new events. It owns the writer events are staged in.
 */
export class Queue {
  readonly #entries = new EntryQueue();
  readonly #packed: PackedQueue;
  readonly #writer = new SlabWriter();
  readonly #idPrefix: string;

  /**
   * `idPrefix`: record ids of packed events are it and their seq in base 36;
   * `onMeasured`: gets the bytes of events queued unsized once they are written.
   */
  constructor(idPrefix: string, onMeasured: (bytes: number) => void) {
    this.#idPrefix = idPrefix;
    this.#packed = new PackedQueue(idPrefix, this.#writer, onMeasured);
  }

  /** The record id of the event of `seq`. */
  idOf(seq: number): string {
    return this.#idPrefix + seq.toString(36);
  }

  get length(): number {
    return this.#entries.length + this.#packed.length;
  }

  /** Encoded bytes queued (without framing). */
  get bytes(): number {
    return this.#entries.bytes + this.#packed.bytes;
  }

  /**
   * Writes an event (and `key`, when no record will keep its string) after
   * what the queue holds, without keeping it yet; returns its size in bytes.
   */
  stage(encoded: string | Uint8Array, key: string): number {
    // Nothing queued unsized may be left to write over the staged event.
    this.#packed.measure();
    return this.#writer.stage(encoded, key);
  }

  /** A copy of the staged event's bytes (for the report of an event refused after staging). */
  stagedCopy(): Uint8Array {
    return this.#writer.view().slice();
  }

  /** Keeps the staged event and returns a view of its bytes (for a record of it). */
  commitStaged(): Uint8Array {
    this.#writer.commit();
    return this.#writer.view();
  }

  /** Queues the staged event, packed (it was staged with its key). */
  pushStaged(group: string, stream: string, queuedAt: number, seq: number): void {
    this.#packed.push(this.#writer, group, stream, queuedAt, seq);
  }

  /**
   * Queues an event before its bytes are written and its size known: the
   * caller knows it fits every bound at 3 bytes a UTF-16 unit.
   */
  pushText(
    text: string,
    key: string,
    group: string,
    stream: string,
    queuedAt: number,
    seq: number,
  ): void {
    this.#packed.pushText(text, key, group, stream, queuedAt, seq);
  }

  /**
   * UTF-16 units of the events queued unsized, or -1 while queueing unsized
   * does not pay (for a while after a group that was not all ASCII, each
   * would be written twice).
   */
  get unsizedUnits(): number {
    return this.#packed.unsizedPays ? this.#packed.unsizedTextUnits : -1;
  }

  /** Writes the events queued unsized, so that every size is known. */
  measure(): void {
    this.#packed.measure();
  }

  /** Queues an entry. */
  push(entry: Entry): void {
    this.#entries.push(entry);
  }

  /** Puts entries before everything queued (restored records are older). */
  prepend(entries: Entry[]): void {
    this.#entries.prepend(entries);
  }

  /**
   * Whether a full request's worth is queued: `maxEvents` events, or
   * `maxBytes` with a byte of framing per event.
   */
  holdsFullBatch(maxEvents: number, maxBytes: number): boolean {
    if (this.length >= maxEvents) return true;
    // Events queued unsized weigh 1 to 3 bytes a unit: they are written and counted only when
    // that range does not decide.
    const sized = this.#entries.bytes + this.#packed.sizedBytes + this.length;
    const unsized = this.#packed.unsizedTextUnits;
    if (sized + unsized >= maxBytes) return true;
    if (sized + 3 * unsized < maxBytes) return false;
    return this.bytes + this.length >= maxBytes;
  }

  sizeAt(index: number): number {
    const n = this.#entries.length;
    return index < n ? this.#entries.at(index)!.bytes : this.#packed.sizeAt(index - n);
  }

  groupAt(index: number): string {
    const n = this.#entries.length;
    return index < n ? this.#entries.at(index)!.group : this.#packed.groupAt(index - n);
  }

  streamAt(index: number): string {
    const n = this.#entries.length;
    return index < n ? this.#entries.at(index)!.stream : this.#packed.streamAt(index - n);
  }

  seqAt(index: number): number {
    const n = this.#entries.length;
    return index < n ? this.#entries.at(index)!.seq : this.#packed.seqAt(index - n);
  }

  /** Removes the first `count` events (at least one) as a batch's members. */
  take(count: number): Members {
    // Packed events stay packed: no object per event while the batch is out.
    if (this.#entries.length === 0) return this.#packed.takeRun(count);
    return new EntryList(this.takeEntries(count));
  }

  /** Removes the first `count` events and returns them as entries. */
  takeEntries(count: number): Entry[] {
    const fromEntries = Math.min(count, this.#entries.length);
    const taken = this.#entries.take(fromEntries);
    if (count === fromEntries) return taken;
    const packed = this.#packed.takeRun(count - fromEntries).entries(false);
    return fromEntries === 0 ? packed : taken.concat(packed);
  }

  /** Removes and returns the oldest event. */
  shift(): Entry | undefined {
    return this.length === 0 ? undefined : this.takeEntries(1)[0];
  }

  /** Every queued event as an entry, left in place. */
  snapshot(): Entry[] {
    const entries: Entry[] = [];
    for (let i = 0; i < this.#entries.length; i++) entries.push(this.#entries.at(i)!);
    return entries.concat(this.#packed.snapshot());
  }

  /** Idempotency keys of everything queued. */
  keys(): string[] {
    return this.snapshot().map((entry) => entry.key);
  }
}
