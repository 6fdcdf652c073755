/**
 * OpenTelemetry, without depending on it: the trace and span ids of the
 * active span stamped on events (a middleware), and a client's counters
 * observed as metrics. Both take the parts of `@opentelemetry/api` they use
 * (`trace`, a `Meter`) from the application, so idemtrack loads nothing of
 * OpenTelemetry itself and works with whichever SDK the application set up.
 *
 * @module
 */
import type { Middleware } from "./middleware.ts";

/** What {@linkcode traceContext} uses of `@opentelemetry/api`'s `trace`. */
export interface OtelTrace {
  /** The active span, if any. */
  getActiveSpan():
    | { spanContext(): { traceId: string; spanId: string; traceFlags: number } }
    | undefined;
}

/** An instrument created by an {@linkcode OtelMeter} (opaque here). */
export type OtelObservable = object;

/** What {@linkcode observeClientStats} uses of an `@opentelemetry/api` `Meter`. */
export interface OtelMeter {
  /** A monotonic counter read by a callback. */
  createObservableCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): OtelObservable;
  /** A counter that goes up and down, read by a callback. */
  createObservableUpDownCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): OtelObservable;
  /** Registers one callback reading several instruments. */
  addBatchObservableCallback(
    callback: (result: { observe(observable: OtelObservable, value: number): void }) => void,
    observables: OtelObservable[],
  ): void;
  /** Unregisters it. */
  removeBatchObservableCallback(
    callback: (result: { observe(observable: OtelObservable, value: number): void }) => void,
    observables: OtelObservable[],
  ): void;
}

/** The context fields {@linkcode traceContext} stamps: the active span's ids (W3C hex). */
export const TRACE_CONTEXT_FIELDS: Readonly<{ traceId: "traceId"; spanId: "spanId" }> = Object
  .freeze({ traceId: "traceId", spanId: "spanId" });

const INVALID_TRACE_ID = "00000000000000000000000000000000";

/**
 * A middleware stamping `context.traceId` and `context.spanId` with the ids
 * of the span active where `track()` is called (none outside a valid span).
 *
 * @example Usage
 * ```ts
 * import { traceContext } from "./open_telemetry.ts";
 * import assert from "node:assert/strict";
 *
 * // `trace` from "@opentelemetry/api" in an application.
 * const trace = {
 *   getActiveSpan: () => ({
 *     spanContext: () => ({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 }),
 *   }),
 * };
 * const stamped = traceContext(trace)({ name: "order_paid", userId: "u1" });
 * assert.equal(stamped?.context?.spanId, "b7ad6b7169203331");
 * ```
 */
export function traceContext(trace: OtelTrace): Middleware {
  return function traceContext(event) {
    const span = trace.getActiveSpan();
    if (span === undefined) return event;
    const { traceId, spanId } = span.spanContext();
    if (traceId === INVALID_TRACE_ID) return event;
    return { ...event, context: { ...event.context, traceId, spanId } };
  };
}

/** The counters {@linkcode observeClientStats} reads, by their `ClientStats` names. */
export type ObservedStats = Readonly<
  Record<
    | "tracked"
    | "delivered"
    | "duplicates"
    | "retried"
    | "failed"
    | "dropped"
    | "requests"
    | "filtered"
    | "sampledOut"
    | "consentDropped"
    | "queued"
    | "inFlight"
    | "queuedBytes"
    | "consentHeld",
    number
  >
>;

const INSTRUMENTS: ReadonlyArray<
  [keyof ObservedStats, string, "counter" | "upDown", string, string]
> = [
  ["tracked", "idemtrack.events.tracked", "counter", "{event}", "Events accepted"],
  ["delivered", "idemtrack.events.delivered", "counter", "{event}", "Events the server accepted"],
  ["duplicates", "idemtrack.events.duplicates", "counter", "{event}", "Events it already had"],
  ["retried", "idemtrack.events.retried", "counter", "{event}", "Event sends repeated"],
  ["failed", "idemtrack.events.failed", "counter", "{event}", "Events failed for good"],
  ["dropped", "idemtrack.events.dropped", "counter", "{event}", "Events dropped at the bound"],
  ["requests", "idemtrack.requests", "counter", "{request}", "HTTP requests answered"],
  ["filtered", "idemtrack.events.filtered", "counter", "{event}", "Events dropped by controls"],
  ["sampledOut", "idemtrack.events.sampled_out", "counter", "{event}", "Events sampled out"],
  ["consentDropped", "idemtrack.events.consent_dropped", "counter", "{event}", "Dropped: consent"],
  ["queued", "idemtrack.events.queued", "upDown", "{event}", "Events waiting for a batch"],
  ["inFlight", "idemtrack.events.in_flight", "upDown", "{event}", "Events in formed batches"],
  ["queuedBytes", "idemtrack.queue.size", "upDown", "By", "Bytes held"],
  ["consentHeld", "idemtrack.events.consent_held", "upDown", "{event}", "Held for consent"],
];

/**
 * Observes a client's counters as OpenTelemetry metrics (read when the
 * meter's reader collects): `idemtrack.events.delivered`, `….failed`,
 * `….sampled_out`, `idemtrack.requests`, the gauges `idemtrack.events.queued`,
 * `….in_flight`, `idemtrack.queue.size`… Returns a function that stops it.
 *
 * @example Usage
 * ```ts
 * import { observeClientStats, type OtelMeter } from "./open_telemetry.ts";
 * import assert from "node:assert/strict";
 *
 * // A Meter from "@opentelemetry/api" in an application; this one records what it reads.
 * const read = new Map<object, number>();
 * const names = new Map<object, string>();
 * let collect = () => {};
 * const meter: OtelMeter = {
 *   createObservableCounter: (name) => { const o = {}; names.set(o, name); return o; },
 *   createObservableUpDownCounter: (name) => { const o = {}; names.set(o, name); return o; },
 *   addBatchObservableCallback: (callback) => { collect = () => callback({ observe: (o, v) => read.set(o, v) }); },
 *   removeBatchObservableCallback: () => {},
 * };
 * const stats = { tracked: 3, delivered: 2, duplicates: 0, retried: 1, failed: 0, dropped: 0, requests: 1,
 *   filtered: 1, sampledOut: 0, consentDropped: 0, queued: 1, inFlight: 0, queuedBytes: 320, consentHeld: 0 };
 * observeClientStats(meter, { stats: () => stats });
 * collect();
 * const byName = new Map([...read].map(([o, v]) => [names.get(o), v]));
 * assert.equal(byName.get("idemtrack.events.delivered"), 2);
 * ```
 */
export function observeClientStats(
  meter: OtelMeter,
  client: { stats(): ObservedStats },
): () => void {
  const observables = INSTRUMENTS.map(([, name, kind, unit, description]) =>
    kind === "counter"
      ? meter.createObservableCounter(name, { unit, description })
      : meter.createObservableUpDownCounter(name, { unit, description })
  );
  const callback = (result: { observe(observable: OtelObservable, value: number): void }) => {
    const stats = client.stats();
    INSTRUMENTS.forEach(([field], i) => result.observe(observables[i]!, stats[field]));
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
