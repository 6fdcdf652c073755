/**
 * Synchronous MD5 and SHA-256: hash-wasm's WebAssembly builds where they can
 * run, @noble/hashes (audited, pure JavaScript) until then and everywhere else.
 *
 * hash-wasm's hashers can only be created asynchronously, and a module that
 * awaited them at load time (top-level await) could never be `require()`d
 * and would fail to load where the platform forbids compiling WebAssembly at
 * run time (workerd, Vercel Edge). So the first call starts creating them in
 * the background and is answered by @noble/hashes, as is every call until they
 * are ready; from then on each call runs on one reused WebAssembly hasher
 * (faster: 1.2–2.5× for SHA-256, 3–5× for MD5 in bench/core_bench.ts). Both
 * give the same digests. {@linkcode loadHashers} waits for the choice.
 *
 * @module
 */
import { md5 as jsMd5 } from "@noble/hashes/legacy.js";
import { sha256 as jsSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { createWasmHasher, type WasmHasher } from "./_hash_wasm.ts";

/** Input accepted by the hash functions: a string (hashed as UTF-8) or bytes. */
export type HashInput = string | Uint8Array;

/** What computes the digests: hash-wasm's WebAssembly or @noble/hashes' JavaScript. */
export type HashImplementation = "webassembly" | "javascript";

let md5Wasm: WasmHasher | undefined;
let sha256Wasm: WasmHasher | undefined;
let loading: Promise<HashImplementation> | undefined;

/**
 * Creates the WebAssembly hashers if hash-wasm is installed and the platform
 * can compile WebAssembly, and tells which implementation the hash functions
 * use from now on. Optional: the hash functions call it themselves and work
 * before it resolves; await it to make sure later calls take the fast path
 * (in a benchmark, or before a burst).
 *
 * @example Usage
 * ```ts
 * import { loadHashers } from "./hash.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await loadHashers(), "webassembly"); // Deno, Node, Bun, browsers
 * ```
 */
export function loadHashers(): Promise<HashImplementation> {
  return loading ??= Promise.all([createWasmHasher("createMD5"), createWasmHasher("createSHA256")])
    .then(([md5, sha256]) => {
      if (md5 === undefined || sha256 === undefined) return "javascript";
      md5Wasm = md5;
      sha256Wasm = sha256;
      return "webassembly";
    });
}

// hash-wasm turns a string into bytes with a fresh `Buffer.from` per call; for
// the short strings we hash most (session and signature strings) encoding into
// one reused buffer is ~20 % cheaper per call. Longer strings are encoded anew.
const encoder = new TextEncoder();
const scratch = new Uint8Array(16 * 1024);
const MAX_SCRATCH_CHARS = scratch.length / 3; // a UTF-16 unit is at most 3 UTF-8 bytes

function bytesOf(input: HashInput): Uint8Array {
  if (typeof input !== "string") return input;
  if (input.length > MAX_SCRATCH_CHARS) return encoder.encode(input);
  const { written } = encoder.encodeInto(input, scratch);
  return scratch.subarray(0, written);
}

function digestBytes(
  wasm: WasmHasher | undefined,
  js: (bytes: Uint8Array) => Uint8Array,
  input: HashInput,
): Uint8Array {
  if (wasm !== undefined) return wasm.init().update(bytesOf(input)).digest("binary");
  void loadHashers();
  return js(bytesOf(input));
}

function digestHex(
  wasm: WasmHasher | undefined,
  js: (bytes: Uint8Array) => Uint8Array,
  input: HashInput,
): string {
  if (wasm !== undefined) return wasm.init().update(bytesOf(input)).digest("hex");
  return bytesToHex(digestBytes(wasm, js, input));
}

/**
 * Lowercase hex MD5 of the input.
 *
 * @example Usage
 * ```ts
 * import { md5Hex } from "./hash.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
 * ```
 */
export function md5Hex(input: HashInput): string {
  return digestHex(md5Wasm, jsMd5, input);
}

/** Raw 16-byte MD5 digest of the input. */
export function md5Bytes(input: HashInput): Uint8Array {
  return digestBytes(md5Wasm, jsMd5, input);
}

/**
 * Lowercase hex SHA-256 of the input.
 *
 * @example Usage
 * ```ts
 * import { sha256Hex } from "./hash.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   sha256Hex("abc"),
 *   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 * );
 * ```
 */
export function sha256Hex(input: HashInput): string {
  return digestHex(sha256Wasm, jsSha256, input);
}

/** Raw 32-byte SHA-256 digest of the input. */
export function sha256Bytes(input: HashInput): Uint8Array {
  return digestBytes(sha256Wasm, jsSha256, input);
}
