/** What {@linkcode scanJsonObject} found at the start of a body. */
export interface ScannedJsonObject {
  /** Index just past the object's closing brace. */
  readonly end: number;
  /** The first number written with a fraction or an exponent (`1.0`, `1e9`), if any. */
  readonly nonInteger?: string;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function isNumberByte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || byte === 0x2d || byte === 0x2b || byte === 0x2e ||
    byte === 0x65 || byte === 0x45;
}

/**
 * Finds where the JSON object at the start of `body` ends, the way Go's
 * `json.Decoder.Decode` (which jsonpb uses) reads one value and leaves the
 * rest unread: JSON whitespace may precede it (a byte-order mark is not
 * whitespace), and bytes after it are ignored. The object itself is checked
 * by `JSON.parse` afterwards; this scan only balances braces and brackets
 * outside strings, so it cannot end a well-formed object early.
 *
 * It also reports a number with a fraction or an exponent: every number in
 * a Collection is an integer field (`at`, `nr`, `env`), which Go decodes
 * with `strconv.Parse(U)Int` and so refuses `1454681104.0` and `1.45e9`,
 * while `JSON.parse` would make integers of them.
 *
 * @returns the scan, or undefined when the body does not start with an object.
 */
export function scanJsonObject(body: Uint8Array): ScannedJsonObject | undefined {
  let i = 0;
  while (i < body.length && isJsonWhitespace(body[i]!)) i++;
  if (body[i] !== OPEN_BRACE) return undefined;
  let depth = 0;
  let nonInteger: string | undefined;
  while (i < body.length) {
    const byte = body[i]!;
    if (byte === QUOTE) {
      i++;
      while (i < body.length && body[i] !== QUOTE) i += body[i] === BACKSLASH ? 2 : 1;
      i++;
      continue;
    }
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth++;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) {
        return nonInteger === undefined ? { end: i + 1 } : { end: i + 1, nonInteger };
      }
    } else if ((byte >= 0x30 && byte <= 0x39) || byte === 0x2d) {
      const start = i;
      let fractional = false;
      while (i < body.length && isNumberByte(body[i]!)) {
        const b = body[i]!;
        if (b === 0x2e || b === 0x65 || b === 0x45) fractional = true;
        i++;
      }
      if (fractional && nonInteger === undefined) {
        nonInteger = new TextDecoder().decode(body.subarray(start, Math.min(i, start + 40)));
      }
      continue;
    }
    i++;
  }
  return undefined;
}
