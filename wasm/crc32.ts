/**
 * CRC-32 over hash-wasm's WebAssembly build, for the file log's checksums of
 * large frames where `node:zlib` has no native CRC-32 (Node 20). Created on
 * first use, in the background: until it is ready (and where hash-wasm is
 * missing or cannot compile) {@linkcode crc32Of} answers `undefined` and the
 * caller uses its JavaScript CRC-32.
 *
 * @module
 */
import { createWasmHasher, type WasmHasher } from "./_hash_wasm.ts";

let crc32Hasher: WasmHasher | undefined;
let loading: Promise<boolean> | undefined;

/**
 * Creates the WebAssembly CRC-32 hasher if it can; resolves whether
 * {@linkcode crc32Of} now computes checksums.
 *
 * @example Usage
 * ```ts
 * import { loadCrc32 } from "./crc32.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await loadCrc32(), true);
 * ```
 */
export function loadCrc32(): Promise<boolean> {
  return loading ??= createWasmHasher("createCRC32").then((hasher) => {
    crc32Hasher = hasher;
    return hasher !== undefined;
  });
}

/**
 * CRC-32 (IEEE, as zip and gzip use) of the concatenation of some byte
 * ranges, without concatenating them; `undefined` while the WebAssembly
 * hasher is not ready (the first call starts creating it).
 *
 * @example Usage
 * ```ts
 * import { crc32Of, loadCrc32 } from "./crc32.ts";
 * import assert from "node:assert/strict";
 *
 * await loadCrc32();
 * const bytes = new TextEncoder().encode("123456789");
 * assert.equal(crc32Of(bytes.subarray(0, 4), bytes.subarray(4)), 0xcbf43926);
 * ```
 */
export function crc32Of(...parts: Uint8Array[]): number | undefined {
  if (crc32Hasher === undefined) {
    void loadCrc32();
    return undefined;
  }
  crc32Hasher.init();
  for (const part of parts) crc32Hasher.update(part);
  const digest = crc32Hasher.digest("binary");
  return (digest[0]! << 24 | digest[1]! << 16 | digest[2]! << 8 | digest[3]!) >>> 0;
}
