import type { Clock, TimerId } from "../clock.ts";
import type { StorageOp } from "./_ops.ts";

/** When a {@linkcode WriteBehind} writes its pending ops without being asked. */
export interface WriteSchedule {
  /** `"eager"`: as soon as the current write ends (group commit); `"timer"`: `delayMs` after the first pending op. */
  readonly mode: "eager" | "timer";
  /** Delay of `"timer"` mode. */
  readonly delayMs: number;
  /** Pending ops that start a write at once in `"timer"` mode (bounds memory). */
  readonly maxPendingOps: number;
  readonly clock: Clock;
}

interface Waiter {
  readonly seq: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The buffering shared by all drivers: ops are queued synchronously, written
 * in batches by one writer at a time (never two writes in flight), and
 * `sync()` resolves once a write that covers every earlier op has finished.
 *
 * A failed write rejects the `sync()`s waiting on it and puts its ops back in
 * front of the queue; the next push or `sync()` retries them (ops are
 * idempotent, see `LiveState`).
 */
export class WriteBehind {
  #pending: StorageOp[] = [];
  #pushed = 0;
  #written = 0;
  #writing: Promise<void> | undefined;
  #timer: TimerId | undefined;
  #waiters: Waiter[] = [];
  readonly #write: (ops: StorageOp[]) => Promise<void>;
  readonly #schedule: WriteSchedule;

  constructor(write: (ops: StorageOp[]) => Promise<void>, schedule: WriteSchedule) {
    this.#write = write;
    this.#schedule = schedule;
  }

  /** Ops queued and not yet written. */
  get pendingOps(): number {
    return this.#pending.length;
  }

  push(op: StorageOp): void {
    this.#pending.push(op);
    this.#pushed++;
    const { mode, maxPendingOps } = this.#schedule;
    if (mode === "eager" || this.#pending.length >= maxPendingOps) this.#kick();
    else if (this.#writing === undefined) this.#armTimer();
  }

  /** Resolves when every op pushed so far is written; rejects with the write's error. */
  sync(): Promise<void> {
    if (this.#written >= this.#pushed) return Promise.resolve();
    // Not Promise.withResolvers: the npm build targets Node 20, which lacks it.
    const promise = new Promise<void>((resolve, reject) => {
      this.#waiters.push({ seq: this.#pushed, resolve, reject });
    });
    this.#kick();
    return promise;
  }

  /** Stops the timer; pending ops stay queued (call `sync()` first to write them). */
  stop(): void {
    if (this.#timer !== undefined) this.#schedule.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #kick(): void {
    if (this.#writing !== undefined || this.#pending.length === 0) return;
    this.stop();
    this.#writing = this.#loop();
    // Failures are delivered to the sync() waiters; nothing else awaits the loop.
    this.#writing.catch(() => {});
  }

  // `#writing` is cleared synchronously where the loop ends, before the
  // sync() callers it resolves run: a push they make must start a new loop.
  async #loop(): Promise<void> {
    while (true) {
      const ops = this.#pending;
      const seq = this.#pushed;
      this.#pending = [];
      try {
        await this.#write(ops);
      } catch (error) {
        this.#writing = undefined;
        this.#pending = ops.concat(this.#pending);
        const failed = this.#waiters;
        this.#waiters = [];
        for (const waiter of failed) waiter.reject(error);
        throw error;
      }
      this.#written = seq;
      const done = this.#waiters.filter((waiter) => waiter.seq <= seq);
      this.#waiters = this.#waiters.filter((waiter) => waiter.seq > seq);
      // Timer mode writes what arrived meanwhile on its own timer, unless it
      // is plenty or someone waits for it.
      const more = this.#pending.length > 0 &&
        (this.#schedule.mode === "eager" || this.#waiters.length > 0 ||
          this.#pending.length >= this.#schedule.maxPendingOps);
      if (!more) {
        this.#writing = undefined;
        if (this.#pending.length > 0) this.#armTimer();
      }
      for (const waiter of done) waiter.resolve();
      if (!more) return;
    }
  }

  #armTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#schedule.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, this.#schedule.delayMs);
  }
}
