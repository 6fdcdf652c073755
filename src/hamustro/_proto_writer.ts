import { utf8ByteLength } from "../_utf8.ts";

const TWO_POW_32 = 0x1_0000_0000;
/** Strings at least this long go through `TextEncoder.encodeInto`, shorter ones through a loop. */
const ENCODE_INTO_MIN_LENGTH = 48;
const textEncoder = new TextEncoder();

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

/**
 * Writes UTF-8 like `TextEncoder` (lone surrogates become U+FFFD) and returns
 * the new position. The caller has ensured `3 * text.length` bytes of room.
 */
function writeUtf8(buf: Uint8Array, pos: number, text: string): number {
  if (text.length >= ENCODE_INTO_MIN_LENGTH) {
    return pos + textEncoder.encodeInto(text, buf.subarray(pos)).written;
  }
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      buf[pos++] = code;
    } else if (code < 0x800) {
      buf[pos++] = 0xc0 | (code >> 6);
      buf[pos++] = 0x80 | (code & 63);
    } else {
      if (code >= 0xd800 && code <= 0xdfff) {
        const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
        if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
          i++;
          buf[pos++] = 0xf0 | (code >> 18);
          buf[pos++] = 0x80 | ((code >> 12) & 63);
          buf[pos++] = 0x80 | ((code >> 6) & 63);
          buf[pos++] = 0x80 | (code & 63);
          continue;
        }
        code = 0xfffd;
      }
      buf[pos++] = 0xe0 | (code >> 12);
      buf[pos++] = 0x80 | ((code >> 6) & 63);
      buf[pos++] = 0x80 | (code & 63);
    }
  }
  return pos;
}

/**
 * A protobuf writer for small messages of known shape: it writes into one
 * reused scratch buffer and copies out the result, so encoding an event
 * allocates only its own bytes. Not re-entrant; one per module is enough.
 */
export class ProtoWriter {
  #buf = new Uint8Array(4096);
  #pos = 0;

  /** Starts a new message. */
  reset(): void {
    this.#pos = 0;
  }

  /** Current length of the message being written. */
  get length(): number {
    return this.#pos;
  }

  #ensure(extra: number): void {
    const need = this.#pos + extra;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(0, this.#pos));
    this.#buf = grown;
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
    if (max < 128) {
      // One length byte is enough: reserve it and fill it in afterwards.
      const start = ++this.#pos;
      this.#pos = writeUtf8(this.#buf, start, text);
      this.#buf[start - 1] = this.#pos - start;
      return;
    }
    this.#varint(utf8ByteLength(text));
    this.#pos = writeUtf8(this.#buf, this.#pos, text);
  }

  /** Writes a message field holding two string fields (tags 0x0a and 0x12). */
  pair(tag: number, first: string, second: string): void {
    const max = (first.length + second.length) * 3 + 2;
    if (max < 128) {
      this.#ensure(2 + max);
      this.#buf[this.#pos++] = tag;
      const start = ++this.#pos;
      this.string(0x0a, first);
      this.string(0x12, second);
      this.#buf[start - 1] = this.#pos - start;
      return;
    }
    const firstBytes = utf8ByteLength(first);
    const secondBytes = utf8ByteLength(second);
    this.#ensure(1 + 5);
    this.#buf[this.#pos++] = tag;
    this.#varint(
      2 + varintLength(firstBytes) + firstBytes + varintLength(secondBytes) + secondBytes,
    );
    this.string(0x0a, first);
    this.string(0x12, second);
  }

  /** Copies out the message written since {@linkcode reset}. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#pos);
  }

  /** The message written since {@linkcode reset}, as a view valid until the next write. */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }
}
