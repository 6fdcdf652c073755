import type { IdemtrackEvent } from "../event.ts";
import type { QueuedRecord } from "../ports/storage.ts";
import type { Waiter } from "./_waiter.ts";

/**
 * Where the queue keeps events without an object each (see `queue/`): the
 * fields of its `index`-th event, made when asked for.
 */
export interface EntrySource {
  seqAt(index: number): number;
  sizeAt(index: number): number;
  idAt(index: number): string;
  keyAt(index: number): string;
  groupAt(index: number): string;
  streamAt(index: number): string;
  dataAt(index: number): Uint8Array;
  queuedAtAt(index: number): number;
}

/**
 * A held event with its bookkeeping, as batches, results and storage see it:
 * either a record (restored from storage, given to `send()`, or journaled by
 * a storage that keeps records) or a place in an {@linkcode EntrySource},
 * whose fields are read from there when asked for (the record id and key
 * strings included): such an entry is a few words, so that batches handed to
 * a transport during a burst hold little.
 */
export class Entry implements QueuedRecord {
  /** Whoever waits for this very event (`deliver()`). */
  bulk: Waiter | undefined = undefined;
  inBatch = false;
  /** Order of arrival; restored records get seq <= 0 (older than anything new). */
  readonly seq: number;
  /** Size of the encoded event in bytes. */
  readonly bytes: number;
  /** The event as the caller gave it (`send()`), for failure reports. */
  readonly event: IdemtrackEvent | undefined;
  readonly #record: QueuedRecord | undefined;
  readonly #source: EntrySource | undefined;
  readonly #index: number;

  private constructor(
    seq: number,
    bytes: number,
    event: IdemtrackEvent | undefined,
    record: QueuedRecord | undefined,
    source: EntrySource | undefined,
    index: number,
  ) {
    this.seq = seq;
    this.bytes = bytes;
    this.event = event;
    this.#record = record;
    this.#source = source;
    this.#index = index;
  }

  /** An entry over a record (its fields as they are). */
  static of(record: QueuedRecord, seq: number, event?: IdemtrackEvent): Entry {
    return new Entry(seq, record.data.length, event, record, undefined, -1);
  }

  /** The `index`-th event of a source. */
  static at(source: EntrySource, index: number): Entry {
    return new Entry(
      source.seqAt(index),
      source.sizeAt(index),
      undefined,
      undefined,
      source,
      index,
    );
  }

  /**
   * The entries with the bytes of those in a source copied out, together,
   * into one buffer: for events that outlive their batch (the retrying part of
   * a partial answer), which would otherwise keep the whole source and its
   * 1 MB slabs alive for as long as they wait and retry. Entries over a
   * record are returned as they are.
   */
  static detached(entries: readonly Entry[]): Entry[] {
    let bytes = 0;
    for (const entry of entries) if (entry.#source !== undefined) bytes += entry.bytes;
    if (bytes === 0) return [...entries];
    const buffer = new Uint8Array(bytes);
    let offset = 0;
    return entries.map((entry) => {
      if (entry.#source === undefined) return entry;
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

  /** The event as a plain record (own fields, safe to spread or keep). */
  record(): QueuedRecord {
    if (this.#record !== undefined) return this.#record;
    const { id, key, group, stream, data, queuedAt } = this;
    return { id, key, group, stream, data, queuedAt };
  }

  get id(): string {
    return this.#source?.idAt(this.#index) ?? this.#record!.id;
  }

  get key(): string {
    return this.#source?.keyAt(this.#index) ?? this.#record!.key;
  }

  get group(): string {
    return this.#source?.groupAt(this.#index) ?? this.#record!.group;
  }

  get stream(): string {
    return this.#source?.streamAt(this.#index) ?? this.#record!.stream;
  }

  get data(): Uint8Array {
    return this.#source?.dataAt(this.#index) ?? this.#record!.data;
  }

  get queuedAt(): number {
    return this.#source?.queuedAtAt(this.#index) ?? this.#record!.queuedAt;
  }
}
