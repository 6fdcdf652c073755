/**
 * A protobuf wire reader for small known schemas. It reads exactly as
 * protobuf-es `BinaryReader` does (the generated schema is the reference):
 * varints of up to 10 bytes with the bits past their type dropped, tags
 * checked, unknown fields skipped by wire type (groups to a depth limit), and
 * every read past the end an error. Proto2 strings are not UTF-8 validated by
 * protobuf-es nor by the Go reference collector: bad bytes become U+FFFD.
 */

/** Wire types (protobuf encoding spec). */
const VARINT = 0;
const BIT64 = 1;
const LENGTH_DELIMITED = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const BIT32 = 5;

/** Strings up to this many bytes are built from char codes when ASCII; longer ones decoded. */
const ASCII_MAX_LENGTH = 64;
const TWO_POW_32 = 0x1_0000_0000;
/** `hi` words below this keep a uint64 within `Number.MAX_SAFE_INTEGER`. */
const SAFE_HI_LIMIT = 0x20_0000;

/**
 * One array of char codes per string length up to {@linkcode ASCII_MAX_LENGTH}, reused by every
 * read (strings are read one at a time, synchronously): a fresh array per string was most of what
 * decoding a payload allocated.
 */
const CHAR_CODES: readonly number[][] = Array.from(
  { length: ASCII_MAX_LENGTH + 1 },
  (_, length) => new Array<number>(length).fill(0),
);

/** Strings up to this many bytes are shared through {@linkcode SHARED}. */
const SHARED_MAX_LENGTH = 32;
const SHARED_SLOT_BITS = 10;
/** Recently read short ASCII strings, by a hash of their bytes (one per slot, the latest). */
const SHARED: string[] = new Array<string>(1 << SHARED_SLOT_BITS).fill("");

// A leading U+FEFF in a protobuf string is text, not a byte-order mark (as protobuf-es reads it).
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** A malformed protobuf body; the message names what was wrong and where. */
export class WireError extends Error {
  override name = "WireError";
}

/** Reads one message body; its fields are dispatched by the caller on `field`. */
export class ProtoReader {
  readonly buf: Uint8Array;
  readonly len: number;
  pos = 0;
  /** Field number of the last {@linkcode ProtoReader.tag}. */
  field = 0;
  /** Wire type of the last {@linkcode ProtoReader.tag}. */
  wireType = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.len = buf.length;
  }

  #eof(): never {
    throw new WireError(`premature end of input at byte ${this.len}`);
  }

  /** A uint32 varint: up to 10 bytes, bits past 32 dropped. */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos + 5 <= this.len) {
      // Fast path: the usual short varint, all bytes in range.
      let b = buf[pos++]!;
      if (b < 0x80) {
        this.pos = pos;
        return b;
      }
      let result = b & 0x7f;
      b = buf[pos++]!;
      result |= (b & 0x7f) << 7;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
    }
    return this.#uint32Slow();
  }

  #uint32Slow(): number {
    const buf = this.buf;
    const len = this.len;
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.pos >= len) this.#eof();
      const b = buf[this.pos++]!;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
    if (this.pos >= len) this.#eof();
    let b = buf[this.pos++]!;
    result |= (b & 0x0f) << 28;
    for (let read = 5; b >= 0x80 && read < 10; read++) {
      if (this.pos >= len) this.#eof();
      b = buf[this.pos++]!;
    }
    if (b >= 0x80) throw new WireError(`invalid varint ending at byte ${this.pos}`);
    return result >>> 0;
  }

  /**
   * A uint64 varint: up to 10 bytes, bits past 64 dropped; a number when at
   * most `Number.MAX_SAFE_INTEGER`, else a bigint.
   */
  uint64(): number | bigint {
    const buf = this.buf;
    const len = this.len;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.pos >= len) this.#eof();
      b = buf[this.pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo;
    }
    if (this.pos >= len) this.#eof();
    b = buf[this.pos++]!;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x70) >> 4;
    if (b >= 0x80) {
      let done = false;
      for (let shift = 3; shift <= 31; shift += 7) {
        if (this.pos >= len) this.#eof();
        b = buf[this.pos++]!;
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) {
          done = true;
          break;
        }
      }
      if (!done) throw new WireError(`invalid varint ending at byte ${this.pos}`);
    }
    const low = lo >>> 0;
    const high = hi >>> 0;
    return high < SAFE_HI_LIMIT ? high * TWO_POW_32 + low : (BigInt(high) << 32n) | BigInt(low);
  }

  /** Reads a tag into `field` and `wireType`; field 0, wire types 6–7 and over-long tags are errors. */
  tag(): void {
    const start = this.pos;
    const tag = this.uint32();
    const bytes = this.pos - start;
    if (bytes > 5 || (bytes === 5 && this.buf[this.pos - 1]! > 0x0f)) {
      throw new WireError(`illegal tag at byte ${start}: varint overflows uint32`);
    }
    this.field = tag >>> 3;
    this.wireType = tag & 7;
    if (this.field === 0 || this.wireType > 5) {
      throw new WireError(
        `illegal tag at byte ${start}: field ${this.field}, wire type ${this.wireType}`,
      );
    }
  }

  /** Length of a length-delimited field and the end it claims (not checked: as protobuf-es). */
  end(): number {
    const length = this.uint32();
    return this.pos + length;
  }

  /**
   * A length-delimited string. Short ASCII ones repeat (event and parameter names, time zones,
   * user ids): one recently read with the same bytes is returned again rather than built anew,
   * which saves its allocation and the garbage collector's copying of it.
   */
  string(): string {
    const length = this.uint32();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) this.#eof();
    this.pos = end;
    if (length === 0) return "";
    const buf = this.buf;
    if (length > ASCII_MAX_LENGTH) return utf8.decode(buf.subarray(start, end));
    let slot = 0;
    if (length <= SHARED_MAX_LENGTH) {
      // A cheap spread of the length and three bytes: a poor one only costs misses.
      slot = Math.imul(
        length ^ (buf[start]! << 8) ^ (buf[end - 1]! << 16) ^ (buf[start + (length >>> 1)]! << 24),
        0x9e3779b1,
      ) >>> (32 - SHARED_SLOT_BITS);
      const shared = SHARED[slot]!;
      // A shared string is ASCII: equal to the bytes, it is their decoding.
      if (shared.length === length) {
        let i = 0;
        while (i < length && shared.charCodeAt(i) === buf[start + i]) i++;
        if (i === length) return shared;
      }
    }
    const codes = CHAR_CODES[length]!;
    for (let i = 0; i < length; i++) {
      const byte = buf[start + i]!;
      if (byte > 0x7f) return utf8.decode(buf.subarray(start, end));
      codes[i] = byte;
    }
    const text = String.fromCharCode.apply(String, codes);
    if (length <= SHARED_MAX_LENGTH) SHARED[slot] = text;
    return text;
  }

  /**
   * Skips a field of an unknown number by its wire type; groups nest up to
   * `depthLimit` levels and must end with their own field number.
   */
  skip(wireType: number, field: number, depthLimit: number): void {
    const buf = this.buf;
    switch (wireType) {
      case VARINT:
        // Any length, as protobuf-es skips it.
        for (;;) {
          if (this.pos >= this.len) this.#eof();
          if (buf[this.pos++]! < 0x80) return;
        }
      case BIT64:
        this.pos += 8;
        break;
      case BIT32:
        this.pos += 4;
        break;
      case LENGTH_DELIMITED:
        this.pos = this.end();
        break;
      case START_GROUP:
        if (depthLimit <= 0) {
          throw new WireError(`groups nested too deeply at byte ${this.pos}`);
        }
        for (;;) {
          this.tag();
          if (this.wireType === END_GROUP) {
            if (this.field !== field) {
              throw new WireError(`invalid end group tag at byte ${this.pos}`);
            }
            break;
          }
          this.skip(this.wireType, this.field, depthLimit - 1);
        }
        break;
      default:
        throw new WireError(`cannot skip wire type ${wireType} at byte ${this.pos}`);
    }
    if (this.pos > this.len) this.#eof();
  }
}
