// The memory dedupe store's keys, off the JavaScript heap: each batch (one claim or commit) owns
// its keys' UTF-16 code units in one typed array, and one open-addressing hash table in an
// Int32Array finds them. A key costs its code units (one byte each while every unit of its batch
// is below 256), 8 bytes of index and 12 bytes per table slot: no JS object, no string kept.

/** Where keys are compared: keys of two scopes never match (a tenant's event or request keys). */
export interface KeyScope {
  /** Seed of its keys' hashes. */
  readonly seed: number;
  /** Keys of this scope in the table. */
  live: number;
}

/** Keys written together, freed together: the unit the table allocates. */
export interface KeyBatch {
  /** Number in the table while it holds keys, else -1. */
  id: number;
  scope: KeyScope;
  /** Code units of its keys, end to end (one byte each until a unit ≥ 256 comes). */
  chars: Uint8Array | Uint16Array;
  /** Per key: where its code units end in `chars`, then its table slot (-1 once forgotten). */
  index: Int32Array;
  /** Keys written. */
  count: number;
  /** Code units written. */
  used: number;
  /** Keys written still in the table (a later batch may have taken some over). */
  live: number;
}

const EMPTY_CHARS = new Uint8Array(0);
const EMPTY_INDEX = new Int32Array(0);
// Slots: [hash, batch id + 1 (0: empty), key number in the batch].
const STRIDE = 3;
const MIN_CAPACITY = 8;
const SCRATCH_KEPT = 65_536;

/** Buffers of a batch for `keys` keys of `chars` code units in all. */
export function keyBuffers(chars: number, keys: number): Pick<KeyBatch, "chars" | "index"> {
  return { chars: new Uint8Array(chars), index: new Int32Array(2 * keys) };
}

/**
 * HalfSipHash-1-3 (32-bit output) under the key `k0`, `k1` of the word
 * `first` followed by `units[start..end)`, two code units per word. A keyed
 * hash, unlike MurmurHash, has no collisions an attacker can find without the
 * key, so clients cannot send keys that all land in one probe chain.
 */
function hashUnits(
  units: Uint8Array | Uint16Array,
  start: number,
  end: number,
  first: number,
  k0: number,
  k1: number,
): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  let m = first | 0;
  let i = start;
  let finalRounds = 0;
  // One SipRound per word, then three more once the message is in (the finalisation, `m` 0):
  // written out once, as this is the store's hot path.
  for (;;) {
    v3 ^= m;
    v0 = (v0 + v1) | 0;
    v1 = (v1 << 5) | (v1 >>> 27);
    v1 ^= v0;
    v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0;
    v3 = (v3 << 8) | (v3 >>> 24);
    v3 ^= v2;
    v0 = (v0 + v3) | 0;
    v3 = (v3 << 7) | (v3 >>> 25);
    v3 ^= v0;
    v2 = (v2 + v1) | 0;
    v1 = (v1 << 13) | (v1 >>> 19);
    v1 ^= v2;
    v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
    if (i + 1 < end) {
      m = units[i]! | (units[i + 1]! << 16);
      i += 2;
    } else if (i <= end) {
      // The last word: the length (in code units, with `first`) in the top byte, and an odd unit.
      m = ((end - start + 2) << 24) | (i < end ? units[i]! : 0);
      i = end + 1;
    } else if (finalRounds === 0) {
      v2 ^= 0xff;
      m = 0;
      finalRounds = 3;
    } else if (--finalRounds === 0) {
      break;
    }
  }
  return v1 ^ v3;
}

/** Whether `a[aStart..aStart+n)` and `b[bStart..bStart+n)` hold the same code units. */
function equalUnits(
  a: Uint8Array | Uint16Array,
  aStart: number,
  b: Uint8Array | Uint16Array,
  bStart: number,
  n: number,
): boolean {
  for (let i = 0; i < n; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/** Copies `key`'s code units into `batch.chars` from `start`, widening it to 16 bits if needed. */
function writeUnits(batch: KeyBatch, key: string, start: number): void {
  const n = key.length;
  let chars = batch.chars;
  if (chars.length < start + n) {
    const length = Math.max(start + n, 2 * chars.length);
    const grown = chars.BYTES_PER_ELEMENT === 1 ? new Uint8Array(length) : new Uint16Array(length);
    grown.set(chars.subarray(0, start));
    chars = batch.chars = grown;
  }
  let i = 0;
  if (chars.BYTES_PER_ELEMENT === 1) {
    for (; i < n; i++) {
      const unit = key.charCodeAt(i);
      if (unit > 0xff) break;
      chars[start + i] = unit;
    }
    if (i === n) return;
    const wide = new Uint16Array(chars.length);
    wide.set(chars.subarray(0, start + i));
    chars = batch.chars = wide;
  }
  for (; i < n; i++) chars[start + i] = key.charCodeAt(i);
}

/** Where key `i` of `batch` starts in its `chars`. */
function startOf(batch: KeyBatch, i: number): number {
  return i === 0 ? 0 : batch.index[2 * i - 2]!;
}

/**
 * Every key of a store, by scope: an open-addressing hash table (linear
 * probing, backward-shift deletion, doubling past 5/8 full, shrinking below
 * 1/16) whose slots point at a key of a batch. Keys are compared by their
 * code units, so two keys differing in any UTF-16 code unit (lone surrogates
 * included) stay apart, whatever their hashes.
 *
 * Writing a key is two steps: {@linkcode KeyTable.stage} copies it after the
 * batch's keys and finds its equal, then {@linkcode KeyTable.append} or
 * {@linkcode KeyTable.replace} keeps it (or the next stage overwrites it).
 */
export class KeyTable<B extends KeyBatch> {
  // The hash key, random per table.
  readonly #k0: number;
  readonly #k1: number;
  readonly #minCapacity: number;
  #slots: Int32Array;
  #mask: number;
  #size = 0;
  // Batches by id; ids of batches that lost their last key are reused.
  readonly #batches: (B | undefined)[] = [];
  readonly #freeIds: number[] = [];
  // The key last staged: its hash, end in its batch's chars, and the empty slot its probe ended on.
  #hash = 0;
  #end = 0;
  #vacant = -1;
  readonly #scratch: KeyBatch = {
    id: -1,
    scope: { seed: 0, live: 0 },
    chars: new Uint16Array(64),
    index: EMPTY_INDEX,
    count: 0,
    used: 0,
    live: 0,
  };

  /** A table of `capacity` slots (a power of two, at least 8) keying every hash with `k0`, `k1`. */
  constructor(
    capacity = 1024,
    k0 = crypto.getRandomValues(new Int32Array(1))[0]!,
    k1 = crypto.getRandomValues(new Int32Array(1))[0]!,
  ) {
    if (capacity < MIN_CAPACITY || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(
        `Cannot create key table as 'capacity' must be a power of two ≥ ${MIN_CAPACITY}: current value is ${capacity}`,
      );
    }
    this.#k0 = k0;
    this.#k1 = k1;
    this.#minCapacity = capacity;
    this.#slots = new Int32Array(STRIDE * capacity);
    this.#mask = capacity - 1;
  }

  /** Keys in the table. */
  get size(): number {
    return this.#size;
  }

  /** Slots of the table. */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** Hash seed of a scope named `name` of kind `kind` (a tenant's events or requests). */
  seedOf(name: string, kind: number): number {
    const scratch = this.#scratch;
    writeUnits(scratch, name, 0);
    const seed = hashUnits(scratch.chars, 0, name.length, kind, this.#k0, this.#k1);
    this.#trimScratch();
    return seed;
  }

  // One huge key or tenant must not pin its copy for the table's life.
  #trimScratch(): void {
    if (this.#scratch.chars.length > SCRATCH_KEPT) this.#scratch.chars = new Uint16Array(64);
  }

  /** Hash of `key` in `scope` (what decides its slot). */
  hashOf(scope: KeyScope, key: string): number {
    this.lookup(scope, key);
    return this.#hash;
  }

  /** Gives `batch` a number: its keys can now be written. */
  open(batch: B): void {
    const id = this.#freeIds.pop() ?? this.#batches.length;
    this.#batches[id] = batch;
    batch.id = id;
  }

  /**
   * Ends `batch`'s writing: frees it if it kept no key (and answers `false`),
   * else trims its buffers to its keys.
   */
  seal(batch: B): boolean {
    if (batch.live === 0) {
      this.#close(batch);
      return false;
    }
    if (batch.used * 4 < batch.chars.length * 3) batch.chars = batch.chars.slice(0, batch.used);
    if (batch.count * 8 < batch.index.length * 3) {
      batch.index = batch.index.slice(0, 2 * batch.count);
    }
    return true;
  }

  /** The batch whose key is in `slot`. */
  batchAt(slot: number): B {
    return this.#batches[this.#slots[STRIDE * slot + 1]! - 1]!;
  }

  /** Slot of `key` of `scope`, or -1. */
  lookup(scope: KeyScope, key: string): number {
    const scratch = this.#scratch;
    scratch.scope = scope;
    const slot = this.stage(scratch, key);
    this.#trimScratch();
    return slot;
  }

  /** Whether `keys` are exactly the keys `batch` wrote, in order. */
  holds(batch: B, keys: readonly string[]): boolean {
    if (keys.length !== batch.count) return false;
    const { chars, index } = batch;
    let start = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const end = index[2 * i]!;
      if (key.length !== end - start) return false;
      for (let j = 0; j < key.length; j++) {
        if (key.charCodeAt(j) !== chars[start + j]) return false;
      }
      start = end;
    }
    return true;
  }

  /**
   * Copies `key` after `batch`'s keys (not yet one of them) and answers the
   * slot of the equal key of `batch.scope`, or -1.
   */
  stage(batch: KeyBatch, key: string): number {
    const start = batch.used;
    const n = key.length;
    writeUnits(batch, key, start);
    const { chars, scope } = batch;
    const h = hashUnits(chars, start, start + n, scope.seed, this.#k0, this.#k1);
    this.#hash = h;
    this.#end = start + n;
    const slots = this.#slots;
    const mask = this.#mask;
    const batches = this.#batches;
    for (let s = h & mask;; s = (s + 1) & mask) {
      const at = STRIDE * s;
      const ref = slots[at + 1]!;
      if (ref === 0) {
        this.#vacant = s;
        return -1;
      }
      if (slots[at] !== h) continue;
      const other = batches[ref - 1]!;
      if (other.scope !== scope) continue;
      const i = slots[at + 2]!;
      const otherStart = startOf(other, i);
      if (
        other.index[2 * i]! - otherStart === n &&
        equalUnits(other.chars, otherStart, chars, start, n)
      ) {
        return s;
      }
    }
  }

  /** Keeps the key just staged in `batch` (it had no equal) as its next key. */
  append(batch: B): void {
    const slot = this.#vacant;
    this.#keep(batch, slot);
    batch.scope.live++;
    if (++this.#size * 8 > this.capacity * 5) this.#rebuild(this.capacity * 2);
  }

  /** Keeps the key just staged in `batch` in place of its equal in `slot` (another batch's). */
  replace(slot: number, batch: B): void {
    const previous = this.batchAt(slot);
    previous.index[2 * this.#slots[STRIDE * slot + 2]! + 1] = -1;
    this.#keep(batch, slot);
    if (--previous.live === 0) this.#close(previous);
  }

  /** Forgets the key in `slot`. */
  remove(slot: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    const batch = this.batchAt(slot);
    batch.index[2 * slots[STRIDE * slot + 2]! + 1] = -1;
    batch.scope.live--;
    this.#size--;
    // Backward shift: each later key of the run that may sit earlier moves into the hole, so
    // every probe still ends on the first empty slot.
    let hole = slot;
    for (let s = (slot + 1) & mask;; s = (s + 1) & mask) {
      const at = STRIDE * s;
      const ref = slots[at + 1]!;
      if (ref === 0) break;
      if (((s - slots[at]!) & mask) < ((s - hole) & mask)) continue;
      const to = STRIDE * hole;
      slots[to] = slots[at]!;
      slots[to + 1] = ref;
      slots[to + 2] = slots[at + 2]!;
      this.#batches[ref - 1]!.index[2 * slots[at + 2]! + 1] = hole;
      hole = s;
    }
    slots[STRIDE * hole + 1] = 0;
    if (--batch.live === 0) this.#close(batch);
    if (this.#size * 16 < this.capacity && this.capacity > this.#minCapacity) {
      this.#rebuild(Math.max(this.#minCapacity, this.capacity / 4));
    }
  }

  #keep(batch: B, slot: number): void {
    const i = batch.count;
    if (2 * i === batch.index.length) {
      const grown = new Int32Array(Math.max(8, 4 * i));
      grown.set(batch.index);
      batch.index = grown;
    }
    batch.index[2 * i] = this.#end;
    batch.index[2 * i + 1] = slot;
    batch.used = this.#end;
    batch.count = i + 1;
    batch.live++;
    const at = STRIDE * slot;
    this.#slots[at] = this.#hash;
    this.#slots[at + 1] = batch.id + 1;
    this.#slots[at + 2] = i;
  }

  // A batch without keys: its number is free again and its buffers are the collector's.
  #close(batch: KeyBatch): void {
    this.#batches[batch.id] = undefined;
    this.#freeIds.push(batch.id);
    batch.id = -1;
    batch.chars = EMPTY_CHARS;
    batch.index = EMPTY_INDEX;
  }

  #rebuild(capacity: number): void {
    const old = this.#slots;
    const slots = new Int32Array(STRIDE * capacity);
    const mask = capacity - 1;
    for (let at = 0; at < old.length; at += STRIDE) {
      const ref = old[at + 1]!;
      if (ref === 0) continue;
      let s = old[at]! & mask;
      while (slots[STRIDE * s + 1] !== 0) s = (s + 1) & mask;
      slots[STRIDE * s] = old[at]!;
      slots[STRIDE * s + 1] = ref;
      slots[STRIDE * s + 2] = old[at + 2]!;
      this.#batches[ref - 1]!.index[2 * old[at + 2]! + 1] = s;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}
