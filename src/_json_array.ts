/**
 * Builds `prefix part,part,… suffix` in one allocation: the body that
 * `jsonArrayFraming` (src/chunk.ts) sizes, from parts encoded once.
 */
export function joinJsonArray(
  prefix: Uint8Array,
  parts: readonly Uint8Array[],
  suffix: Uint8Array,
): Uint8Array {
  let length = prefix.byteLength + suffix.byteLength + Math.max(0, parts.length - 1);
  for (const part of parts) length += part.byteLength;
  const body = new Uint8Array(length);
  body.set(prefix, 0);
  let offset = prefix.byteLength;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) body[offset++] = 0x2c; // ","
    const part = parts[i]!;
    body.set(part, offset);
    offset += part.byteLength;
  }
  body.set(suffix, offset);
  return body;
}
