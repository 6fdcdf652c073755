import type { Clock } from "./clock.ts";
import type { IdemtrackError } from "./errors/idemtrack_error.ts";
import { createEvent, type EventInput, type EventRules, type JsonObject } from "./event.ts";
import type { IdemtrackEvent } from "./event.ts";
import type { KeyPolicy } from "./idempotency_key.ts";
import {
  type CloseSummary,
  DEFAULT_PIPELINE_OPTIONS,
  type DeliveryResult,
  type FailedRecord,
  type OverflowPolicy,
  Pipeline,
  type PipelineHooks,
  type PipelineStats,
} from "./pipeline.ts";
import type { Profile } from "./profile.ts";
import { jsonProfile } from "./profiles/json.ts";
import { DEFAULT_RETRY_OPTIONS } from "./retry.ts";
import type { Storage } from "./storage.ts";
import type { RateLimit } from "./token_bucket.ts";
import type { Transport } from "./transport.ts";

/** Options of {@linkcode Client}. */
export interface ClientOptions {
  /** Collector URL for the default JSON profile; a bare origin gets `/v1/events/batch`. Required unless `profile` is given. @default {undefined} */
  endpoint?: string;
  /** Extra headers on every request (JSON profile). @default {{}} */
  headers?: Record<string, string>;
  /** Sent as `Authorization: Bearer <token>` (JSON profile). @default {undefined} */
  token?: string;
  /** Wire format; overrides `endpoint`, `headers` and `token`. @default {jsonProfile({ endpoint, headers, token })} */
  profile?: Profile;
  /** Send as soon as this many events are queued. @default {20} */
  flushAt?: number;
  /** Send whatever is queued this long after the first queued event; `0` disables the timer. @default {5000} */
  flushIntervalMs?: number;
  /** Largest request body, bytes; at most the profile's limit. @default {profile.limits.maxBatchBytes (512000)} */
  maxBatchBytes?: number;
  /** Most events per request; at most the profile's limit. @default {profile.limits.maxBatchEvents (2000)} */
  maxBatchEvents?: number;
  /** Most events of one type per request. @default {profile.limits.maxItemsPerGroup (Infinity)} */
  maxItemsPerType?: number;
  /** Most events held (queued and in flight). @default {100000} */
  maxQueueSize?: number;
  /** Most bytes held (queued and in flight). @default {67108864} */
  maxQueueBytes?: number;
  /** At the queue bound: throw `QueueFullError`, or drop (counted, reported to `hooks.drop`). @default {"reject"} */
  overflow?: OverflowPolicy;
  /** Retries of a batch before its events are reported failed. @default {10} */
  maxRetries?: number;
  /** Per-request timeout, milliseconds. @default {10000} */
  timeoutMs?: number;
  /** Requests in flight at once. @default {2} */
  concurrency?: number;
  /** Backoff base: retry `n` waits `random(0, min(cap, base·2^n))` ms. @default {200} */
  backoffBaseMs?: number;
  /** Largest single backoff, milliseconds. @default {30000} */
  backoffCapMs?: number;
  /** Most total waiting between a batch's sends, milliseconds. @default {900000} */
  maxTotalBackoffMs?: number;
  /** Shortest wait on `Retry-After`, milliseconds. @default {100} */
  retryAfterFloorMs?: number;
  /** Longest wait a `Retry-After` may impose, milliseconds. @default {300000} */
  retryAfterCapMs?: number;
  /** `Retry-After` answers per batch that do not count against `maxRetries`. @default {3} */
  freeRetryAfters?: number;
  /** Random source for jitter, in `[0, 1)`. @default {Math.random} */
  random?: () => number;
  /** Send-rate limit (requests/s and burst); `false` for none. @default {profile.rateLimit, else false} */
  rateLimit?: RateLimit | false;
  /** Policy for event idempotency keys given by callers. @default {profile.keyPolicy} */
  keyPolicy?: KeyPolicy;
  /** Largest encoded event, bytes. @default {profile.limits.maxEventBytes (102400)} */
  maxEventBytes?: number;
  /** Where the queue is journaled. @default {new MemoryStorage()} */
  storage?: Storage;
  /** How requests are sent. @default {fetchTransport()} */
  transport?: Transport;
  /** Request body compression. @default {false} */
  compression?: "gzip" | false;
  /** Time and timers (inject in tests). @default {systemClock} */
  clock?: Clock;
  /** Extension points (`beforeRequest`, `afterResponse`, `batchSettled`, `error`, `drop`). @default {{}} */
  hooks?: PipelineHooks;
  /** Called with every `DeliveryError` and `StorageError` (shorthand for `hooks.error`). @default {undefined} */
  onError?: (error: IdemtrackError) => void;
  /** Edge/serverless: receives the delivery promise of each tick's events (`ctx.waitUntil`). @default {undefined} */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Flush when the process is about to exit. @default {true} */
  exitHook?: boolean;
  /** How long the exit hook may keep the process alive, milliseconds. @default {5000} */
  exitTimeoutMs?: number;
}

/** Every default of {@linkcode ClientOptions} that does not come from the profile. */
export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  headers: Object.freeze({}) as Readonly<Record<string, string>>,
  ...DEFAULT_PIPELINE_OPTIONS,
  maxRetries: DEFAULT_RETRY_OPTIONS.maxRetries,
  backoffBaseMs: DEFAULT_RETRY_OPTIONS.backoffBaseMs,
  backoffCapMs: DEFAULT_RETRY_OPTIONS.backoffCapMs,
  maxTotalBackoffMs: DEFAULT_RETRY_OPTIONS.maxTotalBackoffMs,
  retryAfterFloorMs: DEFAULT_RETRY_OPTIONS.retryAfterFloorMs,
  retryAfterCapMs: DEFAULT_RETRY_OPTIONS.retryAfterCapMs,
  freeRetryAfters: DEFAULT_RETRY_OPTIONS.freeRetryAfters,
  random: DEFAULT_RETRY_OPTIONS.random,
});

/** Per-call fields of `track`, `identify` and `alias`. */
export type TrackOptions = Omit<EventInput, "type" | "name" | "properties">;

/** Counters of a client; see {@linkcode PipelineStats}. */
export type ClientStats = PipelineStats;

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
export class Client {
  readonly #pipeline: Pipeline;
  readonly #rules: EventRules;

  constructor(options: ClientOptions) {
    const d = DEFAULT_CLIENT_OPTIONS;
    const {
      endpoint,
      headers = d.headers,
      token,
      profile = endpoint === undefined ? undefined : jsonProfile({ endpoint, headers, token }),
      keyPolicy,
      maxEventBytes,
      clock,
      onError,
      hooks = {},
      maxRetries = d.maxRetries,
      backoffBaseMs = d.backoffBaseMs,
      backoffCapMs = d.backoffCapMs,
      maxTotalBackoffMs = d.maxTotalBackoffMs,
      retryAfterFloorMs = d.retryAfterFloorMs,
      retryAfterCapMs = d.retryAfterCapMs,
      freeRetryAfters = d.freeRetryAfters,
      random = d.random,
      ...rest
    } = options;
    if (profile === undefined) {
      throw new TypeError(
        "Cannot create client as 'endpoint' must be a URL when no 'profile' is given: current value is undefined",
      );
    }
    this.#pipeline = new Pipeline({
      ...rest,
      profile,
      ...(clock && { clock }),
      hooks: onError === undefined ? hooks : { ...hooks, error: [...(hooks.error ?? []), onError] },
      retry: {
        maxRetries,
        backoffBaseMs,
        backoffCapMs,
        maxTotalBackoffMs,
        retryAfterFloorMs,
        retryAfterCapMs,
        freeRetryAfters,
        random,
      },
    });
    const now = clock === undefined ? Date.now : () => clock.now();
    this.#rules = {
      keyPolicy: keyPolicy ?? profile.keyPolicy,
      maxEventBytes: maxEventBytes ?? profile.limits.maxEventBytes,
      now,
    };
  }

  /**
   * Queues an event and returns its idempotency key. Synchronous: never waits
   * for the network.
   *
   * @throws {EventValidationError} naming the bad field (nothing else is lost).
   * @throws {IdempotencyKeyError} when a given key breaks the key policy.
   * @throws {QueueFullError} at the queue bound with the `reject` policy.
   * @throws {ClientClosedError} after `close()`.
   */
  track(name: string, properties?: JsonObject, options: TrackOptions = {}): string {
    return this.trackEvent({ ...options, type: "track", name, properties });
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
    const event = createEvent(input, this.#rules);
    this.#pipeline.enqueue(this.#pipeline.profile.encode(event), event.idempotencyKey);
    return event.idempotencyKey;
  }

  /**
   * Delivers these events now (the second seed's bulk API), chunked and
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
      let event: IdemtrackEvent;
      try {
        event = createEvent(input, this.#rules);
      } catch (error) {
        invalid.push({
          key: input.idempotencyKey ?? "",
          data: new Uint8Array(0),
          error: (error as Error).message,
          code: "invalid",
        });
        continue;
      }
      items.push({
        encoded: this.#pipeline.profile.encode(event),
        key: event.idempotencyKey,
        event,
      });
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
    return this.#pipeline.flush();
  }

  /**
   * Drains everything (including events tracked while it runs), then refuses
   * new events with `ClientClosedError`, closes the storage and resolves with
   * a summary. `timeoutMs` bounds the wait; what is left is reported.
   */
  close(options: { timeoutMs?: number } = {}): Promise<CloseSummary> {
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
    return this.#pipeline.stats();
  }
}
