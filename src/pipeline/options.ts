/**
 * The engine's options: what they are, their defaults (once), and how they
 * are checked and bounded by the profile's limits.
 *
 * @module
 */
import { optionChecks } from "../_util/checks.ts";
import { transportTraits } from "../_util/internal.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import type { OverflowPolicy, PipelineHooks } from "./types.ts";
import type { Profile } from "../ports/profile.ts";
import { DEFAULT_RETRY_OPTIONS, resolveRetryOptions, type RetryOptions } from "../kit/retry.ts";
import type { Storage } from "../ports/storage.ts";
import { type RateLimit, TokenBucket } from "../kit/token_bucket.ts";
import type { Transport } from "../ports/transport.ts";

const { positiveInteger, nonNegative } = optionChecks("create client");

/** Options of {@linkcode Pipeline}. */
export interface PipelineOptions {
  /** The wire format: encoding, framing, limits, request building, answer reading. */
  profile: Profile;
  /** Where the queue is journaled (the facades default it to a `MemoryStorage`). */
  storage: Storage;
  /** How requests are sent (the facades default it to `fetchTransport()`). */
  transport: Transport;
  /** Time and timers. @default {systemClock} */
  clock?: Clock;
  /**
   * Send as soon as this many events are queued (and a full request's worth at once, inside the
   * `enqueue` that completes it); `Infinity` leaves it to `flush()` and the timer. @default {20}
   */
  flushAt?: number;
  /** Send whatever is queued this long after the first queued event; `0` disables the timer. @default {5000} */
  flushIntervalMs?: number;
  /**
   * Largest request body; at most the profile's limit. In a page, 65536 by default, so that every
   * request can go with `keepalive` and outlive the page.
   * @default {profile.limits.maxBatchBytes}
   */
  maxBatchBytes?: number;
  /** Most events per request; at most the profile's limit. @default {profile.limits.maxBatchEvents} */
  maxBatchEvents?: number;
  /** Most events of one group (type) per request. @default {profile.limits.maxItemsPerGroup} */
  maxItemsPerGroup?: number;
  /**
   * Largest encoded event, bytes; at most the profile's limit (and what fits in one request).
   * A larger one is refused with an `EventValidationError`. @default {profile.limits.maxEventBytes}
   */
  maxEventBytes?: number;
  /** Most events held (queued and in flight). @default {100000} */
  maxQueueSize?: number;
  /** Most bytes held (queued and in flight). @default {67108864} */
  maxQueueBytes?: number;
  /** What happens at the queue bound; every drop is counted and reported. @default {"reject"} */
  overflow?: OverflowPolicy;
  /**
   * Retry policy: its options, or just how many retries (`maxRetries`) with
   * the other defaults. @default {DEFAULT_RETRY_OPTIONS}
   */
  retry?: number | RetryOptions;
  /** Per-request timeout (aborts the request), milliseconds. @default {10000} */
  timeoutMs?: number;
  /**
   * Requests in flight at once (a batch waiting to retry keeps its slot); `workerTransport()`, which
   * queues requests itself, is handed up to its `maxPending` instead. @default {2}
   */
  concurrency?: number;
  /** Send-rate limit; `false` for none. @default {profile.rateLimit, else false} */
  rateLimit?: RateLimit | false;
  /** Request body compression (`Content-Encoding: gzip`). @default {false} */
  compression?: "gzip" | false;
  /** Extension points. @default {{}} */
  hooks?: PipelineHooks;
  /**
   * For edge/serverless runtimes: receives a promise of the delivery of the
   * events queued in a tick, to keep the invocation alive (`ctx.waitUntil`).
   * @default {undefined}
   */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Flush when the process is about to exit (Deno `beforeunload`, Node `beforeExit`). @default {true} */
  exitHook?: boolean;
  /** How long the exit hook keeps the process alive to deliver, milliseconds. @default {5000} */
  exitTimeoutMs?: number;
}

/** Every default of {@linkcode PipelineOptions} that does not depend on the profile or a driver. */
export const DEFAULT_PIPELINE_OPTIONS = Object.freeze({
  flushAt: 20,
  flushIntervalMs: 5000,
  maxQueueSize: 100_000,
  maxQueueBytes: 64 * 1024 * 1024,
  overflow: "reject" as OverflowPolicy,
  timeoutMs: 10_000,
  concurrency: 2,
  compression: false as "gzip" | false,
  exitHook: true,
  exitTimeoutMs: 5000,
  retry: DEFAULT_RETRY_OPTIONS,
});

/** Pipeline options checked, defaulted and bounded by the profile's limits. */
export interface ResolvedPipelineOptions {
  readonly profile: Profile;
  readonly storage: Storage;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly retry: ReturnType<typeof resolveRetryOptions>;
  readonly flushAt: number;
  readonly flushIntervalMs: number;
  readonly maxBatchBytes: number;
  readonly maxBatchEvents: number;
  readonly maxItemsPerGroup: number;
  /** An event must fit in a request on its own. */
  readonly maxEventBytes: number;
  readonly maxQueueSize: number;
  readonly maxQueueBytes: number;
  readonly overflow: OverflowPolicy;
  readonly timeoutMs: number;
  /** Batches handed to the transport at once: its `maxPending` if it queues requests itself, else `concurrency`. */
  readonly slots: number;
  /** Whether the transport queues requests itself (and times each from its real start). */
  readonly queueing: boolean;
  /** Whether the transport is done with a body once called (its buffer may carry the next request). */
  readonly copiesBody: boolean;
  /** True while a transport that queues requests itself holds enough of them. */
  readonly saturated: () => boolean;
  readonly compression: "gzip" | false;
  readonly bucket: TokenBucket | undefined;
  readonly hooks: PipelineHooks;
  readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  readonly exitHook: boolean;
  readonly exitTimeoutMs: number;
}

/**
 * Largest request in a page by default: `fetch` sends at most 64 KiB of
 * `keepalive` bodies at once, and only a keepalive request outlives its page.
 */
const PAGE_MAX_BATCH_BYTES = 64 * 1024;

/**
 * Destructures the options with their defaults, in one place, and checks them.
 *
 * @throws {TypeError} for a missing profile, an unknown overflow policy or compression.
 * @throws {RangeError} for counts and durations out of range.
 */
export function resolvePipelineOptions(options: PipelineOptions): ResolvedPipelineOptions {
  const { profile, storage, transport } = options;
  if (profile === undefined || typeof profile.encode !== "function") {
    throw new TypeError("Cannot create client as 'profile' must be a Profile");
  }
  if (storage === undefined || typeof storage.open !== "function") {
    throw new TypeError("Cannot create client as 'storage' must be a Storage");
  }
  if (typeof transport !== "function") {
    throw new TypeError("Cannot create client as 'transport' must be a Transport");
  }
  const d = DEFAULT_PIPELINE_OPTIONS;
  const {
    clock = systemClock,
    flushAt = d.flushAt,
    flushIntervalMs = d.flushIntervalMs,
    maxBatchBytes = typeof (globalThis as { document?: unknown }).document === "object"
      ? Math.min(profile.limits.maxBatchBytes, PAGE_MAX_BATCH_BYTES)
      : profile.limits.maxBatchBytes,
    maxBatchEvents = profile.limits.maxBatchEvents,
    maxItemsPerGroup = profile.limits.maxItemsPerGroup,
    maxEventBytes = profile.limits.maxEventBytes,
    maxQueueSize = d.maxQueueSize,
    maxQueueBytes = d.maxQueueBytes,
    overflow = d.overflow,
    retry = d.retry,
    timeoutMs = d.timeoutMs,
    concurrency = d.concurrency,
    rateLimit = profile.rateLimit ?? false,
    compression = d.compression,
    hooks = {},
    waitUntil,
    exitHook = d.exitHook,
    exitTimeoutMs = d.exitTimeoutMs,
  } = options;
  positiveInteger("flushAt", flushAt, true);
  nonNegative("flushIntervalMs", flushIntervalMs);
  positiveInteger("maxBatchBytes", maxBatchBytes);
  positiveInteger("maxBatchEvents", maxBatchEvents, true);
  positiveInteger("maxItemsPerGroup", maxItemsPerGroup, true);
  positiveInteger("maxEventBytes", maxEventBytes);
  positiveInteger("maxQueueSize", maxQueueSize, true);
  positiveInteger("maxQueueBytes", maxQueueBytes, true);
  positiveInteger("concurrency", concurrency);
  nonNegative("timeoutMs", timeoutMs);
  nonNegative("exitTimeoutMs", exitTimeoutMs);
  if (!["reject", "dropOldest", "dropNewest"].includes(overflow)) {
    throw new TypeError(
      `Cannot create client as 'overflow' must be "reject", "dropOldest" or "dropNewest": current value is ${
        JSON.stringify(overflow)
      }`,
    );
  }
  if (compression !== false && compression !== "gzip") {
    throw new TypeError(
      `Cannot create client as 'compression' must be "gzip" or false: current value is ${
        JSON.stringify(compression)
      }`,
    );
  }
  const traits = transportTraits(transport);
  const boundedBatchBytes = Math.min(maxBatchBytes, profile.limits.maxBatchBytes);
  return {
    profile,
    storage,
    transport,
    clock,
    retry: resolveRetryOptions(retry),
    flushAt,
    flushIntervalMs,
    maxBatchBytes: boundedBatchBytes,
    maxBatchEvents: Math.min(maxBatchEvents, profile.limits.maxBatchEvents),
    maxItemsPerGroup: Math.min(maxItemsPerGroup, profile.limits.maxItemsPerGroup),
    maxEventBytes: Math.min(
      maxEventBytes,
      profile.limits.maxEventBytes,
      boundedBatchBytes - profile.framing.emptyBytes - profile.framing.itemBytes(0, true, ""),
    ),
    maxQueueSize,
    maxQueueBytes,
    overflow,
    timeoutMs,
    slots: traits.maxPending ?? concurrency,
    queueing: traits.maxPending !== undefined,
    copiesBody: traits.copiesBody === true,
    saturated: traits.saturated ?? (() => false),
    compression,
    bucket: rateLimit === false ? undefined : new TokenBucket({
      ratePerSecond: rateLimit.requestsPerSecond,
      burst: rateLimit.burst,
      now: () => clock.now(),
    }),
    hooks,
    waitUntil,
    exitHook,
    exitTimeoutMs,
  };
}
