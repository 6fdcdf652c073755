import { optionChecks } from "../_util/checks.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import { fetchTransport } from "../drivers/transport/fetch_transport.ts";
import { MemoryStorage } from "../drivers/storage/memory_storage.ts";
import {
  DEFAULT_PIPELINE_OPTIONS,
  type OverflowPolicy,
  type PipelineHooks,
  type PipelineOptions,
} from "./pipeline.ts";
import type { Profile } from "../ports/profile.ts";
import { resolveRetryOptions } from "../kit/retry.ts";
import type { Storage } from "../ports/storage.ts";
import { TokenBucket } from "../kit/token_bucket.ts";
import type { Transport } from "../ports/transport.ts";

const { positiveInteger, nonNegative } = optionChecks("create client");

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
  readonly maxItemsPerType: number;
  /** An event must fit in a request on its own. */
  readonly maxEventBytes: number;
  readonly maxQueueSize: number;
  readonly maxQueueBytes: number;
  readonly overflow: OverflowPolicy;
  readonly timeoutMs: number;
  /** Batches handed to the transport at once: its `maxPending` if it queues requests itself, else `concurrency`. */
  readonly slots: number;
  readonly compression: "gzip" | false;
  readonly bucket: TokenBucket | undefined;
  readonly hooks: PipelineHooks;
  readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  readonly exitHook: boolean;
  readonly exitTimeoutMs: number;
}

/**
 * Destructures the options with their defaults, in one place, and checks them.
 *
 * @throws {TypeError} for a missing profile, an unknown overflow policy or compression.
 * @throws {RangeError} for counts and durations out of range.
 */
export function resolvePipelineOptions(options: PipelineOptions): ResolvedPipelineOptions {
  const { profile } = options;
  if (profile === undefined || typeof profile.encode !== "function") {
    throw new TypeError("Cannot create client as 'profile' must be a Profile");
  }
  const d = DEFAULT_PIPELINE_OPTIONS;
  const {
    storage = new MemoryStorage(),
    transport = fetchTransport(),
    clock = systemClock,
    flushAt = d.flushAt,
    flushIntervalMs = d.flushIntervalMs,
    maxBatchBytes = profile.limits.maxBatchBytes,
    maxBatchEvents = profile.limits.maxBatchEvents,
    maxItemsPerType = profile.limits.maxItemsPerGroup,
    maxEventBytes = profile.limits.maxEventBytes,
    maxQueueSize = d.maxQueueSize,
    maxQueueBytes = d.maxQueueBytes,
    overflow = d.overflow,
    retry = {},
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
  positiveInteger("maxItemsPerType", maxItemsPerType, true);
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
    maxItemsPerType: Math.min(maxItemsPerType, profile.limits.maxItemsPerGroup),
    maxEventBytes: Math.min(
      maxEventBytes,
      profile.limits.maxEventBytes,
      boundedBatchBytes - profile.framing.emptyBytes - profile.framing.itemBytes(0, true, ""),
    ),
    maxQueueSize,
    maxQueueBytes,
    overflow,
    timeoutMs,
    slots: transport.maxPending ?? concurrency,
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
