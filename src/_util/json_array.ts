/**
 * Builds `prefix part,part,… suffix` in one allocation: the body that
 * `jsonArrayFraming` (src/chunk.ts) sizes, from parts encoded once.
 */
export function joinJsonArray(
  prefix: Uint8Array,
  parts: readonly Uint8Array[],
  suffix: Uint8Array,
): Uint8Array {
  return joinJsonArrayOf(
    prefix,
    parts.length,
    (i) => parts[i]!.byteLength,
    (i, body, offset) => body.set(parts[i]!, offset),
    suffix,
  );
}

/**
 * {@linkcode joinJsonArray} over `count` parts that are not arrays of their
 * own: `sizeOf(i)` gives the `i`-th part's size, `write` copies it in;
 * `allocate` gives the body (of exactly `length` bytes).
 */
export function joinJsonArrayOf(
  prefix: Uint8Array,
  count: number,
  sizeOf: (index: number) => number,
  write: (index: number, body: Uint8Array, offset: number) => void,
  suffix: Uint8Array,
  allocate: (length: number) => Uint8Array = (length) => new Uint8Array(length),
): Uint8Array {
  let length = prefix.byteLength + suffix.byteLength + Math.max(0, count - 1);
  for (let i = 0; i < count; i++) length += sizeOf(i);
  const body = allocate(length);
  body.set(prefix, 0);
  let offset = prefix.byteLength;
  for (let i = 0; i < count; i++) {
    if (i > 0) body[offset++] = 0x2c; // ","
    write(i, body, offset);
    offset += sizeOf(i);
  }
  body.set(suffix, offset);
  return body;
}
