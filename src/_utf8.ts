const NON_ASCII = /[\u0080-\uffff]/;

/**
 * UTF-8 byte length of a string without encoding it (no allocation).
 * Lone surrogates count 3 bytes, as TextEncoder writes them as U+FFFD.
 */
export function utf8ByteLength(text: string): number {
  // Most encoded events are ASCII: V8's regex scan finds the first non-ASCII
  // character about twice as fast as a charCodeAt loop; count from there.
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

const encoder = new TextEncoder();

/**
 * Writes `text` as UTF-8 into `buffer` at `start` (the caller has made room
 * for `3 * text.length` bytes) and returns the bytes written. Short strings
 * of our hot paths are mostly ASCII: copying the units in a loop beats an
 * `encodeInto` call and the subarray it needs; the rest goes to `encodeInto`.
 */
export function writeUtf8Into(buffer: Uint8Array, start: number, text: string): number {
  const length = text.length;
  let i = 0;
  for (; i < length; i++) {
    const unit = text.charCodeAt(i);
    if (unit > 0x7f) break;
    buffer[start + i] = unit;
  }
  return i === length
    ? length
    : i + encoder.encodeInto(text.slice(i), buffer.subarray(start + i)).written;
}
