/** A request, as the main thread posts it. */
export interface RequestMessage {
  readonly id: number;
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ArrayBuffer;
  readonly timeoutMs: number;
}

/**
 * What the main thread posts: a request, the cancellation of one, or (first)
 * the shared counter of requests posted and not finished.
 */
export type Message =
  | RequestMessage
  | { readonly cancel: number }
  | { readonly unfinished: SharedArrayBuffer };

/** What the worker posts back for each request. */
export type Reply =
  | {
    readonly id: number;
    readonly status: number;
    readonly headers: [string, string][];
    readonly body: string;
  }
  | { readonly id: number; readonly error: { readonly name: string; readonly message: string } };

/** Node's `require`, which a `node:worker_threads` worker evaluated from source has in scope. */
type NodeRequire = (id: "node:worker_threads") => {
  parentPort: { on(event: "message", listener: (message: Message) => void): void } & {
    postMessage(reply: Reply): void;
  };
};

/**
 * The worker's whole program, for a Web Worker (Deno, browsers) and for
 * `node:worker_threads` (Node) alike: a queue of requests, `concurrency` of
 * them on the network at once, each with its own timeout from when it
 * really starts.
 *
 * It runs in the worker from its source text ({@linkcode workerSource}), so
 * it refers to nothing outside its own body.
 */
export function workerProgram(concurrency: number, nodeRequire: NodeRequire | undefined): void {
  type Port = { listen(on: (message: Message) => void): void; post(reply: Reply): void };
  const port: Port = (() => {
    if (nodeRequire !== undefined) {
      const { parentPort } = nodeRequire("node:worker_threads");
      return {
        listen: (on) => parentPort.on("message", on),
        post: (reply) => parentPort.postMessage(reply),
      };
    }
    const scope = globalThis as unknown as {
      onmessage: ((event: MessageEvent<Message>) => void) | null;
      postMessage(reply: Reply): void;
    };
    return {
      listen: (on) => {
        scope.onmessage = (event) => on(event.data);
      },
      post: (reply) => scope.postMessage(reply),
    };
  })();
  const queue: RequestMessage[] = [];
  const running = new Map<number, AbortController>();
  let active = 0;
  let unfinished: Int32Array | undefined;
  const finished = () => {
    if (unfinished !== undefined) Atomics.sub(unfinished, 0, 1);
  };
  const pump = () => {
    while (active < concurrency && queue.length > 0) {
      active++;
      send(queue.shift()!).finally(() => {
        active--;
        pump();
      });
    }
  };
  // fetch() copies its body (the spec's "extract a body"; Deno's Rust side then makes its own
  // copy), and that first copy is garbage at once but lives until this isolate's next GC, which
  // comes rarely here (it allocates little): several MB of copies, whose room the allocator keeps
  // after. Deno makes that copy with slice(), which builds its result with the body's species
  // constructor: this one hands back the body itself, so "the copy" is the bytes already here,
  // freed once the request settled (below). Where a copy is made otherwise (Node, browsers),
  // nothing changes.
  const uncopied = (buffer: ArrayBuffer): Uint8Array<ArrayBuffer> => {
    const body = new Uint8Array(buffer);
    (body as { constructor: unknown }).constructor = {
      [Symbol.species]: function (length: number) {
        return length === body.length ? body : new Uint8Array(length);
      },
    };
    return body;
  };
  const send = async (request: RequestMessage): Promise<void> => {
    let counted = false;
    const finish = () => {
      if (!counted) finished();
      counted = true;
    };
    const controller = new AbortController();
    running.set(request.id, controller);
    const timer = Number.isFinite(request.timeoutMs)
      ? setTimeout(
        () => controller.abort(new DOMException("request timed out", "TimeoutError")),
        request.timeoutMs,
      )
      : undefined;
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: uncopied(request.body),
        signal: controller.signal,
      });
      const body = await response.text();
      finish();
      port.post({ id: request.id, status: response.status, headers: [...response.headers], body });
    } catch (error) {
      finish();
      const reason = (controller.signal.aborted ? controller.signal.reason : error) as
        | { name?: unknown; message?: unknown }
        | undefined;
      port.post({
        id: request.id,
        error: {
          name: String(reason?.name ?? "Error"),
          message: String(reason?.message ?? reason),
        },
      });
    } finally {
      finish();
      clearTimeout(timer);
      running.delete(request.id);
      // Frees the body now (fetch settled, redirects included), not at this isolate's next GC.
      (request.body as { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
    }
  };
  port.listen((message) => {
    if ("unfinished" in message) {
      unfinished = new Int32Array(message.unfinished);
      return;
    }
    if ("cancel" in message) {
      const index = queue.findIndex((request) => request.id === message.cancel);
      if (index >= 0) {
        queue.splice(index, 1);
        finished();
      }
      running.get(message.cancel)?.abort();
      return;
    }
    queue.push(message);
    pump();
  });
}

/** The source text a worker runs: {@linkcode workerProgram}, called with `concurrency`. */
export function workerSource(concurrency: number): string {
  return `"use strict";\n(${workerProgram.toString()})(${concurrency}, typeof require === "function" ? require : undefined);\n`;
}
