const encoder = new TextEncoder();
const NON_ASCII = /[\u0080-\uffff]/;
/** Strings up to this many UTF-16 units are measured by encoding them into a scratch buffer. */
const SCRATCH_UNITS = 16 * 1024;
const scratch = new Uint8Array(3 * SCRATCH_UNITS);

/**
 * UTF-8 byte length of a string without allocating. Lone surrogates count 3
 * bytes, as TextEncoder writes them as U+FFFD.
 */
export function utf8ByteLength(text: string): number {
  // Encoding into a reused buffer is native, and faster than scanning for
  // non-ASCII in JavaScript (bench/core_bench.ts).
  if (text.length <= SCRATCH_UNITS) return encoder.encodeInto(text, scratch).written;
  // Longer strings: V8's regex scan finds the first non-ASCII character about
  // twice as fast as a charCodeAt loop; count from there.
  const start = text.search(NON_ASCII);
  if (start === -1) return text.length;
  let bytes = text.length;
  for (let i = start; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
    } else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        // A surrogate pair is 2 UTF-16 units and 4 UTF-8 bytes.
        bytes += 2;
        i++;
      } else {
        bytes += 2;
      }
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/** Strings at least this long go through `TextEncoder.encodeInto`, shorter ones through a loop. */
const ENCODE_INTO_MIN_LENGTH = 48;

/**
 * Writes `text` as UTF-8 into `buffer` at `start`, exactly as `TextEncoder`
 * does (lone surrogates become U+FFFD), and returns the bytes written; the
 * caller has made room for `3 * text.length` bytes. The short strings of our
 * hot paths (ids, keys, parameter names and values) are written in a loop,
 * which beats an `encodeInto` call and the subarray it needs.
 */
export function writeUtf8Into(buffer: Uint8Array, start: number, text: string): number {
  if (text.length >= ENCODE_INTO_MIN_LENGTH) {
    return encoder.encodeInto(text, buffer.subarray(start)).written;
  }
  let pos = start;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      buffer[pos++] = code;
    } else if (code < 0x800) {
      buffer[pos++] = 0xc0 | (code >> 6);
      buffer[pos++] = 0x80 | (code & 63);
    } else {
      if (code >= 0xd800 && code <= 0xdfff) {
        const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
        if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
          i++;
          buffer[pos++] = 0xf0 | (code >> 18);
          buffer[pos++] = 0x80 | ((code >> 12) & 63);
          buffer[pos++] = 0x80 | ((code >> 6) & 63);
          buffer[pos++] = 0x80 | (code & 63);
          continue;
        }
        code = 0xfffd;
      }
      buffer[pos++] = 0xe0 | (code >> 12);
      buffer[pos++] = 0x80 | ((code >> 6) & 63);
      buffer[pos++] = 0x80 | (code & 63);
    }
  }
  return pos - start;
}
