import type { JsonObject } from "../event.ts";

/** An event the receiver accepted, on its way to the sink. */
export interface AcceptedEvent {
  /** Tenant the request was authenticated as. */
  readonly tenant: string;
  /** Name of the route that decoded it (`"json"`, `"hamustro"`…). */
  readonly route: string;
  /** The event's idempotency key, when it had one. */
  readonly key?: string;
  /** Receipt time, epoch milliseconds. */
  readonly receivedAt: number;
  /** The event as the route decoded it. */
  readonly event: JsonObject;
  /**
   * `JSON.stringify(event)`, when the receiver already computed it (to check
   * the event's size): a sink that writes JSON uses it instead of encoding
   * the event again.
   */
  readonly json?: string;
}

/**
 * Where accepted events go. `write` resolves once the events are stored; if it
 * rejects, the receiver frees their keys and answers 503, so the client's
 * retry is accepted rather than reported as a duplicate (nothing is lost).
 */
export interface Sink {
  /** Stores accepted events; resolves once they are stored. */
  write(events: readonly AcceptedEvent[]): Promise<void> | void;
  /**
   * Optional, used instead of `write` when present: stores only the events
   * whose key the sink never stored, in one transaction, and answers for each
   * whether it was stored (`false` → the receiver answers `duplicate`). The
   * write is then the claim of the keys: a receiver that dies between its
   * store's claim and commit, or a store that forgot keys, cannot make the
   * sink store an event twice.
   */
  writeOnce?(events: readonly AcceptedEvent[]): Promise<readonly boolean[]>;
  /**
   * Whether the sink is reachable, for `/readyz`: resolves `true` (or nothing) when it
   * is, `false` or a rejection (its message says why) when not.
   */
  ping?(): Promise<boolean | void> | boolean | void;
  /** Flushes and releases resources. */
  close?(): Promise<void> | void;
}

/**
 * A sink that hands each request's accepted events to a callback.
 *
 * @example Usage
 * ```ts
 * import { callbackSink } from "./sink.ts";
 * import assert from "node:assert/strict";
 *
 * const seen: string[] = [];
 * const sink = callbackSink((events) => {
 *   for (const accepted of events) seen.push(String(accepted.event.event));
 * });
 * await sink.write([{ tenant: "t", route: "json", receivedAt: 0, event: { event: "signup" } }]);
 * assert.deepEqual(seen, ["signup"]);
 * ```
 */
export function callbackSink(
  callback: (events: readonly AcceptedEvent[]) => Promise<void> | void,
): Sink {
  return { write: (events) => callback(events) };
}
