/**
 * A transport that sends from a worker thread, so requests go out while the
 * thread that calls `track()` is still busy (a synchronous loop, a CPU-bound
 * request handler): `fetch` on the calling thread only starts once it yields.
 *
 * @module
 */
import { optionChecks } from "../../_util/checks.ts";
import { carry } from "../../_util/internal.ts";
import { type Message, type Reply, type RequestMessage, workerSource } from "./_worker_program.ts";
import { systemClock, type TimerId } from "../../ports/clock.ts";
import type { Transport, TransportRequest, TransportResponse } from "../../ports/transport.ts";

const { positiveInteger, nonNegative } = optionChecks("create worker transport");

/** Options of {@linkcode workerTransport}. */
export interface WorkerTransportOptions {
  /** Requests on the network at once (the others wait in the worker, in order). @default {2} */
  concurrency?: number;
  /**
   * Requests the client may hand over at once; the client's `concurrency`
   * does not apply to this transport. Each one's body is held until sent.
   * @default {256}
   */
  maxPending?: number;
  /** The worker ends after this long without requests, and starts again with the next, ms. @default {1000} */
  idleMs?: number;
}

/** Defaults of {@linkcode WorkerTransportOptions}. */
export const DEFAULT_WORKER_TRANSPORT_OPTIONS: Readonly<Required<WorkerTransportOptions>> = Object
  .freeze({
    concurrency: 2,
    maxPending: 256,
    idleMs: 1000,
  });

/** The little of a worker the transport uses, over a Web Worker or a `node:worker_threads` one. */
interface WorkerHandle {
  post(message: Message, transfer: ArrayBuffer[]): void;
  /** Requests are pending: the worker keeps the process alive (Node; a Web Worker always does). */
  busy(): void;
  /** No request is pending: the worker no longer keeps the process alive (Node). */
  idle(): void;
  terminate(): void;
}

type NodeWorkerThreads = typeof import("node:worker_threads");

/**
 * Starts the worker: a Web Worker where the runtime has one (Deno, browsers;
 * `node:worker_threads` in Deno copies typed arrays element by element and
 * blocks ~100 ms to start), else a `node:worker_threads` worker (Node).
 */
function startWorker(
  source: string,
  nodeThreads: NodeWorkerThreads | undefined,
  onReply: (reply: Reply) => void,
  onFailure: (why: string) => void,
): WorkerHandle {
  if (typeof globalThis.Worker === "function") {
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const worker = new Worker(url, { type: "module" });
    // Revoked only when the worker ends: some browsers load the script after the constructor returns.
    worker.onmessage = (event: MessageEvent<Reply>) => onReply(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      onFailure(`the worker failed: ${event.message}`);
    };
    return {
      post: (message, transfer) => worker.postMessage(message, transfer),
      busy: () => {},
      idle: () => {},
      terminate: () => {
        worker.terminate();
        URL.revokeObjectURL(url);
      },
    };
  }
  if (nodeThreads === undefined) {
    throw new TypeError("Cannot start worker transport as this runtime has no Worker");
  }
  const worker = new nodeThreads.Worker(source, { eval: true });
  let terminated = false;
  worker.on("message", onReply);
  worker.on("error", (error: Error) => onFailure(`the worker failed: ${error.message}`));
  worker.on("exit", () => {
    if (!terminated) onFailure("the worker exited");
  });
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    busy: () => worker.ref(),
    idle: () => worker.unref(),
    terminate: () => {
      terminated = true;
      void worker.terminate();
    },
  };
}

/** How a request ended: its answer, or why there is none (an error, an abort reason). */
type Outcome = { readonly response: TransportResponse } | { readonly error: unknown };

interface Pending {
  done(outcome: Outcome): void;
}

/**
 * Sends requests with `fetch` from a worker thread (a Web Worker in Deno and
 * browsers, `node:worker_threads` in Node). The transport takes each request
 * body: one that owns its whole `ArrayBuffer` (as the client builds them) is
 * moved to the worker, leaving the caller's view empty; any other is copied;
 * while the calling thread keeps tracking, the worker sends `concurrency`
 * requests at a time and each answer comes back when the caller next
 * yields. The worker starts with the first request, keeps the process alive
 * only while requests are pending, and ends after `idleMs` without any.
 *
 * Timeouts count from when a request really starts (it may first wait in
 * the worker's queue); aborting the request's signal cancels it, queued or
 * on the network.
 *
 * @example Usage
 * ```ts ignore
 * import { Client } from "../../../mod.ts";
 * import { workerTransport } from "./worker_transport.ts";
 *
 * const client = new Client({
 *   endpoint: "http://127.0.0.1:8080",
 *   transport: workerTransport({ concurrency: 2 }),
 * });
 * for (let i = 0; i < 100_000; i++) client.track("imported", { row: i });
 * await client.close(); // much of it was sent while the loop ran
 * ```
 *
 * @throws {RangeError} when `concurrency` or `maxPending` is not a positive integer, or `idleMs` is not a finite number >= 0.
 */
export function workerTransport(options: WorkerTransportOptions = {}): Transport {
  const d = DEFAULT_WORKER_TRANSPORT_OPTIONS;
  const { concurrency = d.concurrency, maxPending = d.maxPending, idleMs = d.idleMs } = options;
  positiveInteger("concurrency", concurrency);
  positiveInteger("maxPending", maxPending);
  // Finite: a timer of Infinity ms fires at once, which would end the worker after every answer.
  nonNegative("idleMs", idleMs);
  const source = workerSource(concurrency);
  const pending = new Map<number, Pending>();
  let worker: WorkerHandle | undefined;
  /** Requests posted to the worker and not finished there (shared with it), when the runtime can share memory. */
  let unfinished: Int32Array | undefined;
  let idleTimer: TimerId | undefined;
  let nextId = 0;
  // Node has no Web Worker: its threads module is loaded now, and requests made before it
  // arrives wait here.
  let nodeThreads: NodeWorkerThreads | undefined;
  let waiting: Array<() => void> | undefined;
  if (typeof globalThis.Worker !== "function") {
    waiting = [];
    import("node:worker_threads").then((module) => {
      nodeThreads = module;
    }).catch(() => {}).finally(() => {
      const ready = waiting ?? [];
      waiting = undefined;
      for (const post of ready) post();
    });
  }

  /** Completes one request (its abort listener removed); false if it was complete already. */
  const complete = (id: number, outcome: Outcome): boolean => {
    const waiter = pending.get(id);
    if (waiter === undefined) return false;
    pending.delete(id);
    waiter.done(outcome);
    return true;
  };
  const rejectAll = (why: string) => {
    for (const id of [...pending.keys()]) {
      complete(id, { error: new Error(`worker transport: ${why}`) });
    }
  };
  const stop = () => {
    if (idleTimer !== undefined) systemClock.clearTimeout(idleTimer);
    idleTimer = undefined;
    const stopping = worker;
    worker = undefined;
    unfinished = undefined;
    stopping?.terminate();
  };
  /** The worker failed or exited: it is let go (terminated) and what it held is rejected. */
  const onFailure = (why: string) => {
    stop();
    rejectAll(why);
  };
  const onReply = (reply: Reply) => {
    let outcome: Outcome;
    if ("error" in reply) {
      const error = new Error(reply.error.message);
      error.name = reply.error.name;
      outcome = { error };
    } else {
      const { status, headers, body } = reply;
      outcome = { response: { status, headers: new Headers(headers), body } };
    }
    // An unknown id was cancelled meanwhile.
    if (complete(reply.id, outcome)) idleIfDone();
  };
  const idleIfDone = () => {
    if (pending.size > 0 || worker === undefined || idleTimer !== undefined) return;
    worker.idle();
    idleTimer = systemClock.setTimeout(() => {
      idleTimer = undefined;
      if (pending.size === 0) stop();
    }, idleMs);
  };
  const post = (message: RequestMessage, transfer: ArrayBuffer[]) => {
    if (!pending.has(message.id)) return; // cancelled while Node's threads module loaded
    try {
      if (worker === undefined) {
        worker = startWorker(source, nodeThreads, onReply, onFailure);
        unfinished = shareCounter(worker);
      }
      worker.busy();
      if (unfinished !== undefined) Atomics.add(unfinished, 0, 1);
      try {
        worker.post(message, transfer);
      } catch (error) {
        if (unfinished !== undefined) Atomics.sub(unfinished, 0, 1);
        throw error;
      }
    } catch (error) {
      // This request only (a detached body, a worker that cannot start); the others stand.
      complete(message.id, { error });
      idleIfDone();
    }
  };

  const send = (request: TransportRequest): Promise<TransportResponse> => {
    const { signal } = request;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (idleTimer !== undefined) systemClock.clearTimeout(idleTimer);
    idleTimer = undefined;
    const id = nextId++;
    const promise = new Promise<TransportResponse>((resolve, reject) => {
      const onAbort = () => {
        if (!complete(id, { error: signal!.reason })) return;
        worker?.post({ cancel: id }, []);
        idleIfDone();
      };
      pending.set(id, {
        done(outcome) {
          signal?.removeEventListener("abort", onAbort);
          if ("response" in outcome) resolve(outcome.response);
          else reject(outcome.error);
        },
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    const { url, method, headers, timeoutMs = Infinity } = request;
    // Moved, not cloned: a body that owns its whole buffer (as the client builds them) is
    // transferred as is, any other is copied first. (Deno's node:worker_threads would also clone
    // a typed array element by element, ~60 ms per 500 KB.)
    const owned = request.body.byteOffset === 0 &&
      request.body.byteLength === request.body.buffer.byteLength &&
      request.body.buffer instanceof ArrayBuffer;
    const body = owned ? request.body.buffer as ArrayBuffer : request.body.slice().buffer;
    const message: RequestMessage = { id, url, method, headers, body, timeoutMs };
    if (waiting !== undefined) waiting.push(() => post(message, [body]));
    else post(message, [body]);
    return promise;
  };
  /** Ends the worker; requests still pending are rejected. */
  const close = () => {
    stop();
    rejectAll("closed");
  };
  // Enough waiting in the worker to keep its connections busy: more bodies would only take memory.
  const saturated = () =>
    unfinished !== undefined && Atomics.load(unfinished, 0) >= 2 * concurrency;
  return carry(Object.assign(send, { close }), { maxPending, saturated });
}

/**
 * Gives the worker a counter of requests posted and not finished, which the
 * calling thread can read while it never yields; `undefined` where memory
 * cannot be shared (a browser page that is not cross-origin isolated).
 */
function shareCounter(worker: WorkerHandle): Int32Array | undefined {
  if (typeof SharedArrayBuffer !== "function") return undefined;
  try {
    const shared = new SharedArrayBuffer(4);
    worker.post({ unfinished: shared }, []);
    return new Int32Array(shared);
  } catch {
    return undefined;
  }
}

// Types that the exports above name in their signatures.
export type { Transport, TransportRequest, TransportResponse } from "../../ports/transport.ts";
