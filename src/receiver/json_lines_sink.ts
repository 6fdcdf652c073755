import { type FileHandle, open } from "node:fs/promises";
import type { AcceptedEvent, Sink } from "./sink.ts";

/** Options of {@linkcode JsonLinesSink}. */
export interface JsonLinesSinkOptions {
  /** Call `fdatasync` after each write, so a power loss cannot take accepted events. @default {false} */
  sync?: boolean;
}

/** Defaults of {@linkcode JsonLinesSinkOptions}. */
export const DEFAULT_JSON_LINES_SINK_OPTIONS: Required<JsonLinesSinkOptions> = Object.freeze({
  sync: false,
});

interface Pending {
  readonly text: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const encoder = new TextEncoder();
const INITIAL_WRITE_BUFFER_BYTES = 256 * 1024;
const MAX_WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Appends accepted events to a file, one JSON object per line:
 * `{"tenant","route","key","received_at","event"}`. Requests arriving while a
 * write is in progress are coalesced into the next single write. Uses
 * `node:fs/promises`, so it runs on Deno and Node.
 *
 * @example Usage
 * ```ts
 * import { JsonLinesSink } from "./json_lines_sink.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * const sink = new JsonLinesSink(path);
 * await sink.write([{ tenant: "t", route: "json", key: "k-00000001", receivedAt: 0, event: { n: 1 } }]);
 * await sink.close();
 * const line = JSON.parse((await Deno.readTextFile(path)).trim());
 * assert.deepEqual(line.event, { n: 1 });
 * await Deno.remove(path);
 * ```
 */
export class JsonLinesSink implements Sink {
  readonly #path: string;
  readonly #sync: boolean;
  #handle: Promise<FileHandle> | undefined;
  #queue: Pending[] = [];
  #writing: Promise<void> | undefined;
  #closed = false;

  /** Creates a sink appending to the file at `path` (created if missing). */
  constructor(path: string, options: JsonLinesSinkOptions = {}) {
    const { sync = DEFAULT_JSON_LINES_SINK_OPTIONS.sync } = options;
    if (typeof path !== "string" || path.length === 0) {
      throw new TypeError(
        `Cannot create JSON lines sink as 'path' must be a non-empty string: current value is ${
          JSON.stringify(path)
        }`,
      );
    }
    this.#path = path;
    this.#sync = sync;
  }

  /** The file written to. */
  get path(): string {
    return this.#path;
  }

  /** Appends one JSON line per event; resolves once they are written (and synced, if configured). */
  write(events: readonly AcceptedEvent[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("Cannot write: the sink is closed"));
    if (events.length === 0) return Promise.resolve();
    let text = "";
    // The line JSON.stringify({tenant, route, key, received_at, event}) would give, with the
    // event's JSON reused when the receiver computed it; the request's tenant and route once.
    let head = "";
    let headOf: AcceptedEvent | undefined;
    for (const accepted of events) {
      if (headOf?.tenant !== accepted.tenant || headOf.route !== accepted.route) {
        headOf = accepted;
        head = `{"tenant":${JSON.stringify(accepted.tenant)},"route":${
          JSON.stringify(accepted.route)
        },`;
      }
      text += head;
      if (accepted.key !== undefined) text += `"key":${JSON.stringify(accepted.key)},`;
      text += `"received_at":${JSON.stringify(accepted.receivedAt)},"event":${
        accepted.json ?? JSON.stringify(accepted.event)
      }}\n`;
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ text, resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  // Writes are one at a time, each encoded into this one buffer rather than whole into a fresh
  // one (~1 MB per request, lingering until garbage collection). It grows to the largest write
  // seen, up to MAX_WRITE_BUFFER_BYTES, so a request's lines usually leave in one system call.
  #buffer = new Uint8Array(INITIAL_WRITE_BUFFER_BYTES);

  async #writeText(handle: FileHandle, text: string): Promise<void> {
    if (this.#buffer.byteLength < text.length && this.#buffer.byteLength < MAX_WRITE_BUFFER_BYTES) {
      // ASCII text takes a byte per character: the usual case fits at once.
      this.#buffer = new Uint8Array(Math.min(MAX_WRITE_BUFFER_BYTES, text.length));
    }
    let read = 0;
    while (read < text.length) {
      const encoded = encoder.encodeInto(read === 0 ? text : text.slice(read), this.#buffer);
      read += encoded.read;
      let offset = 0;
      while (offset < encoded.written) {
        const { bytesWritten } = await handle.write(this.#buffer, offset, encoded.written - offset);
        offset += bytesWritten;
      }
    }
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        try {
          this.#handle ??= open(this.#path, "a");
          const handle = await this.#handle;
          await this.#writeText(
            handle,
            batch.length === 1 ? batch[0]!.text : batch.map((pending) => pending.text).join(""),
          );
          if (this.#sync) await handle.datasync();
          for (const pending of batch) pending.resolve();
        } catch (error) {
          this.#handle = undefined;
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }

  /** Opens the file for appending (if not yet open): rejects when it cannot be written. */
  async ping(): Promise<void> {
    if (this.#closed) throw new Error("Cannot write: the sink is closed");
    this.#handle ??= open(this.#path, "a");
    try {
      await this.#handle;
    } catch (error) {
      this.#handle = undefined;
      throw error;
    }
  }

  /** Waits for pending writes, then closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#writing !== undefined) await this.#writing;
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle !== undefined) await (await handle).close();
  }
}
