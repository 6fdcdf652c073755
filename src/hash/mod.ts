/**
 * Synchronous MD5 and SHA-256 and deterministic idempotency keys derived from
 * your own ids. The digests come from hash-wasm's WebAssembly hashers
 * (created in the background on first use, when hash-wasm is installed and
 * the platform can compile WebAssembly) or, until then and everywhere else,
 * from @noble/hashes' pure JavaScript: the same digests, 1.2–5× slower
 * (bench/core_bench.ts). {@linkcode loadHashers} tells which is used.
 *
 * Kept out of the package root on purpose: the hashers cost ~8 MB of
 * resident memory and some start-up time, which a `Client` on its own never
 * needs. Hamustro's session ids and request signatures (which use them) are
 * in `./hamustro`.
 *
 * @example Usage
 * ```ts
 * import { deriveIdempotencyKey, md5Hex } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(deriveIdempotencyKey(["user147", "new_comment", 1687437670]), "user147-new_comment-1687437670");
 * assert.equal(md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
 * ```
 *
 * @module
 */
export {
  type HashImplementation,
  type HashInput,
  loadHashers,
  md5Bytes,
  md5Hex,
  sha256Bytes,
  sha256Hex,
} from "../../wasm/hash.ts";
export { deriveIdempotencyKey } from "./derive_idempotency_key.ts";

// Types that the exports above name in their signatures.
export type { KeyPolicy } from "../idempotency_key.ts";
