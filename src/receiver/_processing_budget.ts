/**
 * A budget of body bytes being processed at once (`maxProcessingBytes`):
 * requests enter in arrival order — a later small request never passes an
 * earlier large one that is waiting, so none starves — and one is always let
 * in when nothing else is processing, however large.
 *
 * @module
 */

interface Waiting {
  readonly bytes: number;
  readonly enter: () => void;
}

/** Body bytes in process, and the requests waiting for room. */
export class ProcessingBudget {
  readonly #maxBytes: number;
  #bytes = 0;
  #entered = 0;
  #waiting: Waiting[] = [];
  #head = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  #fits(bytes: number): boolean {
    return this.#entered === 0 || this.#bytes + bytes <= this.#maxBytes;
  }

  /** Resolves once a request of `bytes` may be processed; pair with {@linkcode leave}. */
  enter(bytes: number): Promise<void> | void {
    if (this.#head === this.#waiting.length && this.#fits(bytes)) {
      this.#bytes += bytes;
      this.#entered++;
      return;
    }
    return new Promise((enter) => this.#waiting.push({ bytes, enter }));
  }

  /** Gives back what {@linkcode enter} took and lets in those waiting that now fit. */
  leave(bytes: number): void {
    this.#bytes -= bytes;
    this.#entered--;
    const waiting = this.#waiting;
    while (this.#head < waiting.length && this.#fits(waiting[this.#head]!.bytes)) {
      const next = waiting[this.#head++]!;
      this.#bytes += next.bytes;
      this.#entered++;
      next.enter();
    }
    if (this.#head === waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    }
  }
}
