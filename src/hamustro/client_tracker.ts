import { optionChecks, optionKeys, rejectUnknownOptions } from "../_util/checks.ts";
import type { Clock } from "../ports/clock.ts";
import { systemClock } from "../ports/clock.ts";
import { ClientClosedError } from "../errors/client_closed_error.ts";
import { EventValidationError } from "../errors/event_validation_error.ts";
import type { IdemtrackError } from "../errors/idemtrack_error.ts";
import { StorageError } from "../errors/storage_error.ts";
import { checkEncodedSize, type JsonValue } from "../event.ts";
import { MemoryStorage } from "../drivers/storage/memory_storage.ts";
import { fetchTransport } from "../drivers/transport/fetch_transport.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { DEFAULT_PIPELINE_OPTIONS } from "../pipeline/options.ts";
import type { CloseSummary, DeliveryResult, PipelineStats } from "../pipeline/types.ts";
import type { Storage } from "../ports/storage.ts";
import type { Transport } from "../ports/transport.ts";
import { type CollectionFields, encodePayload, type PayloadFields } from "./codec.ts";
import { encodePayloadJson } from "./json_codec.ts";
import {
  DEFAULT_HAMUSTRO_PROFILE_OPTIONS,
  hamustroProfile,
  type HamustroTrackerAttributes,
} from "./profile.ts";
import { restoringProfile } from "./_restoring_profile.ts";
import {
  collectionToJson,
  countFromJson,
  OPTIONAL_COLLECTION_FIELDS,
  TRACKER_KEYS,
  type TrackerUser,
  userFromJson,
} from "./_tracker_state.ts";

import { currentTimezone, deviceCountry, deviceIpv4 } from "./device.ts";
import { perEventReader, type PerEventValue } from "./_per_event.ts";

export type { TrackerUser } from "./_tracker_state.ts";
export type { PerEventValue } from "./_per_event.ts";

/** How often the device's time zone is looked up again, ms. */
const TIMEZONE_REFRESH_MS = 1_000;
/** How often the device's address and country are looked up again, ms. */
const DEVICE_REFRESH_MS = 60_000;

/** Options of {@linkcode ClientTracker}: the seed's attributes plus delivery settings. */
export interface ClientTrackerOptions extends HamustroTrackerAttributes {
  /** Send when this many payloads are unsent. @default {20} */
  queueSize?: number;
  /** Send when the last successful sync is older than this many **minutes**. @default {1440} */
  queueRetention?: number;
  /** Where the queue, `nr` counters, last sync time and user persist. @default {new MemoryStorage()} */
  storage?: Storage;
  /** How requests are sent. @default {fetchTransport()} */
  transport?: Transport;
  /** Time and timers (inject in tests). @default {systemClock} */
  clock?: Clock;
  /** Extra request headers (see {@linkcode ClientTracker.setHeaders}). @default {{}} */
  headers?: Record<string, string>;
  /**
   * `timezone` of payloads: a fixed value, a function asked per event, or
   * `false` to leave it out.
   * @default {the device's current zone ({@linkcode currentTimezone}), looked up again each second}
   */
  timezone?: PerEventValue;
  /**
   * `ip` of payloads (the seed: "actual IPv4 address"): a fixed value, a
   * function asked per event, or `false` to leave it out (then the collector
   * fills it in from the request's proxy headers).
   * @default {the device's IPv4 address ({@linkcode deviceIpv4}), looked up again each minute}
   */
  ip?: PerEventValue;
  /**
   * `country` of payloads: a fixed value, a function asked per event, or
   * `false` to leave it out.
   * @default {the country of the device's locale ({@linkcode deviceCountry}), looked up again each minute}
   */
  country?: PerEventValue;
  /**
   * Retries of a batch before its payloads are reported failed. The seed keeps
   * payloads until a 200, so there is no limit by default.
   * @default {Infinity}
   */
  maxRetries?: number;
  /** Statuses after which payloads are failed (reported) instead of kept. @default {[]} */
  permanentStatuses?: readonly number[];
  /** Most payloads held (queued and in flight); more throw `QueueFullError`. @default {100000} */
  maxQueueSize?: number;
  /** Requests in flight at once. @default {2} */
  concurrency?: number;
  /** Per-request timeout, milliseconds. @default {10000} */
  timeoutMs?: number;
  /** Called with every `DeliveryError` and `StorageError`. @default {undefined} */
  onError?: (error: IdemtrackError) => void;
  /** Try to deliver when the process is about to exit. @default {true} */
  exitHook?: boolean;
}

/** Defaults of {@linkcode ClientTrackerOptions}. */
export const DEFAULT_CLIENT_TRACKER_OPTIONS: Readonly<
  Required<
    Pick<
      ClientTrackerOptions,
      | "format"
      | "queueSize"
      | "queueRetention"
      | "headers"
      | "maxRetries"
      | "permanentStatuses"
      | "maxQueueSize"
      | "concurrency"
      | "timeoutMs"
      | "exitHook"
    >
  >
> = Object.freeze({
  format: DEFAULT_HAMUSTRO_PROFILE_OPTIONS.format,
  queueSize: 20,
  queueRetention: 1440,
  headers: Object.freeze({}) as Readonly<Record<string, string>>,
  maxRetries: Infinity,
  permanentStatuses: Object.freeze([]) as readonly number[],
  maxQueueSize: DEFAULT_PIPELINE_OPTIONS.maxQueueSize,
  concurrency: DEFAULT_PIPELINE_OPTIONS.concurrency,
  timeoutMs: DEFAULT_PIPELINE_OPTIONS.timeoutMs,
  exitHook: DEFAULT_PIPELINE_OPTIONS.exitHook,
});

/** Counters of a tracker: the delivery counters plus its session state. */
export interface ClientTrackerStats extends PipelineStats {
  /** This tracker's session id. */
  session: string;
  /** Last `nr` handed out in this session. */
  nr: number;
  /** Epoch milliseconds of the last 200 (or of the first start); undefined before `ready`. */
  lastSyncTime: number | undefined;
}

/** Parameters of an event: strings as-is, other JSON values sent as JSON text. */
export type EventParams = Readonly<Record<string, JsonValue>>;

interface EarlyEvent {
  readonly event: string;
  readonly params: EventParams | undefined;
  readonly atMs: number;
}

function checkParams(params: EventParams | undefined): void {
  if (params === undefined) return;
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new EventValidationError(
      "params",
      "type",
      `is ${Array.isArray(params) ? "an array" : String(params)}`,
      "an object of string values",
    );
  }
  for (const name in params) {
    const value = params[name];
    if (typeof value === "string") continue;
    const kind = typeof value;
    if (kind === "undefined" || kind === "function" || kind === "symbol" || kind === "bigint") {
      throw new EventValidationError(
        `params.${name}`,
        "type",
        `is a ${kind}`,
        "a string (other JSON values are sent as JSON text)",
      );
    }
  }
}

// Every key of ClientTrackerOptions, so that one the tracker does not know is refused rather than
// ignored.
const CLIENT_TRACKER_OPTION_KEYS = optionKeys<ClientTrackerOptions>()([
  "collectorUrl",
  "sharedSecretKey",
  "deviceId",
  "clientId",
  "systemVersion",
  "productVersion",
  "env",
  ...OPTIONAL_COLLECTION_FIELDS,
  "format",
  "headers",
  "timezone",
  "clock",
  "queueSize",
  "queueRetention",
  "storage",
  "transport",
  "ip",
  "country",
  "maxRetries",
  "permanentStatuses",
  "maxQueueSize",
  "concurrency",
  "timeoutMs",
  "onError",
  "exitHook",
]);

/**
 * The Hamustro client of the fifth seed, built on the common delivery
 * {@linkcode Pipeline} (queue, storage, retries) with the
 * {@linkcode hamustroProfile} (encoding, framing, signing).
 *
 * - **Start**: the constructor opens the storage; {@linkcode ClientTracker.ready}
 *   resolves once the seed's loaders ran (`loadCollections`,
 *   `loadNumberPerSession`, `loadLastSyncTime`, `loadUser`). Unsent events of
 *   earlier runs go out at once, each session in its own Collections. Events
 *   tracked before then wait in memory and are numbered when it resolves.
 * - **nr**: serial per session, from 1, kept in the storage key-value area.
 *   The counter is written to storage *before* its event's record (storage
 *   applies changes in order), so after any crash the stored counter is at
 *   least the `nr` of every stored or sent event: numbers are never reused;
 *   a crash can only leave a gap.
 * - **Sending**: on `trackEvent`, when unsent payloads ≥ `queueSize` or the
 *   last sync is older than `queueRetention` minutes (the first start counts
 *   as a sync). Payloads in flight are deleted only after a 200; any other
 *   answer keeps them (retried with backoff, without limit by default). A 200
 *   stores the last sync time.
 *
 * @example Usage
 * ```ts
 * import { ClientTracker } from "./client_tracker.ts";
 * import assert from "node:assert/strict";
 *
 * const bodySizes: number[] = [];
 * await using tracker = new ClientTracker({
 *   collectorUrl: "http://127.0.0.1:8080",
 *   sharedSecretKey: "s3cret",
 *   deviceId: "device-1",
 *   clientId: "ios-app",
 *   systemVersion: "17.1",
 *   productVersion: "2.3.0",
 *   env: "PRODUCTION",
 *   transport: (request) => {
 *     bodySizes.push(request.body.length);
 *     return Promise.resolve({ status: 200, headers: new Headers(), body: "" });
 *   },
 *   exitHook: false,
 * });
 * await tracker.ready;
 * tracker.setUser("acme", "u1");
 * tracker.trackEvent("App.Open", { screen: "home" });
 * const result = await tracker.flush();
 * assert.equal(result.success, 1);
 * assert.equal(tracker.stats().nr, 1);
 * assert.equal(bodySizes.length, 1);
 * ```
 */
export class ClientTracker {
  /** This tracker's session: `md5hex(sha256hex(deviceId):clientId:systemVersion:productVersion:env)`. */
  readonly session: string;
  /** Resolves once storage is open and the loaders ran; rejects with a `StorageError` if it cannot open. */
  readonly ready: Promise<void>;

  readonly #pipeline: Pipeline;
  readonly #profile: ReturnType<typeof hamustroProfile>;
  readonly #storage: Storage;
  readonly #clock: Clock;
  readonly #encode: (payload: PayloadFields) => Uint8Array;
  readonly #maxEventBytes: number;
  readonly #queueSize: number;
  readonly #retentionMs: number;
  readonly #timezone: () => string | undefined;
  readonly #ip: () => string | undefined;
  readonly #country: () => string | undefined;
  readonly #nrKey: string;
  readonly #restoreCollections: () => void;
  readonly #onError: ((error: IdemtrackError) => void) | undefined;

  #opened = false;
  #openError: IdemtrackError | undefined;
  #early: EarlyEvent[] = [];
  #nr = 0;
  #user: TrackerUser = {};
  #userSet = false;
  #lastSyncTime: number | undefined;
  #sending = false;
  #closed = false;

  /**
   * Creates a tracker and opens its storage in the background ({@linkcode ClientTracker.ready}).
   *
   * @throws {TypeError | RangeError} when an option is invalid, naming it.
   */
  constructor(options: ClientTrackerOptions) {
    rejectUnknownOptions("create the tracker", options, CLIENT_TRACKER_OPTION_KEYS);
    const d = DEFAULT_CLIENT_TRACKER_OPTIONS;
    const {
      format = d.format,
      queueSize = d.queueSize,
      queueRetention = d.queueRetention,
      storage = new MemoryStorage(),
      transport = fetchTransport(),
      clock = systemClock,
      headers = d.headers,
      timezone,
      ip,
      country,
      maxRetries = d.maxRetries,
      permanentStatuses = d.permanentStatuses,
      maxQueueSize = d.maxQueueSize,
      concurrency = d.concurrency,
      timeoutMs = d.timeoutMs,
      onError,
      exitHook = d.exitHook,
      ...attributes
    } = options;
    optionChecks("create the tracker").positiveInteger("queueSize", queueSize);
    if (typeof queueRetention !== "number" || !(queueRetention >= 0)) {
      throw new RangeError(
        `Cannot create the tracker as 'queueRetention' must be a non-negative number of minutes: current value is ${queueRetention}`,
      );
    }
    this.#profile = hamustroProfile({
      ...attributes,
      format,
      headers: { ...headers },
      permanentStatuses,
      clock,
    });
    this.session = this.#profile.session;
    const restoring = restoringProfile(this.#profile, () => this.#pipeline);
    this.#restoreCollections = restoring.restore;
    this.#pipeline = new Pipeline({
      profile: restoring.profile,
      storage,
      transport,
      clock,
      flushAt: Infinity,
      flushIntervalMs: 0,
      maxQueueSize,
      concurrency,
      timeoutMs,
      retry: { maxRetries, maxTotalBackoffMs: Infinity },
      exitHook,
      hooks: {
        afterResponse: [({ response }) => {
          if (response.status === 200) this.#synced();
        }],
        ...(onError && { error: [onError] }),
      },
    });
    this.#storage = storage;
    this.#clock = clock;
    this.#encode = format === "json" ? encodePayloadJson : encodePayload;
    this.#maxEventBytes = this.#profile.limits.maxEventBytes;
    this.#queueSize = queueSize;
    this.#retentionMs = queueRetention * 60_000;
    const now = () => clock.now();
    this.#timezone = perEventReader(timezone, currentTimezone, TIMEZONE_REFRESH_MS, now);
    this.#ip = perEventReader(ip, deviceIpv4, DEVICE_REFRESH_MS, now);
    this.#country = perEventReader(country, deviceCountry, DEVICE_REFRESH_MS, now);
    this.#nrKey = TRACKER_KEYS.nrPrefix + this.session;
    this.#onError = onError;
    this.ready = this.#open();
    this.ready.catch(() => {}); // reported through onError; awaiting `ready` still rejects
  }

  /** Resolves once storage is open and the loaders ran (the same promise as {@linkcode ClientTracker.ready}). */
  open(): Promise<void> {
    return this.ready;
  }

  async #open(): Promise<void> {
    try {
      await this.#pipeline.open();
    } catch (error) {
      this.#openError = error as IdemtrackError;
      throw error;
    }
    this.loadCollections();
    this.loadNumberPerSession();
    this.loadLastSyncTime();
    this.loadUser();
    this.#opened = true;
    const early = this.#early;
    this.#early = [];
    for (const { event, params, atMs } of early) {
      try {
        this.#add(event, params, atMs);
      } catch (error) {
        // Validated when tracked; only the queue bound can refuse it now: reported, not silent.
        this.#onError?.(error as IdemtrackError);
      }
    }
    if (early.length > 0) this.#maybeSend(this.#clock.now());
  }

  /**
   * Registers the Collection fields of every session with events in storage
   * (so they are sent under their own session) and stores this session's.
   * Runs on start; returns the sessions known, by id.
   */
  loadCollections(): Record<string, CollectionFields> {
    this.#restoreCollections();
    const stored = this.#pipeline.getValue(TRACKER_KEYS.collections);
    const all: Record<string, CollectionFields> = {};
    if (typeof stored === "object" && stored !== null && !Array.isArray(stored)) {
      for (const session of Object.keys(stored)) {
        all[session] = stored[session] as unknown as CollectionFields;
      }
    }
    if (all[this.session] === undefined) {
      const current = collectionToJson(this.#profile.collection);
      const next = {
        ...(stored as Record<string, JsonValue> | undefined),
        [this.session]: current,
      };
      this.#pipeline.setValue(TRACKER_KEYS.collections, next);
      all[this.session] = this.#profile.collection;
    }
    return all;
  }

  /** Restores this session's `nr` counter; returns the last `nr` handed out (0 for a new session). */
  loadNumberPerSession(): number {
    const stored = countFromJson(this.#pipeline.getValue(this.#nrKey)) ?? 0;
    this.#nr = Math.max(this.#nr, stored);
    return this.#nr;
  }

  /** Restores the last sync time (epoch ms); a first start stores the current time. */
  loadLastSyncTime(): number {
    let last = countFromJson(this.#pipeline.getValue(TRACKER_KEYS.lastSyncTime));
    if (last === undefined) {
      last = this.#clock.now();
      this.#pipeline.setValue(TRACKER_KEYS.lastSyncTime, last);
    }
    this.#lastSyncTime = last;
    return last;
  }

  /** Restores the stored user, unless `setUser` was called since the start. */
  loadUser(): TrackerUser {
    if (!this.#userSet) this.#user = userFromJson(this.#pipeline.getValue(TRACKER_KEYS.user));
    return { ...this.#user };
  }

  /** Replaces the extra request headers; `Content-Type` and the `X-Hamustro-*` headers stay the tracker's. */
  setHeaders(headers: Record<string, string>): void {
    this.#profile.setHeaders(headers);
  }

  /** Sets (and persists) the tenant and user of the events tracked from now on; empty or undefined clears. */
  setUser(tenantId: string | undefined, userId: string | undefined): void {
    for (const [name, value] of [["tenantId", tenantId], ["userId", userId]] as const) {
      if (value !== undefined && typeof value !== "string") {
        throw new TypeError(
          `Cannot set the user as '${name}' must be a string or undefined: current value is ${typeof value}`,
        );
      }
    }
    this.#user = {};
    if (tenantId) this.#user.tenantId = tenantId;
    if (userId) this.#user.userId = userId;
    this.#userSet = true;
    this.#pipeline.setValue(TRACKER_KEYS.user, { ...this.#user });
  }

  /**
   * Queues an event with `at`, `nr`, user, `timezone`, `ip` and `country`
   * filled in; synchronous and cheap. May start a send (see the class notes).
   *
   * @throws {EventValidationError} naming the bad field (nothing else is lost).
   * @throws {QueueFullError} at `maxQueueSize`.
   * @throws {ClientClosedError} after `close()`.
   * @throws {StorageError} when the storage could not be opened.
   */
  trackEvent(event: string, params?: EventParams): void {
    if (this.#closed) throw new ClientClosedError("track the event");
    if (this.#openError !== undefined) throw this.#openError;
    if (typeof event !== "string" || event.length === 0) {
      throw new EventValidationError(
        "event",
        "required",
        `is ${JSON.stringify(event) ?? String(event)}`,
        "a non-empty string",
      );
    }
    checkParams(params);
    const atMs = this.#clock.now();
    if (!this.#opened) {
      this.#early.push({ event, params, atMs });
      return;
    }
    this.#add(event, params, atMs);
    this.#maybeSend(atMs);
  }

  #add(event: string, params: EventParams | undefined, atMs: number): void {
    const nr = this.#nr + 1;
    const payload: PayloadFields = { at: Math.floor(atMs / 1000), event, nr };
    if (params !== undefined) payload.parameters = params;
    const timezone = this.#timezone();
    if (timezone) payload.timezone = timezone;
    const user = this.#user;
    if (user.tenantId) payload.tenantId = user.tenantId;
    if (user.userId) payload.userId = user.userId;
    const ip = this.#ip();
    if (ip) payload.ip = ip;
    const country = this.#country();
    if (country) payload.country = country;
    const data = this.#encode(payload);
    checkEncodedSize(data, this.#maxEventBytes);
    // The counter goes to storage before the record (the pipeline journals records later in
    // the tick), so a crash never leaves a stored or sent event above the stored counter.
    this.#nr = nr;
    this.#pipeline.setValue(this.#nrKey, nr);
    this.#pipeline.enqueue(
      { data, group: "payload", stream: this.session },
      `${this.session}:${nr}`,
    );
  }

  #maybeSend(now: number): void {
    if (this.#sending) return;
    const stale = now - (this.#lastSyncTime ?? now) > this.#retentionMs;
    if (this.#pipeline.unsent >= this.#queueSize || stale) this.#startSend();
  }

  #startSend(): void {
    this.#sending = true;
    // flush() reports failures through hooks.error and does not reject once open.
    const done = () => {
      this.#sending = false;
    };
    this.#pipeline.flush().then(done, done);
  }

  #synced(): void {
    const now = this.#clock.now();
    this.#lastSyncTime = now;
    this.#pipeline.setValue(TRACKER_KEYS.lastSyncTime, now);
  }

  /**
   * Sends every unsent payload now and resolves once each is delivered (or
   * failed for good, with `maxRetries` or `permanentStatuses` set).
   */
  async flush(): Promise<DeliveryResult> {
    await this.ready;
    return await this.#pipeline.flush();
  }

  /**
   * Resolves once every event tracked before the call is durable in storage
   * (for `FileStorage`: survives a kill -9).
   *
   * @throws {StorageError} when a write failed.
   */
  async sync(): Promise<void> {
    await this.ready;
    // The pipeline hands records to storage in a microtask queued by trackEvent; let it run
    // first (a later microtask, so no timer and no real time).
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    try {
      await this.#storage.sync();
    } catch (cause) {
      throw cause instanceof StorageError
        ? cause
        : new StorageError(this.#storage.name, "sync failed", { cause });
    }
  }

  /**
   * Refuses new events, drains what is queued, closes the storage and
   * resolves with a summary. With the default unlimited retries a dead
   * collector keeps it waiting: pass `timeoutMs` (what is left stays in
   * durable storage and is reported as `pending`).
   */
  async close(options: { timeoutMs?: number } = {}): Promise<CloseSummary> {
    this.#closed = true;
    try {
      await this.ready;
    } catch {
      // Reported; the pipeline closes what it can.
    }
    return await this.#pipeline.close(options);
  }

  /** `await using tracker = new ClientTracker(…)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Delivery counters with the session, its last `nr` and the last sync time. */
  stats(): ClientTrackerStats {
    return {
      ...this.#pipeline.stats(),
      session: this.session,
      nr: this.#nr,
      lastSyncTime: this.#lastSyncTime,
    };
  }
}
