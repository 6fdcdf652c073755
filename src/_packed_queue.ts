import { Entry } from "./_queue.ts";
import type { SlabWriter } from "./_slab_writer.ts";
import { joinJsonArrayOf } from "./_json_array.ts";

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
 * Events taken off the {@linkcode PackedQueue} together (a batch's): their
 * columns, the slabs their bytes are in, and how to read each field of the
 * `index`-th one (strings and views are made when asked for).
 */
export class PackedRun {
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

  /** An entry per event (`inBatch` as given). */
  entries(inBatch: boolean): Entry[] {
    const entries = new Array<Entry>(this.length);
    for (let i = 0; i < entries.length; i++) {
      const entry = Entry.packed(this, i);
      entry.inBatch = inBatch;
      entries[i] = entry;
    }
    return entries;
  }

  size(index: number): number {
    return this.#ints[index * STRIDE + SIZE]!;
  }

  seq(index: number): number {
    return this.#seqs[index]!;
  }

  queuedAt(index: number): number {
    return this.#queuedAt[index]!;
  }

  group(index: number): string {
    return this.#kinds[this.#ints[index * STRIDE + KIND]!]!.group;
  }

  stream(index: number): string {
    return this.#kinds[this.#ints[index * STRIDE + KIND]!]!.stream;
  }

  /** The record id: the pipeline's prefix and the seq in base 36. */
  id(index: number): string {
    return this.#idPrefix + this.#seqs[index]!.toString(36);
  }

  /**
   * `prefix`, the events' bytes separated by commas, and `suffix`, in one
   * buffer from `allocate` (a new one by default).
   */
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

  /** A view of the event's bytes. */
  data(index: number): Uint8Array {
    const at = index * STRIDE;
    const start = this.#ints[at + START]!;
    return this.#slab(at).subarray(start, start + this.#ints[at + SIZE]!);
  }

  /** The key, decoded from the bytes right after the event's. */
  key(index: number): string {
    const at = index * STRIDE;
    const start = this.#ints[at + START]! + this.#ints[at + SIZE]!;
    return decoder.decode(this.#slab(at).subarray(start, start + this.#ints[at + KEY_LENGTH]!));
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

  /** `idPrefix`: entries' record ids are `idPrefix` + their seq in base 36. */
  constructor(idPrefix: string) {
    this.#idPrefix = idPrefix;
  }

  get length(): number {
    return this.#end - this.#head;
  }

  /** Encoded bytes queued (without framing). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues the event the writer staged (and commits it). */
  push(writer: SlabWriter, group: string, stream: string, queuedAt: number, seq: number): void {
    writer.commit();
    if (this.#end === this.#seqs.length) this.#grow();
    const slabs = this.#slabs;
    if (slabs.length === 0 || slabs[slabs.length - 1] !== writer.slab) slabs.push(writer.slab);
    const at = this.#end * STRIDE;
    const ints = this.#ints;
    ints[at + SLAB] = this.#firstSlab + slabs.length - 1;
    ints[at + START] = writer.start;
    ints[at + SIZE] = writer.size;
    ints[at + KEY_LENGTH] = writer.keyLength;
    ints[at + KIND] = this.#kindOf(group, stream);
    this.#queuedAt[this.#end] = queuedAt;
    this.#seqs[this.#end] = seq;
    this.#end++;
    this.#bytes += writer.size;
  }

  sizeAt(index: number): number {
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
    const run = this.#run(count);
    for (let i = 0; i < count; i++) this.#bytes -= run.size(i);
    this.#head += count;
    this.#compact();
    return run;
  }

  /** Every queued event as an entry, left in place. */
  snapshot(): Entry[] {
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
