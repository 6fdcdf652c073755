import { writeUtf8Into } from "./_utf8.ts";

const SLAB_BYTES = 256 * 1024;

/**
 * Encodes strings to UTF-8 (or copies bytes) into shared slabs: one
 * allocation per 256 KB of events instead of one per event (a fresh small
 * `Uint8Array` costs about a microsecond). Each result is a view into a slab,
 * valid for as long as it is referenced; storage drivers that clone or
 * serialize records copy views to their own bytes first.
 */
export class SlabEncoder {
  readonly #encoder = new TextEncoder();
  #slab = new Uint8Array(SLAB_BYTES);
  #offset = 0;

  /** Copies bytes into a slab and returns the view (small inputs; large ones are sliced). */
  copy(bytes: Uint8Array): Uint8Array {
    if (bytes.length > SLAB_BYTES / 4) return bytes.slice();
    if (this.#offset + bytes.length > this.#slab.byteLength) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#offset = 0;
    }
    const start = this.#offset;
    this.#slab.set(bytes, start);
    this.#offset = start + bytes.length;
    return this.#slab.subarray(start, this.#offset);
  }

  encode(text: string): Uint8Array {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    const worst = text.length * 3;
    if (worst > SLAB_BYTES / 4) return this.#encoder.encode(text);
    if (this.#offset + worst > this.#slab.byteLength) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#offset = 0;
    }
    const start = this.#offset;
    const slab = this.#slab;
    const written = writeUtf8Into(slab, start, text);
    this.#offset = start + written;
    return slab.subarray(start, start + written);
  }
}
