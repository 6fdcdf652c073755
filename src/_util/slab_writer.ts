import { utf8ByteLength, writeUtf8Into } from "./utf8.ts";

/** Size of a shared slab; an event whose worst case is over a quarter of it gets its own buffer. */
const SLAB_BYTES = 1 << 20;

/**
 * Writes each queued event (its encoding, then its idempotency key) into
 * shared 1 MB slabs, so that an event waiting in the queue is bytes outside
 * the JavaScript heap rather than strings and objects the garbage collector
 * copies at every scavenge (see `docs/client.md`, "Memory").
 *
 * `stage()` writes after what the slab holds without keeping it, so that a
 * refused event (too large, queue full) costs nothing; `commit()` keeps it.
 * The staged event is `slab[start, start + size)`, its key the next
 * `keyLength` bytes.
 */
export class SlabWriter {
  /** The slab the staged event is in. */
  slab: Uint8Array<ArrayBuffer> = new Uint8Array(SLAB_BYTES);
  /** Where the staged event starts. */
  start = 0;
  /** The staged event's encoded size in bytes. */
  size = 0;
  /** Its key's size in bytes (written right after it). */
  keyLength = 0;
  #current = this.slab;
  #offset = 0;

  /**
   * Writes an event and its key (none when the caller keeps the key string
   * itself); returns the event's size in bytes.
   */
  stage(encoded: string | Uint8Array, key = ""): number {
    const text = typeof encoded === "string";
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const worst = (text ? encoded.length * 3 : encoded.length) + key.length * 3;
    let slab = this.#current;
    let start = this.#offset;
    if (worst > SLAB_BYTES / 4) {
      slab = new Uint8Array(
        (text ? utf8ByteLength(encoded) : encoded.length) + utf8ByteLength(key),
      );
      start = 0;
    } else if (start + worst > slab.length) {
      slab = this.#current = new Uint8Array(SLAB_BYTES);
      start = this.#offset = 0;
    }
    let size: number;
    if (text) {
      size = writeUtf8Into(slab, start, encoded);
    } else {
      slab.set(encoded, start);
      size = encoded.length;
    }
    this.slab = slab;
    this.start = start;
    this.size = size;
    this.keyLength = writeUtf8Into(slab, start + size, key);
    return size;
  }

  /** Keeps the staged event. */
  commit(): void {
    if (this.slab === this.#current) this.#offset = this.start + this.size + this.keyLength;
  }

  /** A view of the staged event's bytes. */
  view(): Uint8Array {
    return this.slab.subarray(this.start, this.start + this.size);
  }

  /** Stages and commits `encoded` (no key) and returns its view: for encoders that keep views. */
  write(encoded: string | Uint8Array): Uint8Array {
    this.stage(encoded);
    this.commit();
    return this.view();
  }
}
