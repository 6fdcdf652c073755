import { SlabWriter } from "../../_util/slab_writer.ts";
import { joinJsonArrayOf } from "../../_util/json_array.ts";
import type { QueuedRecord } from "../../ports/storage.ts";
import type { Members } from "../_batch.ts";
import { Entry, type EntrySource } from "../_entry.ts";
import type { Waiter } from "../_waiter.ts";

// Per-event integer columns, in one Int32Array with this stride.
const SLAB = 0;
const START = 1;
const SIZE = 2;
const KEY_LENGTH = 3;
const KIND = 4;
const STRIDE = 5;

/** A (group, stream) pair, shared by every event that has it. */
interface Kind {
  readonly group: string;
  readonly stream: string;
}

const decoder = new TextDecoder();

/**
 * Most UTF-16 units (events' text and keys) held unsized: written together,
 * their worst case (3 bytes a unit) stays under a quarter slab, and what a
 * slab's tail is left unused for is at most 24 KB of its 1 MB.
 */
const UNSIZED_UNITS = 8 * 1024;
/** Events queued sized after a group queued unsized that was not all ASCII (and so written twice). */
const SIZED_AFTER_MISS = 256;

/**
 * Events taken off the {@linkcode PackedQueue} together (a batch's): their
 * columns, the slabs their bytes are in, and how to read each field of the
 * `index`-th one (strings and views are made when asked for).
 */
export class PackedRun implements Members, EntrySource {
  readonly #ints: Int32Array;
  readonly #queuedAt: Float64Array;
  readonly #seqs: Float64Array;
  readonly #slabs: readonly Uint8Array[];
  readonly #firstSlab: number;
  readonly #kinds: readonly Kind[];
  readonly #idPrefix: string;

  constructor(
    ints: Int32Array,
    queuedAt: Float64Array,
    seqs: Float64Array,
    slabs: readonly Uint8Array[],
    firstSlab: number,
    kinds: readonly Kind[],
    idPrefix: string,
  ) {
    this.#ints = ints;
    this.#queuedAt = queuedAt;
    this.#seqs = seqs;
    this.#slabs = slabs;
    this.#firstSlab = firstSlab;
    this.#kinds = kinds;
    this.#idPrefix = idPrefix;
  }

  get length(): number {
    return this.#seqs.length;
  }

  get stream(): string {
    return this.streamAt(0);
  }

  /** An entry per event (`inBatch` as given), made anew at each call. */
  entries(inBatch = true): Entry[] {
    const entries = new Array<Entry>(this.length);
    for (let i = 0; i < entries.length; i++) {
      const entry = Entry.at(this, i);
      entry.inBatch = inBatch;
      entries[i] = entry;
    }
    return entries;
  }

  /** Every event of a run is in its batch from the start (its entries are made so). */
  enter(): number {
    return this.length;
  }

  forEach(visit: (seq: number, bytes: number, bulk: Waiter | undefined) => void): void {
    for (let i = 0; i < this.length; i++) visit(this.#seqs[i]!, this.sizeAt(i), undefined);
  }

  ids(): string[] {
    const ids = new Array<string>(this.length);
    for (let i = 0; i < ids.length; i++) ids[i] = this.idAt(i);
    return ids;
  }

  records(): QueuedRecord[] {
    const keys = this.#keys();
    const records = new Array<QueuedRecord>(this.length);
    for (let i = 0; i < records.length; i++) {
      records[i] = {
        id: this.idAt(i),
        key: keys[i]!,
        group: this.groupAt(i),
        stream: this.streamAt(i),
        data: this.dataAt(i),
        queuedAt: this.#queuedAt[i]!,
      };
    }
    return records;
  }

  data(): Uint8Array[] {
    const data = new Array<Uint8Array>(this.length);
    for (let i = 0; i < data.length; i++) data[i] = this.dataAt(i);
    return data;
  }

  joinJson(
    prefix: Uint8Array,
    suffix: Uint8Array,
    allocate?: (length: number) => Uint8Array,
  ): Uint8Array {
    const ints = this.#ints;
    return joinJsonArrayOf(
      prefix,
      this.length,
      (i) => ints[i * STRIDE + SIZE]!,
      (i, body, offset) => {
        const start = ints[i * STRIDE + START]!;
        body.set(this.#slab(i * STRIDE).subarray(start, start + ints[i * STRIDE + SIZE]!), offset);
      },
      suffix,
      allocate,
    );
  }

  sizeAt(index: number): number {
    return this.#ints[index * STRIDE + SIZE]!;
  }

  seqAt(index: number): number {
    return this.#seqs[index]!;
  }

  queuedAtAt(index: number): number {
    return this.#queuedAt[index]!;
  }

  groupAt(index: number): string {
    return this.#kinds[this.#ints[index * STRIDE + KIND]!]!.group;
  }

  streamAt(index: number): string {
    return this.#kinds[this.#ints[index * STRIDE + KIND]!]!.stream;
  }

  /** The record id: the queue's prefix and the seq in base 36. */
  idAt(index: number): string {
    return this.#idPrefix + this.#seqs[index]!.toString(36);
  }

  /** A view of the event's bytes. */
  dataAt(index: number): Uint8Array {
    const at = index * STRIDE;
    const start = this.#ints[at + START]!;
    return this.#slab(at).subarray(start, start + this.#ints[at + SIZE]!);
  }

  /** The key, decoded from the bytes right after the event's. */
  keyAt(index: number): string {
    const at = index * STRIDE;
    const start = this.#ints[at + START]! + this.#ints[at + SIZE]!;
    return decoder.decode(this.#slab(at).subarray(start, start + this.#ints[at + KEY_LENGTH]!));
  }

  /**
   * Every event's key. Decoding each on its own would cost more than the
   * rest of making records: they are copied together and decoded in one
   * native call, and one by one only when they are not all ASCII (all-ASCII
   * text is as long as its UTF-8, which this queue wrote, so it is valid).
   */
  #keys(): string[] {
    const ints = this.#ints;
    const n = this.length;
    let total = 0;
    for (let i = 0; i < n; i++) total += ints[i * STRIDE + KEY_LENGTH]!;
    const joined = new Uint8Array(total);
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const at = i * STRIDE;
      const slab = this.#slab(at);
      const start = ints[at + START]! + ints[at + SIZE]!;
      const end = start + ints[at + KEY_LENGTH]!;
      // Keys are short: a loop costs less than a subarray and set() each.
      for (let j = start; j < end; j++) joined[offset++] = slab[j]!;
    }
    const text = decoder.decode(joined);
    const keys = new Array<string>(n);
    offset = 0;
    for (let i = 0; i < n; i++) {
      const length = ints[i * STRIDE + KEY_LENGTH]!;
      keys[i] = text.length === total ? text.slice(offset, offset += length) : this.keyAt(i);
    }
    return keys;
  }

  #slab(at: number): Uint8Array {
    return this.#slabs[this.#ints[at + SLAB]! - this.#firstSlab]!;
  }
}

/**
 * New events waiting for a batch, packed: each one's bytes (and key) in the
 * {@linkcode SlabWriter}'s slabs, its metadata in typed-array columns, its
 * group and stream as an index into a table of the pairs seen. A waiting event
 * is no JavaScript object at all, not even an array slot: a burst of 100 000
 * events leaves nothing for each scavenge to copy, and V8's young generation
 * does not grow to hold them. The queue entry (with its id and key strings) is
 * made when the event joins a batch.
 */
export class PackedQueue {
  readonly #idPrefix: string;
  #ints = new Int32Array(1024 * STRIDE);
  #queuedAt = new Float64Array(1024);
  #seqs = new Float64Array(1024);
  #head = 0;
  #end = 0;
  #bytes = 0;
  /** Slabs of the events held; an event's SLAB is its slab's number, `#slabs[number - #firstSlab]`. */
  #slabs: Uint8Array[] = [];
  #firstSlab = 0;
  /** Distinct (group, stream) pairs; KIND indexes them. */
  readonly #kinds: Kind[] = [];
  readonly #kindIndex = new Map<string, Map<string, number>>();
  #lastKind = -1;
  readonly #writer: SlabWriter;
  readonly #onSized: (bytes: number) => void;
  /** Text and key of each event queued unsized (the last ones), alternating. */
  #unsized: string[] = [];
  #unsizedFrom = 0;
  #unsizedUnits = 0;
  #unsizedTextUnits = 0;
  #sizedToCome = 0;

  /**
   * `idPrefix`: entries' record ids are `idPrefix` + their seq in base 36;
   * `writer`: where events queued unsized are written; `onSized`: gets the
   * bytes of each group of them once written.
   */
  constructor(
    idPrefix: string,
    writer: SlabWriter = new SlabWriter(),
    onSized: (bytes: number) => void = () => {},
  ) {
    this.#idPrefix = idPrefix;
    this.#writer = writer;
    this.#onSized = onSized;
  }

  get length(): number {
    return this.#end - this.#head;
  }

  /** Encoded bytes queued (without framing). */
  get bytes(): number {
    this.measure();
    return this.#bytes;
  }

  /** Encoded bytes of the events not queued unsized. */
  get sizedBytes(): number {
    return this.#bytes;
  }

  /** UTF-16 units of the text of the events queued unsized: their bytes are 1 to 3 times as many. */
  get unsizedTextUnits(): number {
    return this.#unsizedTextUnits;
  }

  /**
   * Whether queuing unsized pays: not for a while after a group that was not
   * all ASCII, as where most events are not, each would be written twice.
   */
  get unsizedPays(): boolean {
    return this.#sizedToCome === 0;
  }

  /**
   * Queues the event the writer staged (and commits it). Anything queued
   * unsized must be measured first: the writer would write it over the staged event.
   */
  push(writer: SlabWriter, group: string, stream: string, queuedAt: number, seq: number): void {
    writer.commit();
    if (this.#sizedToCome > 0) this.#sizedToCome--;
    const at = this.#append(group, stream, queuedAt, seq);
    this.#place(at, writer, writer.start, writer.size, writer.keyLength);
    this.#bytes += writer.size;
  }

  /**
   * Queues an event whose bytes are written, and size known, with the
   * following ones' at the next {@linkcode PackedQueue.measure} (which anything
   * needing its size or bytes calls): one native call writes a group of
   * events instead of two calls each. The caller knows it fits every bound
   * at its largest (3 bytes a unit).
   */
  pushText(
    text: string,
    key: string,
    group: string,
    stream: string,
    queuedAt: number,
    seq: number,
  ): void {
    if (this.#unsizedUnits + text.length + key.length > UNSIZED_UNITS) this.measure();
    if (this.#unsized.length === 0) this.#unsizedFrom = this.#end;
    this.#append(group, stream, queuedAt, seq);
    this.#unsized.push(text, key);
    this.#unsizedUnits += text.length + key.length;
    this.#unsizedTextUnits += text.length;
  }

  /** Writes the events queued unsized and counts their bytes. */
  measure(): void {
    const parts = this.#unsized;
    if (parts.length === 0) return;
    const units = this.#unsizedUnits;
    let at = this.#unsizedFrom * STRIDE;
    this.#unsized = [];
    this.#unsizedUnits = this.#unsizedTextUnits = 0;
    const writer = this.#writer;
    let bytes = 0;
    // One byte a unit means every character is ASCII (as JSON text and strict keys usually are),
    // so each event's size is its length; otherwise each is written again on its own, over that.
    if (writer.stage(parts.join("")) === units) {
      writer.commit();
      let start = writer.start;
      for (let i = 0; i < parts.length; i += 2, at += STRIDE) {
        const size = parts[i]!.length;
        const keyLength = parts[i + 1]!.length;
        this.#place(at, writer, start, size, keyLength);
        start += size + keyLength;
        bytes += size;
      }
    } else {
      this.#sizedToCome = SIZED_AFTER_MISS;
      for (let i = 0; i < parts.length; i += 2, at += STRIDE) {
        writer.stage(parts[i]!, parts[i + 1]!);
        writer.commit();
        this.#place(at, writer, writer.start, writer.size, writer.keyLength);
        bytes += writer.size;
      }
    }
    this.#bytes += bytes;
    this.#onSized(bytes);
  }

  /** Adds an event's row but for where its bytes are; returns where the row starts. */
  #append(group: string, stream: string, queuedAt: number, seq: number): number {
    if (this.#end === this.#seqs.length) this.#grow();
    const at = this.#end * STRIDE;
    this.#ints[at + KIND] = this.#kindOf(group, stream);
    this.#queuedAt[this.#end] = queuedAt;
    this.#seqs[this.#end] = seq;
    this.#end++;
    return at;
  }

  /** Records where the row's event is: in the writer's slab from `start`. */
  #place(at: number, writer: SlabWriter, start: number, size: number, keyLength: number): void {
    const slabs = this.#slabs;
    if (slabs.length === 0 || slabs[slabs.length - 1] !== writer.slab) slabs.push(writer.slab);
    const ints = this.#ints;
    ints[at + SLAB] = this.#firstSlab + slabs.length - 1;
    ints[at + START] = start;
    ints[at + SIZE] = size;
    ints[at + KEY_LENGTH] = keyLength;
  }

  sizeAt(index: number): number {
    this.measure();
    return this.#ints[(this.#head + index) * STRIDE + SIZE]!;
  }

  groupAt(index: number): string {
    return this.#kinds[this.#ints[(this.#head + index) * STRIDE + KIND]!]!.group;
  }

  streamAt(index: number): string {
    return this.#kinds[this.#ints[(this.#head + index) * STRIDE + KIND]!]!.stream;
  }

  seqAt(index: number): number {
    return this.#seqs[this.#head + index]!;
  }

  /** Removes the first `count` events (at least one) and returns them as a run. */
  takeRun(count: number): PackedRun {
    this.measure();
    const run = this.#run(count);
    for (let i = 0; i < count; i++) this.#bytes -= run.sizeAt(i);
    this.#head += count;
    this.#compact();
    return run;
  }

  /** Every queued event as an entry, left in place. */
  snapshot(): Entry[] {
    this.measure();
    return this.length === 0 ? [] : this.#run(this.length).entries(false);
  }

  /** A run over a copy of the columns of the first `count` events. */
  #run(count: number): PackedRun {
    const first = this.#head;
    const end = first + count;
    const ints = this.#ints.slice(first * STRIDE, end * STRIDE);
    const firstSlab = ints[SLAB]!;
    const lastSlab = ints[(count - 1) * STRIDE + SLAB]!;
    return new PackedRun(
      ints,
      this.#queuedAt.slice(first, end),
      this.#seqs.slice(first, end),
      this.#slabs.slice(firstSlab - this.#firstSlab, lastSlab - this.#firstSlab + 1),
      firstSlab,
      this.#kinds,
      this.#idPrefix,
    );
  }

  #kindOf(group: string, stream: string): number {
    const last = this.#kinds[this.#lastKind];
    if (last !== undefined && last.group === group && last.stream === stream) {
      return this.#lastKind;
    }
    let groups = this.#kindIndex.get(stream);
    if (groups === undefined) this.#kindIndex.set(stream, groups = new Map());
    let kind = groups.get(group);
    if (kind === undefined) {
      kind = this.#kinds.push({ group, stream }) - 1;
      groups.set(group, kind);
    }
    return this.#lastKind = kind;
  }

  #grow(): void {
    const capacity = this.#seqs.length * 2;
    const ints = new Int32Array(capacity * STRIDE);
    ints.set(this.#ints);
    this.#ints = ints;
    const queuedAt = new Float64Array(capacity);
    queuedAt.set(this.#queuedAt);
    this.#queuedAt = queuedAt;
    const seqs = new Float64Array(capacity);
    seqs.set(this.#seqs);
    this.#seqs = seqs;
  }

  /** Moves what is held to the front once the consumed prefix is most of the columns, and lets go of slabs only it used. */
  #compact(): void {
    const head = this.#head;
    if (head === this.#end) {
      this.#head = this.#end = 0;
      this.#firstSlab += this.#slabs.length;
      this.#slabs = [];
      return;
    }
    if (head < 4096 || head * 2 < this.#end) return;
    this.#ints.copyWithin(0, head * STRIDE, this.#end * STRIDE);
    this.#queuedAt.copyWithin(0, head, this.#end);
    this.#seqs.copyWithin(0, head, this.#end);
    this.#end -= head;
    this.#head = 0;
    const firstUsed = this.#ints[SLAB]!;
    this.#slabs = this.#slabs.slice(firstUsed - this.#firstSlab);
    this.#firstSlab = firstUsed;
  }
}
