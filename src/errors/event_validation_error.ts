import { guardFor, IdemtrackError } from "./idemtrack_error.ts";

/** An event was rejected before it was queued: one field broke one rule. */
export class EventValidationError extends IdemtrackError {
  /** Path of the offending field, e.g. `name`, `properties.$plan`, `attachments[0].url`. */
  readonly field: string;
  /** Short machine-readable rule id, e.g. `required`, `reserved`, `maxBytes`. */
  readonly rule: string;
  /** What the field allows. */
  readonly allowed: string;

  /** Creates the error for `field`, which broke `rule`: `problem` says how, `allowed` what it allows. */
  constructor(field: string, rule: string, problem: string, allowed: string) {
    super(`Cannot accept event as '${field}' ${problem}: allowed is ${allowed}`);
    this.name = "EventValidationError";
    this.field = field;
    this.rule = rule;
    this.allowed = allowed;
  }
}

/** Name-based guard for {@linkcode EventValidationError}. */
export const isEventValidationError: (error: unknown) => error is EventValidationError = guardFor(
  "EventValidationError",
  EventValidationError,
);
