/**
 * Fast paths the built-in drivers offer the engine, kept out of the public
 * contracts (`Transport`, `Storage`, `OutgoingBatch`): each is carried under
 * a symbol that no entry point exports, so a hand-written driver or profile
 * never sees it and the engine falls back to the contract alone.
 *
 * @module
 */

/** The key the capabilities are carried under. */
const internal: unique symbol = Symbol("idemtrack.internal");

type Carrier<T> = { readonly [internal]?: T };

/** Attaches `capability` to `value` (not enumerable, so spreading or cloning drops it). */
export function carry<V extends object, T>(value: V, capability: T): V {
  Object.defineProperty(value, internal, { value: capability });
  return value;
}

function carried<T>(value: unknown): T | undefined {
  return value === null || value === undefined ? undefined : (value as Carrier<T>)[internal];
}

/** What a built-in transport tells the engine about itself. */
export interface TransportTraits {
  /**
   * Done with a request's body once the call returns (it copied it, as the
   * platform's `fetch` does): the engine may reuse the body's buffer for its
   * next request.
   */
  readonly copiesBody?: boolean;
  /** For a transport that queues and paces requests itself: how many it may be handed at once. */
  readonly maxPending?: number;
  /** For a transport that queues requests itself: true while it holds enough to keep its connections busy. */
  readonly saturated?: () => boolean;
}

/** The traits a transport carries (none for one written by hand). */
export function transportTraits(transport: unknown): TransportTraits {
  return carried<TransportTraits>(transport) ?? {};
}

/** What the engine's outgoing batches offer the profiles' body helper. */
export interface BatchBody {
  /** How many records (without making them). */
  readonly size: number;
  /** `prefix`, the records' bytes separated by commas, and `suffix`, in one buffer, straight from the queue. */
  joinJson(prefix: Uint8Array, suffix: Uint8Array): Uint8Array;
  /** Each record's bytes, in order (without making records). */
  data(): Uint8Array[];
}

/** The body helper a batch carries, when the engine built it. */
export function batchBody(batch: unknown): BatchBody | undefined {
  return carried<BatchBody>(batch);
}

/** Each record's bytes, in order: for a profile that reads nothing else of its records. */
export function recordBytes(
  batch: { readonly records: readonly { readonly data: Uint8Array }[] },
): Uint8Array[] {
  return batchBody(batch)?.data() ?? batch.records.map((record) => record.data);
}

/** The engine's queue as it is, for a store in the same memory. */
export interface LiveQueue<Held> {
  /** Events held (queued and in batches). */
  readonly held: number;
  /** Records and saved batches as a journal of them would hold them now. */
  snapshot(): Held;
}

/**
 * A store in the engine's own memory (`MemoryStorage`), where a journal
 * would be a second copy of the queue: it opens at once, and takes the live
 * queue instead of being told of every record and batch.
 */
export interface InMemoryStore<Snapshot, Held> {
  /** What `open()` resolves with, at once. */
  openNow(): Snapshot;
  /**
   * Once open, the engine hands over its live queue and then neither appends
   * records nor saves or settles batches (values still go through `setValue`).
   */
  adopt(live: LiveQueue<Held>): void;
}

/** The in-memory capability a store carries, if it has one. */
export function inMemoryStore<Snapshot, Held>(
  storage: unknown,
): InMemoryStore<Snapshot, Held> | undefined {
  return carried<InMemoryStore<Snapshot, Held>>(storage);
}
