/**
 * Event controls' vocabulary, for code that builds plans, middleware or
 * analyses around a client: the Standard Schema interface, the typed-plan
 * helper, the controls' options, hooks and stats, and the sampling hash.
 * The `Client` itself takes these as options (see `docs/controls.md`).
 *
 * @example Re-weighting a sampled count
 * ```ts
 * import { SAMPLE_RATE_FIELD } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const kept = [{ context: { [SAMPLE_RATE_FIELD]: 0.25 } }, { context: { [SAMPLE_RATE_FIELD]: 0.25 } }];
 * const estimate = kept.reduce((sum, event) => sum + 1 / event.context[SAMPLE_RATE_FIELD], 0);
 * assert.equal(estimate, 8);
 * ```
 *
 * @module
 */
export {
  type ControlsOptions,
  type ControlsStats,
  DEFAULT_CONTROLS_OPTIONS,
  type FilterReason,
  type FilterState,
} from "./controls.ts";
export type { ConsentState } from "./consent.ts";
export type { Middleware } from "./middleware.ts";
export type { PlannedProperties, TrackingPlan, UnplannedPolicy } from "./plan.ts";
export {
  observeClientStats,
  type ObservedStats,
  type OtelMeter,
  type OtelObservable,
  type OtelTrace,
  TRACE_CONTEXT_FIELDS,
  traceContext,
} from "./open_telemetry.ts";
export { SAMPLE_RATE_FIELD, type SamplingRates, userHash } from "./sampling.ts";
export type { ValidationIssue } from "../errors/event_validation_error.ts";
export type {
  InferSchemaInput,
  StandardSchemaIssue,
  StandardSchemaProps,
  StandardSchemaResult,
  StandardSchemaV1,
} from "./standard_schema.ts";

// Types that the exports above name in their signatures.
export type { Attachment, EventInput, EventType, JsonObject, JsonValue } from "../event.ts";
