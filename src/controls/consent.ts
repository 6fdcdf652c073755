/**
 * Consent: while it is pending, events are held (bounded, and kept in the
 * storage's key-value area, so durable storage keeps them across restarts);
 * granting releases them in order, denying purges them. The state itself is
 * kept in the same area.
 *
 * @module
 */
import type { IdemtrackEvent, JsonValue } from "../event.ts";

/** Whether events may leave: `granted` sends, `pending` holds, `denied` drops. */
export type ConsentState = "granted" | "pending" | "denied";

/** The key-value area the gate keeps its state and held events in. */
export interface ConsentStore {
  /** Resolves with every stored value once the storage is open (with values set before). */
  open(): Promise<ReadonlyMap<string, JsonValue>>;
  /** Sets (`undefined`: deletes) a value. */
  set(key: string, value: JsonValue | undefined): void;
}

/** Where the state is kept in the storage's key-value area. */
export const CONSENT_STATE_KEY = "idemtrack.consent";
/** Prefix of held events' keys (followed by their idempotency key). */
export const CONSENT_HELD_PREFIX = "idemtrack.consent.held.";

const STATES: readonly string[] = ["granted", "pending", "denied"];

/**
 * Checks a consent state.
 *
 * @throws {TypeError} naming the allowed states.
 */
export function checkConsentState(state: unknown, what: string): ConsentState {
  if (!STATES.includes(state as string)) {
    throw new TypeError(
      `Cannot ${what} as 'consent' must be "granted", "pending" or "denied": current value is ${
        JSON.stringify(state)
      }`,
    );
  }
  return state as ConsentState;
}

interface Held {
  readonly n: number;
  readonly event: IdemtrackEvent;
}

/** What the gate reports: released events go to `release`; purged ones to `purge`. */
export interface ConsentGateOptions {
  /** The state on first run (a stored state wins). */
  readonly initial: ConsentState;
  /** Most events held; the oldest go (purged, reported) beyond it. */
  readonly maxHeld: number;
  readonly store: ConsentStore;
  /** Queues a released event; may throw (the queue's errors), which stops the release. */
  readonly release: (event: IdemtrackEvent) => void;
  /** Reports purged events. */
  readonly purge: (events: IdemtrackEvent[], reason: "consentPurged" | "consentOverflow") => void;
  /** Reports a release that stopped on an error (the rest stay held). */
  readonly error: (error: unknown) => void;
}

/** Holds, releases and purges events by consent state. */
export class ConsentGate {
  readonly #options: ConsentGateOptions;
  #state: ConsentState;
  /** Until the storage answers or `set()` is called, the state is unknown: everything is held. */
  #known = false;
  #held: Held[] = [];
  #next = 0;
  readonly ready: Promise<void>;

  constructor(options: ConsentGateOptions) {
    this.#options = options;
    this.#state = options.initial;
    this.ready = options.store.open().then((values) => this.#restore(values), () => {
      // The storage failed to open (reported by the engine): go on with the state in force.
      this.#restore(new Map());
    });
  }

  /** The state in force (the given one until the storage answers). */
  get state(): ConsentState {
    return this.#state;
  }

  /** Events held now. */
  get held(): number {
    return this.#held.length;
  }

  /** True when a new event must be held rather than sent (pending, or the stored state unknown). */
  get holds(): boolean {
    return this.#state === "pending" || (!this.#known && this.#state !== "denied");
  }

  /** Holds an event (persisted); beyond `maxHeld` the oldest is purged. */
  hold(event: IdemtrackEvent): void {
    const entry = { n: this.#next++, event };
    this.#held.push(entry);
    this.#options.store.set(CONSENT_HELD_PREFIX + event.idempotencyKey, {
      n: entry.n,
      event: event as unknown as JsonValue,
    });
    if (this.#held.length > this.#options.maxHeld) {
      this.#drop(
        this.#held.splice(0, this.#held.length - this.#options.maxHeld),
        "consentOverflow",
      );
    }
  }

  /**
   * Changes the state (kept in storage): granted releases held events, denied purges them (those
   * of an earlier run too, once the storage answers). It is newer than any stored state.
   */
  set(state: ConsentState): void {
    this.#state = state;
    this.#known = true;
    this.#options.store.set(CONSENT_STATE_KEY, state);
    this.#apply();
  }

  #restore(values: ReadonlyMap<string, JsonValue>): void {
    const stored = values.get(CONSENT_STATE_KEY);
    if (!this.#known && STATES.includes(stored as string)) {
      this.#state = stored as ConsentState;
    }
    const mine = new Set(this.#held.map((entry) => entry.event.idempotencyKey));
    const earlier: Held[] = [];
    for (const [key, value] of values) {
      if (!key.startsWith(CONSENT_HELD_PREFIX)) continue;
      const held = value as unknown as Held;
      if (!mine.has(held.event.idempotencyKey)) earlier.push(held);
    }
    earlier.sort((a, b) => a.n - b.n);
    this.#held = [...earlier, ...this.#held];
    this.#known = true;
    if (this.#held.length > this.#options.maxHeld) {
      this.#drop(
        this.#held.splice(0, this.#held.length - this.#options.maxHeld),
        "consentOverflow",
      );
    }
    this.#apply();
  }

  #apply(): void {
    if (this.#state === "granted") {
      while (this.#held.length > 0) {
        const entry = this.#held[0]!;
        try {
          this.#options.release(entry.event);
        } catch (error) {
          this.#options.error(error);
          return;
        }
        this.#held.shift();
        this.#options.store.set(CONSENT_HELD_PREFIX + entry.event.idempotencyKey, undefined);
      }
    } else if (this.#state === "denied" && this.#held.length > 0) {
      this.#drop(this.#held.splice(0), "consentPurged");
    }
  }

  #drop(entries: Held[], reason: "consentPurged" | "consentOverflow"): void {
    for (const entry of entries) {
      this.#options.store.set(CONSENT_HELD_PREFIX + entry.event.idempotencyKey, undefined);
    }
    this.#options.purge(entries.map((entry) => entry.event), reason);
  }
}
