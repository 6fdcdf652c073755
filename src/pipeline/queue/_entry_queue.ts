import type { Entry } from "../_entry.ts";

/** The entries not yet in a batch, oldest first: an array with a moving head. */
export class EntryQueue {
  #items: Entry[] = [];
  #head = 0;
  #bytes = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Encoded bytes queued (the events' data, without framing). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The `index`-th entry from the head. */
  at(index: number): Entry | undefined {
    return this.#items[this.#head + index];
  }

  push(entry: Entry): void {
    this.#items.push(entry);
    this.#bytes += entry.bytes;
  }

  /** Puts entries before everything queued (restored records are older). */
  prepend(entries: Entry[]): void {
    for (const entry of entries) this.#bytes += entry.bytes;
    this.#items = [...entries, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }

  /** Removes the first `count` entries and returns them. */
  take(count: number): Entry[] {
    const taken = this.#items.slice(this.#head, this.#head + count);
    for (const entry of taken) this.#bytes -= entry.bytes;
    this.#items.fill(undefined as unknown as Entry, this.#head, this.#head + count);
    this.#head += count;
    this.#compact();
    return taken;
  }

  /** Releases the consumed prefix once it is most of the array. */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
