const SLAB_BYTES = 256 * 1024;
/** Events that grow past this are left to the caller's general path (their own allocation). */
const MAX_EVENT_BYTES = SLAB_BYTES / 4;
/** Nesting past this goes through `JSON.stringify` (which validated events never reach). */
const MAX_DEPTH = 64;

/** Thrown inside the writer when an event outgrows {@linkcode MAX_EVENT_BYTES}. */
class TooLarge extends Error {}
const TOO_LARGE = new TooLarge();

const encoder = new TextEncoder();

/**
 * Writes JSON exactly as `JSON.stringify` then `TextEncoder` would, straight
 * into shared 256 KB slabs: each event costs one view, not a string and an
 * `encodeInto` call (together much slower than this writer on the
 * `Client`'s hot path).
 *
 * ASCII strings without control characters, `"` or `\` (ids, keys, most
 * values) are copied unit by unit; any other string, and any value that is
 * not a plain object, array, string, number, boolean or null (a `toJSON`, a
 * class instance, nesting deeper than 64), is written as `JSON.stringify`
 * writes it, so the output is the same for every input.
 *
 * One event at a time: {@linkcode JsonSlabWriter.write} runs a function that
 * writes the parts (`raw`, `byte`, `string`, `value`) and returns the event's
 * view (valid as long as it is referenced). It returns `undefined` instead
 * for an event that would outgrow 64 KB (the parts throw out, nothing is
 * kept) and for a write started while another is under way.
 */
export class JsonSlabWriter {
  #slab = new Uint8Array(SLAB_BYTES);
  #pos = 0;
  #start = 0;
  #busy = false;

  /** Writes one event with `parts`; `undefined` when it is larger than 64 KB or a write is under way. */
  write<T>(parts: (writer: JsonSlabWriter, input: T) => void, input: T): Uint8Array | undefined {
    // A getter or toJSON that writes another event meanwhile gets the general path.
    if (this.#busy) return undefined;
    this.#busy = true;
    this.#start = this.#pos;
    try {
      parts(this, input);
    } catch (error) {
      this.#pos = this.#start;
      if (error === TOO_LARGE) return undefined;
      throw error;
    } finally {
      this.#busy = false;
    }
    return this.#slab.subarray(this.#start, this.#pos);
  }

  /** Writes text the caller knows is ASCII and needs no escaping (punctuation, field names, ISO dates). */
  raw(text: string): void {
    const length = text.length;
    this.#room(length);
    const slab = this.#slab;
    const pos = this.#pos;
    for (let i = 0; i < length; i++) slab[pos + i] = text.charCodeAt(i);
    this.#pos = pos + length;
  }

  /** Writes one ASCII byte (punctuation). */
  byte(code: number): void {
    this.#room(1);
    this.#slab[this.#pos++] = code;
  }

  /** Writes a JSON string literal. */
  string(text: string): void {
    const length = text.length;
    this.#room(length + 2);
    const slab = this.#slab;
    const pos = this.#pos;
    slab[pos] = 0x22;
    for (let i = 0; i < length; i++) {
      const unit = text.charCodeAt(i);
      if (unit < 0x20 || unit === 0x22 || unit === 0x5c || unit > 0x7f) {
        this.#encode(JSON.stringify(text));
        return;
      }
      slab[pos + 1 + i] = unit;
    }
    slab[pos + 1 + length] = 0x22;
    this.#pos = pos + length + 2;
  }

  /** Writes any value as `JSON.stringify` would (`undefined` writes nothing; callers skip it). */
  value(value: unknown, depth = 0): void {
    switch (typeof value) {
      case "string":
        this.string(value);
        return;
      case "number":
        this.raw(Number.isFinite(value) ? String(value) : "null");
        return;
      case "boolean":
        this.raw(value ? "true" : "false");
        return;
      case "object":
        if (value === null) {
          this.raw("null");
          return;
        }
        if (depth < MAX_DEPTH && typeof (value as { toJSON?: unknown }).toJSON !== "function") {
          if (Array.isArray(value)) {
            this.#array(value, depth);
            return;
          }
          const prototype = Object.getPrototypeOf(value);
          if (prototype === Object.prototype || prototype === null) {
            this.#object(value as Record<string, unknown>, depth);
            return;
          }
        }
    }
    const text = JSON.stringify(value);
    if (text !== undefined) this.#encode(text);
  }

  #array(items: readonly unknown[], depth: number): void {
    this.byte(0x5b);
    for (let i = 0; i < items.length; i++) {
      if (i > 0) this.byte(0x2c);
      const item = items[i];
      if (skipped(item)) this.raw("null");
      else this.value(item, depth + 1);
    }
    this.byte(0x5d);
  }

  #object(object: Record<string, unknown>, depth: number): void {
    this.byte(0x7b);
    let first = true;
    for (const key in object) {
      if (!Object.hasOwn(object, key)) continue;
      const item = object[key];
      if (skipped(item)) continue;
      if (!first) this.byte(0x2c);
      first = false;
      this.string(key);
      this.byte(0x3a);
      this.value(item, depth + 1);
    }
    this.byte(0x7d);
  }

  /** Writes text that may need UTF-8 encoding. */
  #encode(text: string): void {
    this.#room(text.length * 3);
    this.#pos += encoder.encodeInto(text, this.#slab.subarray(this.#pos)).written;
  }

  /** Makes room for `bytes` more, moving the event begun so far to a new slab if needed. */
  #room(bytes: number): void {
    const begun = this.#pos - this.#start;
    if (begun + bytes > MAX_EVENT_BYTES) throw TOO_LARGE;
    if (this.#pos + bytes <= this.#slab.length) return;
    const slab = new Uint8Array(SLAB_BYTES);
    slab.set(this.#slab.subarray(this.#start, this.#pos));
    this.#slab = slab;
    this.#start = 0;
    this.#pos = begun;
  }
}

/** Values `JSON.stringify` leaves out of objects (and writes as `null` in arrays). */
function skipped(value: unknown): boolean {
  return value === undefined || typeof value === "function" || typeof value === "symbol";
}
