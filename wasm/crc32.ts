/**
 * Synchronous CRC-32 over hash-wasm's WebAssembly build, for the file log's
 * checksums. A module of its own so that only `./storage/file` instantiates
 * it at load time, not every importer of the core's hashes.
 *
 * @module
 */
import { createCRC32, type IHasher } from "hash-wasm";

const crc32Hasher: IHasher = await createCRC32();

/**
 * CRC-32 (IEEE, as zip and gzip use) of the concatenation of some byte
 * ranges, without concatenating them.
 *
 * @example Usage
 * ```ts
 * import { crc32Of } from "./crc32.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("123456789");
 * assert.equal(crc32Of(bytes.subarray(0, 4), bytes.subarray(4)), 0xcbf43926);
 * ```
 */
export function crc32Of(...parts: Uint8Array[]): number {
  crc32Hasher.init();
  for (const part of parts) crc32Hasher.update(part);
  const digest = crc32Hasher.digest("binary");
  return (digest[0]! << 24 | digest[1]! << 16 | digest[2]! << 8 | digest[3]!) >>> 0;
}
