import { optionKeys, rejectUnknownOptions } from "./_util/checks.ts";
import type { IdemtrackError } from "./errors/idemtrack_error.ts";
import { createEvent, type EventInput, type EventRules, type JsonObject } from "./event.ts";
import type { IdemtrackEvent } from "./event.ts";
import type { KeyPolicy } from "./idempotency_key.ts";
import { MemoryStorage } from "./drivers/storage/memory_storage.ts";
import { fetchTransport } from "./drivers/transport/fetch_transport.ts";
import { Pipeline } from "./pipeline/pipeline.ts";
import { DEFAULT_PIPELINE_OPTIONS, type PipelineOptions } from "./pipeline/options.ts";
import type {
  CloseSummary,
  DeliveryResult,
  FailedRecord,
  PipelineStats,
} from "./pipeline/types.ts";
import type { Profile } from "./ports/profile.ts";
import type { Storage } from "./ports/storage.ts";
import type { Transport } from "./ports/transport.ts";
import { jsonProfile } from "./profiles/json/profile.ts";
// Event controls (middleware, tracking plan, consent, sampling): see docs/controls.md.
import {
  type ControlsOptions,
  type ControlsStats,
  EventControls,
  type FilterState,
} from "./controls/controls.ts";
import type { ConsentState } from "./controls/consent.ts";
import type { Middleware } from "./controls/middleware.ts";
import type { PlannedProperties, TrackingPlan } from "./controls/plan.ts";
import type { PipelineHooks } from "./pipeline/types.ts";

/**
 * Options of {@linkcode Client}: the pipeline's options (batching, queue
 * bounds, retries, timeouts, drivers, hooks), plus the default profile's
 * endpoint and the event rules.
 */
export interface ClientOptions<Plan extends TrackingPlan = TrackingPlan>
  extends
    Omit<PipelineOptions, "profile" | "storage" | "transport" | "hooks">,
    ControlsOptions<Plan> {
  /** Where the queue is journaled. @default {new MemoryStorage()} */
  storage?: Storage;
  /** How requests are sent. @default {fetchTransport()} */
  transport?: Transport;
  /** Collector URL for the default JSON profile; a bare origin gets `/v1/events/batch`. Required unless `profile` is given. @default {undefined} */
  endpoint?: string;
  /** Extra headers on every request (JSON profile). @default {{}} */
  headers?: Record<string, string>;
  /** Sent as `Authorization: Bearer <token>` (JSON profile). @default {undefined} */
  token?: string;
  /** Wire format; overrides `endpoint`, `headers` and `token`. @default {jsonProfile({ endpoint, headers, token })} */
  profile?: Profile;
  /** Policy for event idempotency keys given by callers. @default {profile.keyPolicy} */
  keyPolicy?: KeyPolicy;
  /**
   * Called with every `DeliveryError` and `StorageError`, and the tracking plan's `unplanned: "warn"`
   * reports (shorthand for `hooks.error`). @default {undefined}
   */
  onError?: (error: IdemtrackError) => void;
  /** Extension points: the engine's, plus `filter` for events the controls drop. @default {{}} */
  hooks?: ClientHooks;
}

// The controls' options: their presence sets the controls up at once.
const CONTROL_OPTIONS = [
  "middleware",
  "plan",
  "unplanned",
  "consent",
  "maxHeldEvents",
  "disabled",
  "dropIp",
  "dropUserId",
  "sampling",
] as const satisfies readonly (keyof ControlsOptions)[];

// Every key of ClientOptions, so that one the client does not know is refused rather than ignored.
const CLIENT_OPTION_KEYS = optionKeys<ClientOptions>()([
  "storage",
  "transport",
  "endpoint",
  "headers",
  "token",
  "profile",
  "keyPolicy",
  "onError",
  "hooks",
  "clock",
  "flushAt",
  "flushIntervalMs",
  "maxBatchBytes",
  "maxBatchEvents",
  "maxItemsPerGroup",
  "maxEventBytes",
  "maxQueueSize",
  "maxQueueBytes",
  "overflow",
  "retry",
  "timeoutMs",
  "concurrency",
  "rateLimit",
  "compression",
  "waitUntil",
  "exitHook",
  "exitTimeoutMs",
  ...CONTROL_OPTIONS,
]);

/** The client's hooks: the engine's ({@linkcode PipelineHooks}) and the controls' `filter`. */
export interface ClientHooks extends PipelineHooks {
  /** Events the controls dropped (middleware, sampling, consent, `disabled`), with the reason. */
  filter?: Array<(state: FilterState) => void>;
}

/** Every default of {@linkcode ClientOptions} that does not come from the profile. */
export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  headers: Object.freeze({}) as Readonly<Record<string, string>>,
  ...DEFAULT_PIPELINE_OPTIONS,
});

/** Per-call fields of `track`, `identify` and `alias`. */
export type TrackOptions = Omit<EventInput, "type" | "name" | "properties">;

/** Counters of a client: the engine's ({@linkcode PipelineStats}) and the controls'. */
export interface ClientStats extends PipelineStats, ControlsStats {}

const NO_CONTROLS_STATS: ControlsStats = Object.freeze({
  filtered: 0,
  sampledOut: 0,
  consentHeld: 0,
  consentDropped: 0,
});

/**
 * Sends product events exactly once: `track()` validates, encodes and queues
 * synchronously; batches go out in the background (at `flushAt` events or
 * after `flushIntervalMs`), each with a fixed `X-Idempotency-Key`, retried
 * with full-jitter backoff, split on 413, and read per record.
 *
 * @example Usage
 * ```ts
 * import { Client } from "./client.ts";
 * import assert from "node:assert/strict";
 *
 * const bodies: string[] = [];
 * await using client = new Client({
 *   endpoint: "https://collect.example.com",
 *   transport: (request) => {
 *     bodies.push(new TextDecoder().decode(request.body));
 *     return Promise.resolve({ status: 200, headers: new Headers(), body: "{}" });
 *   },
 *   exitHook: false,
 * });
 * client.track("order_paid", { total: 42 }, { userId: "u1" });
 * client.identify("u1", { plan: "pro" });
 * const result = await client.flush();
 * assert.equal(result.status, "success");
 * assert.equal(result.success, 2);
 * assert.equal(JSON.parse(bodies[0]!).events[1].type, "identify");
 * ```
 */
export class Client<Plan extends TrackingPlan = Record<never, never>> {
  readonly #pipeline: Pipeline;
  readonly #rules: EventRules;
  /** Undefined until a control is configured: `track()` then costs what it does without them. */
  #controls: EventControls | undefined;
  readonly #controlsOptions: ControlsOptions;
  readonly #filterHooks: Array<(state: FilterState) => void>;
  readonly #errorHooks: Array<(error: IdemtrackError) => void>;

  /**
   * Creates a client and opens its storage in the background (restoring what a previous run left).
   *
   * @throws {TypeError | RangeError} when an option is invalid, naming it.
   */
  constructor(options: ClientOptions<Plan>) {
    rejectUnknownOptions("create client", options, CLIENT_OPTION_KEYS);
    const d = DEFAULT_CLIENT_OPTIONS;
    const {
      endpoint,
      headers = d.headers,
      token,
      profile = endpoint === undefined ? undefined : jsonProfile({ endpoint, headers, token }),
      keyPolicy,
      clock,
      onError,
      hooks = {},
      storage = new MemoryStorage(),
      transport = fetchTransport(),
      ...rest
    } = options;
    if (profile === undefined) {
      throw new TypeError(
        "Cannot create client as 'endpoint' must be a URL when no 'profile' is given: current value is undefined",
      );
    }
    this.#errorHooks = onError === undefined
      ? hooks.error ?? []
      : [...(hooks.error ?? []), onError];
    this.#pipeline = new Pipeline({
      ...rest,
      profile,
      storage,
      transport,
      ...(clock && { clock }),
      hooks: onError === undefined ? hooks : { ...hooks, error: this.#errorHooks },
    });
    const now = clock === undefined ? Date.now : () => clock.now();
    this.#rules = {
      keyPolicy: keyPolicy ?? profile.keyPolicy,
      now,
    };
    // What a durable store kept (an earlier process, the last visit of a page) goes out now, not
    // at the next track(); a store that cannot open is reported now (hooks.error).
    this.#pipeline.open().catch(() => {});
    // Controls.
    this.#filterHooks = hooks.filter ?? [];
    // The engine ignores the controls' options it is handed in `rest`.
    this.#controlsOptions = options;
    if (CONTROL_OPTIONS.some((name) => Object.hasOwn(options, name))) this.#controlsNow();
  }

  /** The controls, built on first need (an option, `use()`, `setConsent()`, `disabled`). */
  #controlsNow(): EventControls {
    if (this.#controls !== undefined) return this.#controls;
    const pipeline = this.#pipeline;
    const errorHooks = this.#errorHooks;
    this.#controls = new EventControls(this.#controlsOptions, {
      create: (input) => createEvent(input, this.#rules),
      enqueue: (event) => pipeline.enqueue(pipeline.profile.encode(event), event.idempotencyKey),
      store: { open: () => pipeline.open(), set: (key, value) => pipeline.setValue(key, value) },
      filterHooks: this.#filterHooks,
      report: (error) => {
        for (const hook of errorHooks) hook(error as IdemtrackError);
      },
    });
    return this.#controls;
  }

  /**
   * Appends an event middleware: run after those before it, on every
   * `track`/`identify`/`alias`, before validation. Returns the client.
   *
   * @example Redacting an e-mail address
   * ```ts
   * import { Client } from "./client.ts";
   * import assert from "node:assert/strict";
   *
   * const client = new Client({
   *   endpoint: "https://collect.example.com",
   *   transport: () => Promise.resolve({ status: 200, headers: new Headers(), body: "{}" }),
   *   exitHook: false,
   * });
   * client.use(function redactEmail(event) {
   *   const { email: _email, ...properties } = event.properties ?? {};
   *   return { ...event, properties };
   * });
   * assert.notEqual(client.track("signed_up", { email: "a@example.com" }, { userId: "u1" }), "");
   * await client.close();
   * ```
   */
  use(middleware: Middleware): this {
    this.#controlsNow().use(middleware);
    return this;
  }

  /**
   * Sets the consent state, kept in storage across restarts: `granted`
   * releases held events in order, `pending` holds new ones, `denied` purges
   * held ones (counted in `consentDropped`, reported to `filter` hooks).
   *
   * @throws {TypeError} for a state other than granted, pending or denied.
   */
  setConsent(state: ConsentState): void {
    this.#controlsNow().setConsent(state);
  }

  /** The consent state in force (`granted` when consent is not configured). */
  get consent(): ConsentState {
    return this.#controls?.consent ?? "granted";
  }

  /** Resolves once the stored consent state is known and applied (held events released or purged). */
  get consentReady(): Promise<void> {
    return this.#controls?.ready ?? Promise.resolve();
  }

  /** When true, every event is dropped (counted in `filtered`, reported to `filter` hooks). */
  get disabled(): boolean {
    return this.#controls?.disabled ?? false;
  }

  set disabled(value: boolean) {
    if (typeof value !== "boolean") {
      throw new TypeError(
        `Cannot set 'disabled' as it must be a boolean: current value is ${value}`,
      );
    }
    this.#controlsNow().disabled = value;
  }

  /**
   * Queues an event and returns its idempotency key. Synchronous: never waits
   * for the network. With a tracking plan, `properties` is typed by the
   * event's schema. Returns `""` when a control (middleware, sampling,
   * consent, `disabled`) dropped the event (counted and reported to
   * `hooks.filter`).
   *
   * @throws {EventValidationError} naming the bad field, or breaking the tracking plan (nothing else is lost).
   * @throws {MiddlewareError} naming the middleware that threw.
   * @throws {IdempotencyKeyError} when a given key breaks the key policy.
   * @throws {QueueFullError} at the queue bound with the `reject` policy.
   * @throws {ClientClosedError} after `close()`.
   */
  track<Name extends string>(
    name: Name,
    properties?: PlannedProperties<Plan, Name>,
    options: TrackOptions = {},
  ): string {
    return this.trackEvent({
      ...options,
      type: "track",
      name,
      properties: properties as JsonObject | undefined,
    });
  }

  /** Records who a user is (traits as properties); returns the event's key. Throws as `track`. */
  identify(userId: string, traits?: JsonObject, options: TrackOptions = {}): string {
    return this.trackEvent({
      ...options,
      type: "identify",
      name: "$identify",
      userId,
      properties: traits,
    });
  }

  /** Merges `previousId` into `userId`; returns the event's key. Throws as `track`. */
  alias(userId: string, previousId: string, options: TrackOptions = {}): string {
    return this.trackEvent({ ...options, type: "alias", name: "$alias", userId, previousId });
  }

  /** Queues a fully described event; returns its key. Throws as `track`. */
  trackEvent(input: EventInput): string {
    if (this.#controls !== undefined) return this.#controls.track(input);
    const event = createEvent(input, this.#rules);
    this.#pipeline.enqueue(this.#pipeline.profile.encode(event), event.idempotencyKey);
    return event.idempotencyKey;
  }

  /**
   * Delivers these events now (SuprSend's bulk API), chunked and
   * retried like the queue but never mixed with it, and resolves with
   * the bulk result. Invalid events do not stop the others: they come back in
   * `failedRecords` with code `invalid`.
   */
  async send(events: readonly EventInput[]): Promise<DeliveryResult> {
    const invalid: FailedRecord[] = [];
    const items: Array<
      { encoded: ReturnType<Profile["encode"]>; key: string; event: IdemtrackEvent }
    > = [];
    for (const input of events) {
      // An event that fails validation or that its profile refuses comes back
      // as an invalid record; the others are still sent.
      let key = input.idempotencyKey ?? "";
      try {
        const event = createEvent(input, this.#rules);
        key = event.idempotencyKey;
        items.push({
          encoded: this.#pipeline.profile.encode(event),
          key: event.idempotencyKey,
          event,
        });
      } catch (error) {
        invalid.push({
          key,
          data: new Uint8Array(0),
          error: (error as Error).message,
          code: "invalid",
        });
      }
    }
    const result = await this.#pipeline.deliver(items);
    if (invalid.length === 0) return result;
    const failure = result.failure + invalid.length;
    return {
      status: result.success === 0 ? "fail" : "partial",
      total: result.total + invalid.length,
      success: result.success,
      failure,
      failedRecords: [...invalid, ...result.failedRecords],
    };
  }

  /**
   * Sends everything queued before the call and resolves, with the bulk
   * result for those events, once each is delivered or failed for good.
   */
  flush(): Promise<DeliveryResult> {
    // With consent configured, events held until the stored state is read are released first.
    const ready = this.#controls?.ready;
    if (ready !== undefined) return ready.then(() => this.#pipeline.flush());
    return this.#pipeline.flush();
  }

  /**
   * Drains everything (including events tracked while it runs), then refuses
   * new events with `ClientClosedError`, closes the storage and resolves with
   * a summary. `timeoutMs` bounds the wait; what is left is reported.
   */
  close(options: { timeoutMs?: number } = {}): Promise<CloseSummary> {
    const ready = this.#controls?.ready;
    if (ready !== undefined) return ready.then(() => this.#pipeline.close(options));
    return this.#pipeline.close(options);
  }

  /** Alias of {@linkcode Client.close}. */
  shutdown(options: { timeoutMs?: number } = {}): Promise<CloseSummary> {
    return this.close(options);
  }

  /** `await using client = new Client(…)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Counters: tracked, queued, inFlight, delivered, duplicates, retried, failed, dropped… */
  stats(): ClientStats {
    return { ...this.#pipeline.stats(), ...(this.#controls?.stats() ?? NO_CONTROLS_STATS) };
  }
}
