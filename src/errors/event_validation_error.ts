import { guardFor, IdemtrackError } from "./idemtrack_error.ts";

/** One problem a tracking plan's schema found in an event's properties. */
export interface ValidationIssue {
  /** Where in the properties (keys and indexes); empty for the properties as a whole. */
  readonly path: readonly PropertyKey[];
  /** The schema's message. */
  readonly message: string;
}

/**
 * An event was rejected before it was queued: one field broke one rule (for
 * a tracking plan's schema, `issues` lists everything it found).
 */
export class EventValidationError extends IdemtrackError {
  /** Path of the offending field, e.g. `name`, `properties.$plan`, `attachments[0].url`. */
  readonly field: string;
  /** Short machine-readable rule id, e.g. `required`, `reserved`, `maxBytes`. */
  readonly rule: string;
  /** What the field allows. */
  readonly allowed: string;
  /** The schema's issues when a tracking plan refused the event (rule `schema`); else empty. */
  readonly issues: readonly ValidationIssue[];

  /**
   * Creates the error for `field`, which broke `rule`: `problem` says how, `allowed` what it
   * allows, `issues` what a schema found.
   */
  constructor(
    field: string,
    rule: string,
    problem: string,
    allowed: string,
    issues: readonly ValidationIssue[] = [],
  ) {
    super(`Cannot accept event as '${field}' ${problem}: allowed is ${allowed}`);
    this.name = "EventValidationError";
    this.field = field;
    this.rule = rule;
    this.allowed = allowed;
    this.issues = issues;
  }
}

/** Name-based guard for {@linkcode EventValidationError}. */
export const isEventValidationError: (error: unknown) => error is EventValidationError = guardFor(
  "EventValidationError",
  EventValidationError,
);
