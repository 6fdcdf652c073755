// Servers that store text as UTF-8 (Redis through its clients, PostgreSQL) turn every lone
// surrogate into U+FFFD, and PostgreSQL refuses U+0000: keys that differ only there would merge
// or fail. Such keys (and keys that start with the marker) are written as the marker followed by
// the hex of their UTF-16 code units, so distinct keys stay distinct, as in the memory store.
const MARKER = "\uffff";
// Without the u flag a regular expression sees UTF-16 code units (String#isWellFormed is ES2024).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** `value` as text any UTF-8 server keeps apart from every other value (injective). */
export function keyText(value: string): string {
  if (!LONE_SURROGATE.test(value) && !value.includes("\0") && !value.startsWith(MARKER)) {
    return value;
  }
  let hex = MARKER;
  for (let i = 0; i < value.length; i++) hex += value.charCodeAt(i).toString(16).padStart(4, "0");
  return hex;
}
