/**
 * Synchronous MD5 and SHA-256 over hash-wasm's WebAssembly builds.
 *
 * hash-wasm's one-shot helpers (`md5(data)`) are async and set up state on every
 * call; most of our inputs are tiny (session strings, signature strings), so the
 * per-call overhead would dominate. The module instantiates one hasher of each
 * kind at load time (top-level await) and reuses it: every call after that is
 * synchronous.
 *
 * @module
 */
import { createMD5, createSHA256, type IHasher } from "hash-wasm";

/** Input accepted by the hash functions: a string (hashed as UTF-8) or bytes. */
export type HashInput = string | Uint8Array;

const md5Hasher: IHasher = await createMD5();
const sha256Hasher: IHasher = await createSHA256();

// hash-wasm turns a string into bytes with a fresh `Buffer.from` per call; for
// the short strings we hash most (session and signature strings) encoding into
// one reused buffer is ~20 % cheaper per call. Longer strings take hash-wasm's path.
const encoder = new TextEncoder();
const scratch = new Uint8Array(16 * 1024);
const MAX_SCRATCH_CHARS = scratch.length / 3; // a UTF-16 unit is at most 3 UTF-8 bytes

function bytesOf(input: HashInput): HashInput {
  if (typeof input !== "string" || input.length > MAX_SCRATCH_CHARS) return input;
  const { written } = encoder.encodeInto(input, scratch);
  return scratch.subarray(0, written);
}

function digestHex(hasher: IHasher, input: HashInput): string {
  return hasher.init().update(bytesOf(input)).digest("hex");
}

function digestBytes(hasher: IHasher, input: HashInput): Uint8Array {
  return hasher.init().update(bytesOf(input)).digest("binary");
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
  return digestHex(md5Hasher, input);
}

/** Raw 16-byte MD5 digest of the input. */
export function md5Bytes(input: HashInput): Uint8Array {
  return digestBytes(md5Hasher, input);
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
  return digestHex(sha256Hasher, input);
}

/** Raw 32-byte SHA-256 digest of the input. */
export function sha256Bytes(input: HashInput): Uint8Array {
  return digestBytes(sha256Hasher, input);
}
