/**
 * The event controls a client applies in `track()`, `identify()` and
 * `alias()` before an event is queued: a disabled switch, consent,
 * middleware, a tracking plan, sampling and anonymization. The facade builds
 * them only when one is configured, so a client without them pays nothing.
 *
 * @module
 */
import type { EventInput, IdemtrackEvent, JsonObject } from "../event.ts";
import type { EventValidationError } from "../errors/event_validation_error.ts";
import { type Middleware, middlewareName, runMiddleware } from "./middleware.ts";
import { PlanChecker, type TrackingPlan, type UnplannedPolicy } from "./plan.ts";
import { checkConsentState, ConsentGate, type ConsentState, type ConsentStore } from "./consent.ts";
import { checkSamplingRates, SAMPLE_RATE_FIELD, type SamplingRates, userHash } from "./sampling.ts";

/** Options of the event controls (part of the client's options). */
export interface ControlsOptions<Plan extends TrackingPlan = TrackingPlan> {
  /** Run in order on every event before validation; see {@linkcode Middleware}. @default {[]} */
  middleware?: Middleware[];
  /** Event name → Standard Schema of its properties, checked in `track()` and at compile time. @default {undefined} */
  plan?: Plan;
  /** Events whose name the plan lacks: sent, sent and reported (`hooks.error`), or refused. @default {"allow"} */
  unplanned?: UnplannedPolicy;
  /**
   * Consent on first run (a state stored by `setConsent()` wins): `pending` holds events,
   * `denied` drops them. `undefined` leaves consent out entirely. @default {undefined}
   */
  consent?: ConsentState;
  /** Most events held while consent is pending; beyond it the oldest are purged. @default {1000} */
  maxHeldEvents?: number;
  /** Drop every event (counted in `filtered`); also `client.disabled = true`. @default {false} */
  disabled?: boolean;
  /** Remove `context.ip` from every event. @default {false} */
  dropIp?: boolean;
  /**
   * Remove the user id from every event (an event left without an id gets the client's random
   * anonymous id); `identify` and `alias` events are dropped (counted in `filtered`). @default {false}
   */
  dropUserId?: boolean;
  /** Event name (or `"*"`) → share of users whose events are kept, by a hash of the user id. @default {undefined} */
  sampling?: SamplingRates;
}

/** Every default of {@linkcode ControlsOptions}. */
export const DEFAULT_CONTROLS_OPTIONS: Readonly<{
  unplanned: UnplannedPolicy;
  maxHeldEvents: number;
  disabled: boolean;
  dropIp: boolean;
  dropUserId: boolean;
}> = Object.freeze({
  unplanned: "allow",
  maxHeldEvents: 1000,
  disabled: false,
  dropIp: false,
  dropUserId: false,
});

/** Why the controls dropped events. */
export type FilterReason =
  | "disabled"
  | "middleware"
  | "anonymous"
  | "sampled"
  | "consentDenied"
  | "consentPurged"
  | "consentOverflow";

/** What a `filter` hook gets: events the controls dropped, and why. */
export interface FilterState {
  /** The dropped events (as given to `track()`, or as held for consent). */
  readonly events: readonly EventInput[];
  /** Why they were dropped. */
  readonly reason: FilterReason;
  /** For `middleware`: the name of the one that dropped them (function name or `#<index>`). */
  readonly middleware?: string;
}

/** Counters of the controls (merged into the client's stats). */
export interface ControlsStats {
  /** Events dropped by middleware, by the `disabled` switch or by `dropUserId` (identify/alias). */
  filtered: number;
  /** Events dropped by sampling. */
  sampledOut: number;
  /** Events held now, waiting for consent. */
  consentHeld: number;
  /** Events dropped for consent: tracked while denied, purged on denial, or beyond `maxHeldEvents`. */
  consentDropped: number;
}

/** What the controls need from the client. */
export interface ControlsContext {
  /** Validates an input into an event (`createEvent` with the client's rules). */
  readonly create: (input: EventInput) => IdemtrackEvent;
  /** Encodes and queues an event. */
  readonly enqueue: (event: IdemtrackEvent) => void;
  /** The storage's key-value area, for consent. */
  readonly store: ConsentStore;
  /** The client's `filter` hooks. */
  readonly filterHooks: ReadonlyArray<(state: FilterState) => void>;
  /** Reports warnings (unplanned events) and consent release failures through `hooks.error`. */
  readonly report: (error: unknown) => void;
}

/** The controls of one client. */
export class EventControls {
  readonly #context: ControlsContext;
  readonly #middleware: Middleware[];
  readonly #plan: PlanChecker | undefined;
  readonly #sampling: SamplingRates | undefined;
  readonly #samplingDefault: number;
  readonly #dropIp: boolean;
  readonly #dropUserId: boolean;
  readonly #maxHeld: number;
  #gate: ConsentGate | undefined;
  #anonymousId: string | undefined;
  disabled: boolean;
  readonly #stats: ControlsStats = {
    filtered: 0,
    sampledOut: 0,
    consentHeld: 0,
    consentDropped: 0,
  };

  /**
   * @throws {TypeError | RangeError} naming the invalid option.
   */
  constructor(options: ControlsOptions, context: ControlsContext) {
    const d = DEFAULT_CONTROLS_OPTIONS;
    const {
      middleware = [],
      plan,
      unplanned = d.unplanned,
      consent,
      maxHeldEvents = d.maxHeldEvents,
      disabled = d.disabled,
      dropIp = d.dropIp,
      dropUserId = d.dropUserId,
      sampling,
    } = options;
    if (!Array.isArray(middleware) || middleware.some((fn) => typeof fn !== "function")) {
      throw new TypeError(
        "Cannot create client as 'middleware' must be an array of functions: current value is not",
      );
    }
    if (!Number.isInteger(maxHeldEvents) || maxHeldEvents < 1) {
      throw new RangeError(
        `Cannot create client as 'maxHeldEvents' must be a positive integer: current value is ${maxHeldEvents}`,
      );
    }
    if (sampling !== undefined) checkSamplingRates(sampling);
    this.#context = context;
    this.#middleware = [...middleware];
    this.#plan = plan === undefined
      ? undefined
      : new PlanChecker(plan, unplanned, (error: EventValidationError) => context.report(error));
    this.#sampling = sampling;
    this.#samplingDefault = sampling?.["*"] ?? 1;
    this.#dropIp = dropIp;
    this.#dropUserId = dropUserId;
    this.#maxHeld = maxHeldEvents;
    this.disabled = disabled;
    if (consent !== undefined) {
      this.#gate = this.#gateFor(checkConsentState(consent, "create client"));
    }
  }

  /** Appends a middleware. */
  use(middleware: Middleware): void {
    if (typeof middleware !== "function") {
      throw new TypeError(
        `Cannot use middleware as it must be a function: current value is ${typeof middleware}`,
      );
    }
    this.#middleware.push(middleware);
  }

  /** The consent state in force (`granted` when consent was never configured). */
  get consent(): ConsentState {
    return this.#gate?.state ?? "granted";
  }

  /** Resolves once the stored consent state is known and applied; undefined without consent. */
  get ready(): Promise<void> | undefined {
    return this.#gate?.ready;
  }

  /** Sets consent (kept in storage): granted releases held events, denied purges them. */
  setConsent(state: ConsentState): void {
    checkConsentState(state, "set consent");
    this.#gate ??= this.#gateFor(state);
    this.#gate.set(state);
  }

  /** A copy of the counters. */
  stats(): ControlsStats {
    return { ...this.#stats, consentHeld: this.#gate?.held ?? 0 };
  }

  /**
   * Applies the controls and queues the event; returns its key, or `""` when a control dropped
   * it (counted and reported through `filter` hooks).
   *
   * @throws {MiddlewareError} when a middleware throws.
   * @throws {EventValidationError} when the plan or the event rules refuse the event.
   */
  track(input: EventInput): string {
    if (this.disabled) return this.#filter(input, "disabled");
    const gate = this.#gate;
    if (gate !== undefined && gate.state === "denied") {
      this.#stats.consentDropped++;
      return this.#report([input], "consentDenied");
    }
    let event = input;
    if (this.#middleware.length > 0) {
      const { event: kept, by } = runMiddleware(this.#middleware, input);
      if (kept === null) {
        return this.#filter(input, "middleware", middlewareName(this.#middleware[by]!, by));
      }
      event = kept;
    }
    if (this.#plan !== undefined) {
      const properties = this.#plan.check(
        event.name,
        event.properties,
        event.type !== undefined && event.type !== "track",
      );
      if (properties !== event.properties) event = { ...event, properties };
    }
    if (this.#sampling !== undefined) {
      const rate = this.#sampling[event.name] ?? this.#samplingDefault;
      if (rate < 1) {
        const id = event.userId ?? event.anonymousId ?? event.context?.externalId;
        if (userHash(typeof id === "string" ? id.trim() : "") >= rate) {
          this.#stats.sampledOut++;
          return this.#report([event], "sampled");
        }
        event = { ...event, context: { ...event.context, [SAMPLE_RATE_FIELD]: rate } };
      }
    }
    if (this.#dropIp || this.#dropUserId) {
      const anonymized = this.#anonymize(event);
      if (anonymized === null) return this.#filter(event, "anonymous");
      event = anonymized;
    }
    const created = this.#context.create(event);
    if (gate !== undefined && gate.holds) gate.hold(created);
    else this.#context.enqueue(created);
    return created.idempotencyKey;
  }

  #anonymize(event: EventInput): EventInput | null {
    const copy = { ...event };
    if (this.#dropIp && copy.context !== undefined && Object.hasOwn(copy.context, "ip")) {
      const { ip: _ip, ...context } = copy.context;
      copy.context = context as JsonObject;
    }
    if (this.#dropUserId) {
      if (copy.type === "identify" || copy.type === "alias") return null;
      delete copy.userId;
      if (copy.anonymousId === undefined && typeof copy.context?.externalId !== "string") {
        copy.anonymousId = this.#anonymousId ??= crypto.randomUUID();
      }
    }
    return copy;
  }

  #gateFor(initial: ConsentState): ConsentGate {
    const context = this.#context;
    return new ConsentGate({
      initial,
      maxHeld: this.#maxHeld,
      store: context.store,
      release: context.enqueue,
      purge: (events, reason) => {
        this.#stats.consentDropped += events.length;
        this.#report(events, reason);
      },
      error: context.report,
    });
  }

  #filter(input: EventInput, reason: FilterReason, middleware?: string): string {
    this.#stats.filtered++;
    return this.#report([input], reason, middleware);
  }

  #report(events: readonly EventInput[], reason: FilterReason, middleware?: string): string {
    const hooks = this.#context.filterHooks;
    if (hooks.length > 0) {
      const state: FilterState = middleware === undefined
        ? { events, reason }
        : { events, reason, middleware };
      for (const hook of hooks) hook(state);
    }
    return "";
  }
}
