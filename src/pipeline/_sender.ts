import type { Clock } from "../ports/clock.ts";
import { HttpError } from "../errors/http_error.ts";
import type { IdemtrackError } from "../errors/idemtrack_error.ts";
import { NetworkError } from "../errors/network_error.ts";
import { TimeoutError } from "../errors/timeout_error.ts";
import type { BatchOutcome, OutgoingBatch, Profile } from "../ports/profile.ts";
import type { QueuedRecord } from "../ports/storage.ts";
import type { TokenBucket } from "../kit/token_bucket.ts";
import type { Transport } from "../ports/transport.ts";
import { type BatchBody, carry } from "../_util/internal.ts";
import { isPromiseLike } from "../_util/promise.ts";
import type { ActiveBatch } from "./_batch.ts";
import { redactOutcome } from "./_redact.ts";
import type { PipelineHooks } from "./types.ts";

/** Body buffers kept for reuse, at most (each is free again once its request was handed over). */
const MAX_POOLED_BODIES = 2;

/** How requests go out. */
export interface SenderOptions {
  readonly profile: Profile;
  readonly transport: Transport;
  /** Whether the transport queues requests itself (and times each from its real start). */
  readonly queueing: boolean;
  /** Whether the transport is done with a body once called. */
  readonly copiesBody: boolean;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly compression: "gzip" | false;
  readonly bucket: TokenBucket | undefined;
  /** Largest request body (pooled body buffers have this size). */
  readonly maxBatchBytes: number;
  readonly hooks: PipelineHooks;
}

/** One send's meaning: the profile's outcome, with the error behind a non-2xx or failed send. */
export interface SendResult {
  readonly outcome: BatchOutcome;
  readonly cause?: IdemtrackError;
}

async function gzip(body: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([body as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Why `fetch` would refuse this request before sending anything (a header
 * value with a line break, a URL it cannot parse), or `undefined`. Such a
 * request fails at once: sending it again cannot help. Header values are
 * never echoed (they may hold secrets).
 */
function unsendable(request: { url: string; headers: Record<string, string> }): string | undefined {
  for (const [name, value] of Object.entries(request.headers)) {
    try {
      new Headers([[name, value]]);
    } catch {
      return `header '${name}' is not a valid HTTP header name and value (value not shown): ` +
        "the request cannot be sent";
    }
  }
  if (!URL.canParse(request.url)) {
    return `'${request.url}' is not an absolute URL: the request cannot be sent`;
  }
  return undefined;
}

function readReason(outcome: BatchOutcome): string {
  if (outcome.kind === "split") return outcome.reason;
  const first = outcome.kind === "all" ? outcome.outcome : outcome.outcomes[0];
  return first !== undefined && "reason" in first ? first.reason : "";
}

/**
 * Sends batches: request building, compression, hooks, the per-request
 * timeout, the rate limit, and the waits between retries; `abort()` ends
 * every request and wait at once.
 */
export class Sender {
  readonly #options: SenderOptions;
  readonly #sleepers = new Set<() => void>();
  readonly #controllers = new Set<AbortController>();
  /** Request body buffers free for the next request (see `send`). */
  readonly #bodies: ArrayBuffer[] = [];
  /** HTTP requests that got an answer. */
  requests = 0;

  constructor(options: SenderOptions) {
    this.#options = options;
  }

  /** Waits `delayMs` (cut short by `abort()`). */
  sleep(delayMs: number): Promise<void> {
    if (delayMs <= 0) return Promise.resolve();
    const { clock } = this.#options;
    return new Promise((resolve) => {
      const wake = () => {
        this.#sleepers.delete(wake);
        clock.clearTimeout(id);
        resolve();
      };
      const id = clock.setTimeout(wake, delayMs);
      this.#sleepers.add(wake);
    });
  }

  /** Waits for a rate-limit token; false when aborted meanwhile (`true` at once without a limit). */
  throttle(aborted: () => boolean): true | Promise<boolean> {
    const { bucket } = this.#options;
    if (bucket === undefined) return true;
    const wait = bucket.take();
    return wait <= 0 ? true : this.#waitForToken(bucket, wait, aborted);
  }

  async #waitForToken(bucket: TokenBucket, wait: number, aborted: () => boolean): Promise<boolean> {
    for (; wait > 0; wait = bucket.take()) {
      await this.sleep(wait);
      if (aborted()) return false;
    }
    return true;
  }

  /** Aborts requests in flight and ends waits. */
  abort(): void {
    for (const controller of this.#controllers) controller.abort();
    for (const wake of this.#sleepers) wake();
  }

  /** One send: the profile's outcome, or a retry outcome for network errors and timeouts. */
  async send(batch: ActiveBatch): Promise<SendResult> {
    const { profile, transport, queueing, clock, timeoutMs, compression, hooks } = this.#options;
    const beforeRequest = hooks.beforeRequest ?? [];
    // Made when a profile or hook reads them, and let go while the request is out, so that a
    // batch waiting for its answer holds nothing per event.
    let records: readonly QueuedRecord[] | undefined;
    // A body joined from the queue goes into a buffer used again as soon as a transport that
    // copies bodies (fetch) has been called, unless a hook may keep it; others get a new one.
    const reuse = this.#options.copiesBody && beforeRequest.length === 0;
    let pooled: ArrayBuffer | undefined;
    const pooledBody = (length: number): Uint8Array => {
      // A second body in the same send must not overwrite the first.
      if (pooled !== undefined) return new Uint8Array(length);
      pooled = this.#bodies.pop();
      if (pooled === undefined || pooled.byteLength < length) {
        pooled = new ArrayBuffer(Math.max(length, this.#options.maxBatchBytes));
      }
      return new Uint8Array(pooled, 0, length);
    };
    const release = () => {
      if (pooled !== undefined && this.#bodies.length < MAX_POOLED_BODIES) {
        this.#bodies.push(pooled);
      }
      pooled = undefined;
    };
    const { members } = batch;
    const body: BatchBody = {
      size: members.length,
      joinJson: (prefix, suffix) =>
        members.joinJson(prefix, suffix, reuse ? pooledBody : undefined),
      data: () => members.data(),
    };
    const outgoing: OutgoingBatch = carry({
      id: batch.id,
      stream: batch.stream,
      get records() {
        return records ??= members.records();
      },
      attempt: batch.attempt,
    }, body);
    const controller = new AbortController();
    let timedOut = false;
    const timer = queueing ? undefined : clock.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    this.#controllers.add(controller);
    try {
      // Nothing is awaited that completed at once, so that a batch formed in a synchronous
      // burst reaches the transport before the burst ends.
      const built = profile.buildRequest(outgoing, clock.now());
      let request = isPromiseLike(built) ? await built : built;
      if (compression === "gzip") {
        request = {
          ...request,
          headers: { ...request.headers, "content-encoding": "gzip" },
          body: await gzip(request.body),
        };
      }
      for (const hook of beforeRequest) {
        const replaced = hook({ request, batch: outgoing });
        request = (isPromiseLike(replaced) ? await replaced : replaced) ?? request;
      }
      // A transport that queues requests takes the body away (workerTransport moves it to its
      // thread): a hook may have kept it.
      if (queueing && beforeRequest.length > 0) {
        request = { ...request, body: request.body.slice() };
      }
      records = undefined;
      const refused = unsendable(request);
      if (refused !== undefined) {
        return {
          outcome: { kind: "all", outcome: { status: "failed", code: "request", reason: refused } },
        };
      }
      const answer = transport(
        queueing
          ? { ...request, signal: controller.signal, timeoutMs }
          : { ...request, signal: controller.signal },
      );
      release();
      const response = await answer;
      this.requests++;
      for (const hook of hooks.afterResponse ?? []) hook({ response, batch: outgoing });
      const outcome = redactOutcome(profile.readResponse(response, outgoing), request.headers);
      const cause = response.status >= 300
        ? new HttpError(response.status, batch.id, readReason(outcome))
        : undefined;
      return cause === undefined ? { outcome } : { outcome, cause };
    } catch (error) {
      timedOut ||= (error as { name?: unknown } | null)?.name === "TimeoutError" && queueing;
      const cause = timedOut
        ? new TimeoutError(batch.id, timeoutMs)
        : new NetworkError(batch.id, error);
      return {
        outcome: {
          kind: "all",
          outcome: {
            status: "retry",
            code: timedOut ? "timeout" : "network",
            reason: cause.message,
          },
        },
        cause,
      };
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      this.#controllers.delete(controller);
      release();
    }
  }
}
