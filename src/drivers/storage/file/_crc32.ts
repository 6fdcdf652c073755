import * as zlib from "node:zlib";
import { crc32Of } from "../../../../wasm/crc32.ts";

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as used by zip, gzip and png.
// Slicing-by-8: eight 256-entry tables let the loop consume 8 bytes per step,
// several times faster than one table lookup per byte (the log checksums every byte it writes).
const TABLES: Uint32Array = (() => {
  const tables = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]!;
    for (let t = 1; t < 8; t++) {
      c = tables[c & 0xff]! ^ (c >>> 8);
      tables[t * 256 + n] = c;
    }
  }
  return tables;
})();

/**
 * Continues a CRC-32 over `bytes[start, end)`. Start with `crc = 0`; the result
 * of one call is the `crc` of the next, so a checksum can span two buffers.
 */
export function crc32(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  for (const last = end - 8; i <= last; i += 8) {
    const a = c ^ (bytes[i]! | bytes[i + 1]! << 8 | bytes[i + 2]! << 16 | bytes[i + 3]! << 24);
    c = t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** A CRC-32 that continues `value` over `data`, as `node:zlib` exports it. */
export type Crc32 = (data: Uint8Array, value?: number) => number;

/**
 * `node:zlib`'s native CRC-32 (Deno, Node 22.2+; undefined in Node 20): much
 * faster than the WebAssembly one on large frames, and checksumming is on the
 * path of every batch's save (figures: bench/HISTORY.md).
 */
const nativeCrc32 = (zlib as { crc32?: Crc32 }).crc32;

/** Frames at least this long are checksummed natively (below it, the native call costs more than the JS loop). */
const NATIVE_MIN_BYTES = 256;
/** Without the native one: frames at least this long are checksummed in WebAssembly once it is loaded (1.6× faster per byte; a call costs more). */
const WASM_MIN_BYTES = 4096;

/**
 * The checksum of a log frame: CRC-32 of its 4 length bytes at `lengthAt`
 * followed by its payload `bytes[payloadStart, end)`. `native`: the native
 * CRC-32 to use for large frames, if any (a parameter so that tests can take
 * the fallback path).
 */
export function frameChecksum(
  bytes: Uint8Array,
  lengthAt: number,
  payloadStart: number,
  end: number,
  native: Crc32 | undefined = nativeCrc32,
): number {
  const size = end - payloadStart;
  if (native !== undefined && size >= NATIVE_MIN_BYTES) {
    return native(bytes.subarray(payloadStart, end), crc32(bytes, 0, lengthAt, lengthAt + 4)) >>> 0;
  }
  return (size >= WASM_MIN_BYTES
    ? crc32Of(bytes.subarray(lengthAt, lengthAt + 4), bytes.subarray(payloadStart, end))
    : undefined) ?? crc32(bytes, crc32(bytes, 0, lengthAt, lengthAt + 4), payloadStart, end);
}
