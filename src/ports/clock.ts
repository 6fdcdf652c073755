/** An opaque timer handle. */
export type TimerId = unknown;

/**
 * Time as the client sees it. Injected so tests advance time instead of
 * sleeping; the default is {@linkcode systemClock}.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `callback` after `delayMs`; the timer must not keep the process alive. */
  setTimeout(callback: () => void, delayMs: number): TimerId;
  /** Cancels a timer from {@linkcode Clock.setTimeout}. */
  clearTimeout(id: TimerId): void;
}

type Unrefable = { unref?: () => void };

function unref(id: unknown): void {
  // Deno returns a number (unref via Deno.unrefTimer); Node returns a Timeout object.
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof id === "number" && deno?.unrefTimer) deno.unrefTimer(id);
  else if (typeof id === "object" && id !== null) (id as Unrefable).unref?.();
}

/** The real clock: `Date.now` and unref'd timers (an idle client never keeps a process alive). */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(callback: () => void, delayMs: number): TimerId {
    const id = setTimeout(callback, delayMs);
    unref(id);
    return id;
  },
  clearTimeout(id: TimerId): void {
    clearTimeout(id as number);
  },
});
