import type { Clock, TimerId } from "../../ports/clock.ts";
import type { QueuedRecord } from "../../ports/storage.ts";
import type { StorageOp } from "./_ops.ts";

/** When a {@linkcode WriteBehind} writes its pending ops without being asked. */
export interface WriteSchedule {
  /** `"eager"`: as soon as the current write ends (group commit); `"timer"`: `delayMs` after the first pending op. */
  readonly mode: "eager" | "timer";
  /** Delay of `"timer"` mode. */
  readonly delayMs: number;
  /** Pending ops that start a write at once in `"timer"` mode (bounds memory). */
  readonly maxPendingOps: number;
  /**
   * Records one write takes at most, so that an urgent write (a batch about
   * to be sent) waits for one such chunk of a large backlog, not all of it.
   */
  readonly maxChunkRecords: number;
  readonly clock: Clock;
}

/**
 * Writes one chunk of ops, in order. `durable`: the chunk ends a write
 * (someone waits for it, or nothing due is left), so it must be made durable
 * together with every chunk written before it (the file driver fsyncs only
 * then). `backlog`: appended records still pending behind the chunk.
 */
export type ChunkWriter = (ops: StorageOp[], durable: boolean, backlog: number) => Promise<void>;

/**
 * A pending op. `seq`: push order (the parts of a split append share it);
 * `urgent`: the first urgent push it is written ahead for (`NONE` if none);
 * `due`: it must be written now, not when the timer fires; `from`: for an
 * append, the index of its first record not split off yet (the rest of a
 * large backlog is never copied when its head is taken).
 */
interface Entry {
  readonly op: StorageOp;
  readonly seq: number;
  readonly from: number;
  urgent: number;
  due: boolean;
  /**
   * Handed to a write that failed: the driver may have applied its op object
   * already, so it is retried as that same object, never split again.
   */
  attempted?: boolean;
}

/** Records of an append entry not split off yet. */
function pendingCount(entry: Entry): number {
  return (entry.op as { records: readonly QueuedRecord[] }).records.length - entry.from;
}

/** Waits until no pending op has `seq` below `seq`, or no pending op is urgent for `urgent`. */
interface Waiter {
  readonly seq: number;
  readonly urgent: number;
  resolve(): void;
  reject(error: unknown): void;
}

const NONE = Number.POSITIVE_INFINITY;
/** First delay before a failed write is retried; it doubles at each failure… */
export const RETRY_MIN_MS = 50;
/** …up to this. */
export const RETRY_MAX_MS = 5000;

/**
 * The buffering shared by all drivers: ops are queued synchronously and
 * written in chunks by one writer at a time (never two writes in flight).
 *
 * Ops that must be written (because `sync()` or an urgent push waits for
 * them, the timer fired, or the buffer is full) are "due": they always form a
 * prefix of the pending list, and the writer takes due chunks from its head.
 *
 * `pushUrgent()` (a batch that is sent right after) does not wait for the
 * whole backlog: the pending list is reordered so that the urgent op, every
 * other non-append op, and the appended records up to the last one they
 * reference come first; the rest of the backlog's records follow. This keeps
 * (1) the order of ops on each key (record id, batch id, value key), so the
 * state after every op is written is the same; (2) the append order of
 * records, since they are written as a prefix of the record stream; and
 * (3) every state a crash can leave consistent: a batch or a removal is never
 * written before the records it references, and a settle never precedes an
 * append of the same record (which would bring it back).
 *
 * A failed write (a full disk, a permission lost) rejects every waiting
 * `sync()` and puts its ops back in front of the queue (ops are idempotent,
 * see `LiveState`). They are retried by a timer with backoff
 * (`RETRY_MIN_MS` doubling up to `RETRY_MAX_MS`), so the store catches up by
 * itself once the cause goes away; meanwhile plain pushes only buffer, and a
 * `sync()` or urgent push tries at once (and rejects if the cause remains).
 */
export class WriteBehind {
  #pending: Entry[] = [];
  /**
   * Records appended and not yet taken by a write (counted, not sized: a
   * pass over a large burst's records only to add up their sizes cost more
   * than the driver's other bookkeeping).
   */
  #unwrittenRecords = 0;
  #writing: Promise<void> | undefined;
  #timer: TimerId | undefined;
  #waiters: Waiter[] = [];
  /** The error of the last write, while it has not succeeded since. */
  #failure: unknown = undefined;
  #retryDelayMs = 0;
  #pushed = 0;
  #urgentPushes = 0;
  readonly #write: ChunkWriter;
  readonly #schedule: WriteSchedule;

  constructor(write: ChunkWriter, schedule: WriteSchedule) {
    this.#write = write;
    this.#schedule = schedule;
  }

  push(op: StorageOp): void {
    this.#enqueue(op);
    // While writes fail, the retry timer is armed: plain pushes wait for it.
    if (this.#failure !== undefined) return;
    const { mode, maxPendingOps } = this.#schedule;
    if (mode === "eager" || this.#pending.length >= maxPendingOps) {
      this.#markDue(this.#pending.length);
      this.#kick();
    } else if (this.#writing === undefined) this.#armTimer();
  }

  /**
   * Pushes an op and resolves once it is durable with what it depends on (see
   * the class notes), ahead of the rest of the backlog.
   */
  pushUrgent(op: StorageOp): Promise<void> {
    this.#enqueue(op);
    const urgent = ++this.#urgentPushes;
    const count = this.#prioritize();
    for (let i = 0; i < count; i++) {
      const entry = this.#pending[i]!;
      if (entry.urgent === NONE) entry.urgent = urgent;
    }
    return this.#wait(count, { seq: 0, urgent });
  }

  /** Resolves when every op pushed so far is durable; rejects with the write's error. */
  sync(): Promise<void> {
    return this.#wait(this.#pending.length, { seq: this.#pushed, urgent: NONE });
  }

  /** Stops the timer; pending ops stay queued (call `sync()` first to write them). */
  stop(): void {
    if (this.#timer !== undefined) this.#schedule.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #enqueue(op: StorageOp): void {
    const entry = { op, seq: this.#pushed++, from: 0, urgent: NONE, due: false };
    this.#pending.push(entry);
    if (op.type === "append") this.#track(entry, 1);
  }

  /** Counts records as unwritten (`1`) or taken by a write (`-1`). */
  #track(entry: Entry, sign: 1 | -1): void {
    this.#unwrittenRecords += sign * pendingCount(entry);
  }

  /** Makes the first `count` pending ops due and waits until `until` is met. */
  #wait(count: number, until: { seq: number; urgent: number }): Promise<void> {
    if (count === 0 && this.#writing === undefined) return Promise.resolve();
    this.#markDue(count);
    // Not Promise.withResolvers: the npm build targets Node 20, which lacks it.
    const promise = new Promise<void>((resolve, reject) => {
      this.#waiters.push({ ...until, resolve, reject });
    });
    this.#kick();
    return promise;
  }

  #markDue(count: number): void {
    for (let i = 0; i < count; i++) this.#pending[i]!.due = true;
  }

  /**
   * Reorders the pending list so that it starts with what the last op (just
   * pushed) needs, and returns the length of that prefix.
   */
  #prioritize(): number {
    const pending = this.#pending;
    // Every non-append op goes first (keeping the order of ops on each key),
    // so every record they reference that is not written yet goes first too.
    // A settle needs nothing: its records belong to a batch whose save is
    // either pending (and needs them itself) or was written after them.
    const needing: (readonly string[])[] = [];
    for (const { op } of pending) {
      if (op.type === "saveBatch") needing.push(op.batch.recordIds);
      else if (op.type === "remove") needing.push(op.recordIds);
    }
    const [cutEntry, cutRecord] = (needing.length === 1 && leadingCut(pending, needing[0]!)) ||
      lastNeededCut(pending, needing);
    const head: Entry[] = [];
    const tail: Entry[] = [];
    for (let i = 0; i < pending.length; i++) {
      const entry = pending[i]!;
      const { op } = entry;
      if (op.type !== "append" || i < cutEntry || entry.attempted) head.push(entry);
      else if (i > cutEntry) tail.push(entry);
      else {
        const [before, after] = splitAppend(entry, cutRecord);
        head.push(before);
        if (after !== undefined) tail.push(after);
      }
    }
    this.#pending = head.concat(tail);
    return head.length;
  }

  #kick(): void {
    if (this.#writing !== undefined || !this.#hasDue()) return;
    this.stop();
    this.#writing = this.#loop();
    // Failures are delivered to the sync() waiters; nothing else awaits the loop.
    this.#writing.catch(() => {});
  }

  /** Due ops always form a prefix of the pending list. */
  #hasDue(): boolean {
    return this.#pending.length > 0 && this.#pending[0]!.due;
  }

  /** Takes the next due chunk off the head of the pending list. */
  #takeChunk(): Entry[] {
    const chunk: Entry[] = [];
    const pending = this.#pending;
    const { maxChunkRecords } = this.#schedule;
    let records = 0;
    let taken = 0;
    while (taken < pending.length && records < maxChunkRecords) {
      const entry = pending[taken]!;
      if (!entry.due) break;
      const { op } = entry;
      if (
        op.type === "append" && !entry.attempted && records + pendingCount(entry) > maxChunkRecords
      ) {
        const [before, after] = splitAppend(entry, maxChunkRecords - records);
        chunk.push(before);
        pending[taken] = after!;
        break;
      }
      // What is written is a plain op of its own records (a retry writes the same object).
      chunk.push(entry.from === 0 ? entry : splitAppend(entry, pendingCount(entry))[0]);
      if (op.type === "append") records += pendingCount(entry);
      taken++;
    }
    this.#pending = taken === 0 ? pending : pending.slice(taken);
    for (const entry of chunk) if (entry.op.type === "append") this.#track(entry, -1);
    return chunk;
  }

  /** Waiters whose ops are all written (as of now). */
  #satisfied(): (waiter: Waiter) => boolean {
    let seq = NONE;
    let urgent = NONE;
    for (const entry of this.#pending) {
      if (entry.seq < seq) seq = entry.seq;
      if (entry.urgent < urgent) urgent = entry.urgent;
    }
    return (waiter) => waiter.seq <= seq && (waiter.urgent === NONE || waiter.urgent < urgent);
  }

  // `#writing` is cleared synchronously where the loop ends, before the
  // sync() callers it resolves run: a push they make must start a new loop.
  async #loop(): Promise<void> {
    while (this.#hasDue()) {
      const chunk = this.#takeChunk();
      // Only a chunk that ends a write or completes a waiter is made durable.
      const durable = !this.#hasDue() || this.#waiters.some(this.#satisfied());
      try {
        await this.#write(chunk.map((entry) => entry.op), durable, this.#unwrittenRecords);
      } catch (error) {
        this.#writing = undefined;
        for (const entry of chunk) entry.attempted = true;
        this.#pending = chunk.concat(this.#pending);
        for (const entry of chunk) if (entry.op.type === "append") this.#track(entry, 1);
        this.#failure = error;
        this.#retryDelayMs = Math.min(Math.max(2 * this.#retryDelayMs, RETRY_MIN_MS), RETRY_MAX_MS);
        this.#armTimer(this.#retryDelayMs);
        const failed = this.#waiters;
        this.#waiters = [];
        for (const waiter of failed) waiter.reject(error);
        throw error;
      }
      this.#failure = undefined;
      this.#retryDelayMs = 0;
      if (durable) this.#resolveWaiters();
    }
    this.#writing = undefined;
    if (this.#pending.length > 0) this.#armTimer();
  }

  #resolveWaiters(): void {
    const satisfied = this.#satisfied();
    const done = this.#waiters.filter(satisfied);
    if (done.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => !satisfied(waiter));
    for (const waiter of done) waiter.resolve();
  }

  /** Writes every pending op after `delayMs` (the schedule's delay, or a retry's backoff). */
  #armTimer(delayMs = this.#schedule.delayMs): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#schedule.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#markDue(this.#pending.length);
      this.#kick();
    }, delayMs);
  }
}

/** Where the pending list is cut: an entry index and a count of its pending records. */
type Cut = [entry: number, records: number];

/**
 * The common case without hashing: the ids are exactly the oldest pending
 * records, in order (a batch formed from the head of the queue). Returns the
 * cut right after them, or `undefined` when they are not.
 */
function leadingCut(pending: readonly Entry[], ids: readonly string[]): Cut | undefined {
  let j = 0;
  for (let i = 0; i < pending.length; i++) {
    const { op, from } = pending[i]!;
    if (op.type !== "append") continue;
    for (let r = from; r < op.records.length; r++) {
      if (op.records[r]!.id !== ids[j]) return undefined;
      if (++j === ids.length) return [i, r + 1 - from];
    }
  }
  return undefined;
}

/**
 * The cut after the last pending record any of the id lists references. Ids
 * not found were written already (the scan then runs to the end of the
 * backlog; hashing every appended id up front to know would cost more).
 */
function lastNeededCut(pending: readonly Entry[], needing: readonly (readonly string[])[]): Cut {
  const needed = new Set<string>();
  for (const ids of needing) for (const id of ids) needed.add(id);
  let cut: Cut = [-1, 0];
  for (let i = 0, left = needed.size; i < pending.length && left > 0; i++) {
    const { op, from } = pending[i]!;
    if (op.type !== "append") continue;
    for (let r = from; r < op.records.length && left > 0; r++) {
      if (needed.has(op.records[r]!.id)) {
        left--;
        cut = [i, r + 1 - from];
      }
    }
  }
  return cut;
}

/**
 * Splits an append entry after its first `count` pending records: those are
 * copied into an op of their own; the rest (`undefined` when nothing is left)
 * keeps the op and moves its offset, so a large backlog is not copied.
 */
function splitAppend(entry: Entry, count: number): [Entry, Entry | undefined] {
  const records = (entry.op as { records: readonly QueuedRecord[] }).records;
  const end = entry.from + count;
  const before = {
    ...entry,
    op: { type: "append" as const, records: records.slice(entry.from, end) },
    from: 0,
  };
  return [before, end >= records.length ? undefined : { ...entry, from: end }];
}
