import { createHash } from "node:crypto";

/** Random bytes of any length (getRandomValues fills at most 64 KiB per call). */
export function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + 65536)));
  }
  return bytes;
}

/** node:crypto's hex digests of a value, under the names the hash functions have. */
export function referenceDigests(
  value: string | Uint8Array,
): { md5: string; md5Bytes: string; sha256: string; sha256Bytes: string } {
  const md5 = createHash("md5").update(value).digest("hex");
  const sha256 = createHash("sha256").update(value).digest("hex");
  return { md5, md5Bytes: md5, sha256, sha256Bytes: sha256 };
}

/** Byte lengths around MD5/SHA-256's 64-byte blocks and above the hashers' 16 KiB scratch buffer. */
export const HASH_TEST_SIZES: readonly number[] = [0, 1, 55, 56, 63, 64, 65, 1000, 4096, 70_000];
/** Strings: empty, ASCII, multi-byte, and longer than the scratch buffer holds. */
export const HASH_TEST_TEXTS: readonly string[] = [
  "",
  "abc",
  "héllo wörld ✓ 🎉",
  "é".repeat(6000),
  "🎉".repeat(5000),
];
