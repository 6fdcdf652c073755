/**
 * Tracking plans: event name → a schema in the Standard Schema form (Zod,
 * Valibot, ArkType…), checked synchronously in `track()` and, through the
 * client's type parameter, at compile time.
 *
 * @module
 */
import type { JsonObject } from "../event.ts";
import { EventValidationError, type ValidationIssue } from "../errors/event_validation_error.ts";
import type {
  InferSchemaInput,
  StandardSchemaIssue,
  StandardSchemaResult,
  StandardSchemaV1,
} from "./standard_schema.ts";

/** Event name → the schema of its properties. */
export type TrackingPlan = Readonly<Record<string, StandardSchemaV1>>;

/** What happens to an event whose name the plan does not list. */
export type UnplannedPolicy = "allow" | "warn" | "reject";

/** The properties `track(name, …)` takes under a plan: the schema's input type, else any JSON object. */
export type PlannedProperties<Plan, Name extends string> = Name extends keyof Plan
  ? Plan[Name] extends StandardSchemaV1 ? InferSchemaInput<Plan[Name]> : JsonObject
  : JsonObject;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function asyncSchemaMessage(name: string): string {
  return `the tracking plan's schema for '${name}' validates asynchronously`;
}

function issuesOf(issues: ReadonlyArray<StandardSchemaIssue>): ValidationIssue[] {
  return issues.map(({ message, path = [] }) => ({
    message,
    path: path.map((segment) => typeof segment === "object" ? segment.key : segment),
  }));
}

/** Checks events' properties against a plan. */
export class PlanChecker {
  readonly #plan: TrackingPlan;
  readonly #unplanned: UnplannedPolicy;
  readonly #warn: (error: EventValidationError) => void;
  readonly #asynchronous = new Set<string>();

  /**
   * Checks the plan: every entry must be a Standard Schema, and one that
   * answers a probe with a promise is refused now (`track()` is synchronous).
   *
   * @throws {TypeError} naming the event whose schema is not a synchronous Standard Schema.
   */
  constructor(
    plan: TrackingPlan,
    unplanned: UnplannedPolicy,
    warn: (error: EventValidationError) => void,
  ) {
    if (typeof plan !== "object" || plan === null) {
      throw new TypeError(
        `Cannot create client as 'plan' must be an object of event name to schema: current value is ${plan}`,
      );
    }
    if (!["allow", "warn", "reject"].includes(unplanned)) {
      throw new TypeError(
        `Cannot create client as 'unplanned' must be "allow", "warn" or "reject": current value is ${
          JSON.stringify(unplanned)
        }`,
      );
    }
    for (const [name, schema] of Object.entries(plan)) {
      const standard = (schema as Partial<StandardSchemaV1> | null)?.["~standard"];
      if (standard?.version !== 1 || typeof standard.validate !== "function") {
        throw new TypeError(
          `Cannot create client as 'plan["${name}"]' must be a Standard Schema (version 1, with validate): current value is ${typeof schema}`,
        );
      }
      let probe: unknown;
      try {
        probe = standard.validate({});
      } catch {
        continue; // A schema that throws on a probe is judged at first use.
      }
      if (isThenable(probe)) {
        probe.then(undefined, () => {});
        throw new TypeError(
          `Cannot create client as ${
            asyncSchemaMessage(name)
          }: track() is synchronous, so plans take synchronous schemas only`,
        );
      }
    }
    this.#plan = plan;
    this.#unplanned = unplanned;
    this.#warn = warn;
  }

  /**
   * The properties to send: the schema's output for a planned name, the
   * given ones for an unplanned name under `allow`/`warn`.
   *
   * @throws {EventValidationError} with rule `schema` (and the issues), `unplanned` or `async`.
   */
  check(
    name: string,
    properties: JsonObject | undefined,
    planOnly: boolean,
  ): JsonObject | undefined {
    const schema = Object.hasOwn(this.#plan, name) ? this.#plan[name] : undefined;
    if (schema === undefined) {
      if (planOnly || this.#unplanned === "allow") return properties;
      const error = new EventValidationError(
        "name",
        "unplanned",
        `'${name}' is not in the tracking plan`,
        "the plan's event names",
      );
      if (this.#unplanned === "reject") throw error;
      this.#warn(error);
      return properties;
    }
    if (this.#asynchronous.has(name)) throw this.#asyncError(name);
    const result = schema["~standard"].validate(properties ?? {});
    if (isThenable(result)) {
      result.then(undefined, () => {});
      this.#asynchronous.add(name);
      throw this.#asyncError(name);
    }
    const { issues } = result as StandardSchemaResult<unknown>;
    if (issues !== undefined) {
      const list = issuesOf(issues);
      const first = list[0];
      const where = first === undefined || first.path.length === 0
        ? "properties"
        : `properties.${first.path.map(String).join(".")}`;
      throw new EventValidationError(
        where,
        "schema",
        `breaks the tracking plan for '${name}' (${first?.message ?? "invalid"}${
          list.length > 1 ? `, and ${list.length - 1} more` : ""
        })`,
        "what the plan's schema accepts",
        list,
      );
    }
    return (result as { value: JsonObject }).value;
  }

  #asyncError(name: string): EventValidationError {
    return new EventValidationError(
      "properties",
      "async",
      `cannot be checked as ${asyncSchemaMessage(name)}`,
      "a synchronous schema (track() is synchronous)",
    );
  }
}
