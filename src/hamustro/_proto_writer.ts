import { writeUtf8Into } from "../_util/utf8.ts";

const TWO_POW_32 = 0x1_0000_0000;

/** Bytes a varint of a non-negative integer (at most 2^64 - 1) takes. */
export function varintLength(value: number | bigint): number {
  if (typeof value === "bigint") {
    let bytes = 1;
    while (value > 127n) {
      value >>= 7n;
      bytes++;
    }
    return bytes;
  }
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  let bytes = 4;
  let rest = Math.floor(value / 0x1000_0000);
  while (rest > 0) {
    rest = Math.floor(rest / 128);
    bytes++;
  }
  return bytes;
}

const SLAB_BYTES = 256 * 1024;

/**
 * A protobuf writer for small messages of known shape, straight into shared
 * 256 KB slabs: a message's bytes are written once, where they stay, and
 * {@linkcode ProtoWriter.view} hands out a view of them (valid as long as it
 * is referenced; later messages are written after it). Not re-entrant; one
 * per module is enough.
 */
export class ProtoWriter {
  #buf = new Uint8Array(SLAB_BYTES);
  #start = 0;
  #pos = 0;

  /** Starts a new message (after the ones already handed out). */
  reset(): void {
    this.#start = this.#pos;
  }

  /** Current length of the message being written. */
  get length(): number {
    return this.#pos - this.#start;
  }

  /** Makes room for `extra` more bytes; the message begun so far may move to a new slab. */
  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    const begun = this.#pos - this.#start;
    const grown = new Uint8Array(Math.max(SLAB_BYTES, 2 * (begun + extra)));
    grown.set(this.#buf.subarray(this.#start, this.#pos));
    this.#buf = grown;
    this.#start = 0;
    this.#pos = begun;
  }

  #varint(value: number): void {
    const buf = this.#buf;
    let pos = this.#pos;
    if (value < TWO_POW_32) {
      while (value > 127) {
        buf[pos++] = (value & 127) | 128;
        value >>>= 7;
      }
    } else {
      while (value > 127) {
        buf[pos++] = (value % 128) | 128;
        value = Math.floor(value / 128);
      }
    }
    buf[pos++] = value;
    this.#pos = pos;
  }

  /** Writes a varint field (wire type 0); `value` is an integer in 0…2^64 - 1. */
  uint(tag: number, value: number | bigint): void {
    this.#ensure(11);
    this.#buf[this.#pos++] = tag;
    if (typeof value === "number") {
      this.#varint(value);
      return;
    }
    const buf = this.#buf;
    let pos = this.#pos;
    while (value > 127n) {
      buf[pos++] = Number(value & 127n) | 128;
      value >>= 7n;
    }
    buf[pos++] = Number(value);
    this.#pos = pos;
  }

  /** Writes a length-delimited string field (wire type 2). */
  string(tag: number, text: string): void {
    const max = text.length * 3;
    this.#ensure(6 + max);
    this.#buf[this.#pos++] = tag;
    const start = this.#reserveLength(max);
    this.#pos += writeUtf8Into(this.#buf, this.#pos, text);
    this.#fillLength(start, max);
  }

  /** Writes a message field holding two string fields (tags 0x0a and 0x12). */
  pair(tag: number, first: string, second: string): void {
    // Inner fields: two tags, two lengths (at most 5 bytes each), the UTF-8.
    const max = (first.length + second.length) * 3 + 12;
    // Room for everything now, so the inner writes never move the message.
    this.#ensure(6 + max);
    this.#buf[this.#pos++] = tag;
    const start = this.#reserveLength(max);
    this.string(0x0a, first);
    this.string(0x12, second);
    this.#fillLength(start, max);
  }

  /**
   * Leaves room for the length varint of a field of at most `max` bytes and
   * returns where the field's bytes start (the caller writes them there).
   */
  #reserveLength(max: number): number {
    this.#pos += varintLength(max);
    return this.#pos;
  }

  /**
   * Writes the length of the field written since `start` in front of it. The
   * room reserved fits `max`; when the varint is shorter (the UTF-8 was not
   * all 3-byte), the bytes move back so the encoding stays minimal, as
   * protobuf-es writes it.
   */
  #fillLength(start: number, max: number): void {
    const length = this.#pos - start;
    const reserved = varintLength(max);
    const needed = varintLength(length);
    const buf = this.#buf;
    if (needed < reserved) {
      buf.copyWithin(start - reserved + needed, start, this.#pos);
      this.#pos -= reserved - needed;
    }
    let at = start - reserved;
    let value = length;
    while (value > 127) {
      buf[at++] = (value & 127) | 128;
      value >>>= 7;
    }
    buf[at] = value;
  }

  /** Copies out the message written since {@linkcode reset} (its slab space is reused). */
  finish(): Uint8Array {
    const bytes = this.#buf.slice(this.#start, this.#pos);
    this.#pos = this.#start;
    return bytes;
  }

  /** The message written since {@linkcode reset}, as a view that stays valid. */
  view(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#pos);
  }
}
