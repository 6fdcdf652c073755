import type { JsonValue } from "../../../event.ts";
import type { QueuedRecord, StoredBatch } from "../../../ports/storage.ts";
import { writeUtf8Into } from "../../../_util/utf8.ts";
import { frameChecksum } from "./_crc32.ts";
import type { StorageOp } from "../_ops.ts";

/**
 * The file log's binary format.
 *
 * File: `MAGIC` (8 bytes), then frames. Frame: `u32 length` (LE) of the
 * payload, `u32 crc32` of the length bytes and the payload, the payload.
 * Payload: `u8 op` then the op's fields; strings are `u32 byte length` + UTF-8,
 * numbers `f64`, record data raw bytes after a `u32` length.
 */
export const MAGIC: Uint8Array = new TextEncoder().encode("IDMTLOG1");
/** Bytes a frame adds around its payload. */
export const FRAME_OVERHEAD = 8;
/** Largest payload a reader accepts; larger lengths are corruption. */
export const MAX_PAYLOAD_BYTES: number = 256 * 1024 * 1024;
/** Records per append frame are cut near this size, so one frame stays small. */
const APPEND_FRAME_BYTES = 1024 * 1024;

const enum Op {
  Append = 1,
  SaveBatch = 2,
  SettleBatch = 3,
  Remove = 4,
  SetValue = 5,
  DeleteValue = 6,
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A growable buffer of frames. */
export class FrameWriter {
  #buffer = new Uint8Array(64 * 1024);
  #view = new DataView(this.#buffer.buffer);
  #length = 0;
  #frameStart = -1;

  get length(): number {
    return this.#length;
  }

  /** The bytes written so far (a view, valid until the next write). */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  reset(): void {
    this.#length = 0;
  }

  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** Encodes one op as one or more frames. */
  op(op: StorageOp): void {
    switch (op.type) {
      case "append": {
        let frameBytes = 0;
        for (const record of op.records) {
          if (this.#frameStart < 0) this.#begin(Op.Append);
          frameBytes += this.record(record);
          if (frameBytes >= APPEND_FRAME_BYTES) {
            this.#end();
            frameBytes = 0;
          }
        }
        if (this.#frameStart >= 0) this.#end();
        break;
      }
      case "saveBatch":
        this.#begin(Op.SaveBatch);
        this.batch(op.batch);
        this.#end();
        break;
      case "settleBatch":
        this.#begin(Op.SettleBatch);
        this.#string(op.batchId);
        this.#strings(op.removedRecordIds);
        this.#end();
        break;
      case "remove":
        this.#begin(Op.Remove);
        this.#strings(op.recordIds);
        this.#end();
        break;
      case "setValue":
        this.#begin(op.value === undefined ? Op.DeleteValue : Op.SetValue);
        this.#string(op.key);
        if (op.value !== undefined) this.#string(JSON.stringify(op.value));
        this.#end();
        break;
    }
  }

  /** Appends a record's fields to the open append frame; returns the bytes it took. */
  record(record: QueuedRecord): number {
    const { id, key, group, stream, data } = record;
    const start = this.#length;
    // One reservation for the whole record (UTF-8 takes at most 3 bytes per UTF-16 unit).
    this.#reserve(
      4 * 4 + 3 * (id.length + key.length + group.length + stream.length) + 12 + data.length,
    );
    this.#put(id);
    this.#put(key);
    this.#put(group);
    this.#put(stream);
    this.#view.setFloat64(this.#length, record.queuedAt, true);
    this.#view.setUint32(this.#length + 8, data.length, true);
    this.#length += 12;
    this.#buffer.set(data, this.#length);
    this.#length += data.length;
    return this.#length - start;
  }

  batch(batch: StoredBatch): void {
    this.#string(batch.id);
    this.#string(batch.stream);
    this.#f64(batch.attempt);
    this.#f64(batch.createdAt);
    this.#strings(batch.recordIds);
  }

  #begin(op: Op): void {
    this.#reserve(FRAME_OVERHEAD + 1);
    this.#frameStart = this.#length;
    this.#length += FRAME_OVERHEAD;
    this.#buffer[this.#length++] = op;
  }

  #end(): void {
    const start = this.#frameStart;
    const payload = this.#length - start - FRAME_OVERHEAD;
    this.#view.setUint32(start, payload, true);
    const crc = frameChecksum(this.#buffer, start, start + FRAME_OVERHEAD, this.#length);
    this.#view.setUint32(start + 4, crc, true);
    this.#frameStart = -1;
  }

  #strings(values: readonly string[]): void {
    this.#u32(values.length);
    for (const value of values) this.#string(value);
  }

  #string(value: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.#reserve(4 + value.length * 3);
    this.#put(value);
  }

  /** Writes a string with its length; the caller reserved room for it. */
  #put(value: string): void {
    const start = this.#length + 4;
    const written = writeUtf8Into(this.#buffer, start, value);
    this.#view.setUint32(this.#length, written, true);
    this.#length = start + written;
  }

  #u32(value: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.#length, value, true);
    this.#length += 4;
  }

  #f64(value: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#length, value, true);
    this.#length += 8;
  }

  #reserve(bytes: number): void {
    const needed = this.#length + bytes;
    if (needed <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = next;
    this.#view = new DataView(next.buffer);
  }
}

/** Thrown inside the reader when a payload does not parse; the frame counts as corrupt. */
class PayloadError extends Error {}

class PayloadReader {
  #pos: number;
  readonly #end: number;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes: Uint8Array, start: number, end: number) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#pos = start;
    this.#end = end;
  }

  get done(): boolean {
    return this.#pos === this.#end;
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.#pos++]!;
  }

  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return value;
  }

  f64(): number {
    this.#need(8);
    const value = this.#view.getFloat64(this.#pos, true);
    this.#pos += 8;
    return value;
  }

  bytes(): Uint8Array {
    const length = this.u32();
    this.#need(length);
    // A plain copy (the source may be a Node Buffer, whose slice() is a view):
    // the file buffer it comes from is dropped after recovery.
    const value = new Uint8Array(this.#bytes.subarray(this.#pos, this.#pos + length));
    this.#pos += length;
    return value;
  }

  string(): string {
    const length = this.u32();
    this.#need(length);
    const value = decoder.decode(this.#bytes.subarray(this.#pos, this.#pos + length));
    this.#pos += length;
    return value;
  }

  strings(): string[] {
    const count = this.u32();
    // Each string takes at least its 4 length bytes: a huge count is corruption.
    this.#need(count * 4);
    const values: string[] = [];
    for (let i = 0; i < count; i++) values.push(this.string());
    return values;
  }

  #need(bytes: number): void {
    if (this.#pos + bytes > this.#end) throw new PayloadError("payload ends early");
  }
}

function decodePayload(bytes: Uint8Array, start: number, end: number): StorageOp[] {
  const reader = new PayloadReader(bytes, start, end);
  const op = reader.u8();
  const ops: StorageOp[] = [];
  switch (op) {
    case Op.Append: {
      const records: QueuedRecord[] = [];
      while (!reader.done) {
        const id = reader.string();
        const key = reader.string();
        const group = reader.string();
        const stream = reader.string();
        const queuedAt = reader.f64();
        records.push({ id, key, group, stream, queuedAt, data: reader.bytes() });
      }
      ops.push({ type: "append", records });
      break;
    }
    case Op.SaveBatch: {
      const id = reader.string();
      const stream = reader.string();
      const attempt = reader.f64();
      const createdAt = reader.f64();
      ops.push({
        type: "saveBatch",
        batch: { id, stream, attempt, createdAt, recordIds: reader.strings() },
      });
      break;
    }
    case Op.SettleBatch: {
      const batchId = reader.string();
      ops.push({ type: "settleBatch", batchId, removedRecordIds: reader.strings() });
      break;
    }
    case Op.Remove:
      ops.push({ type: "remove", recordIds: reader.strings() });
      break;
    case Op.SetValue: {
      const key = reader.string();
      let value: JsonValue;
      try {
        value = JSON.parse(reader.string());
      } catch {
        throw new PayloadError("value is not JSON");
      }
      ops.push({ type: "setValue", key, value });
      break;
    }
    case Op.DeleteValue:
      ops.push({ type: "setValue", key: reader.string(), value: undefined });
      break;
    default:
      throw new PayloadError(`unknown op ${op}`);
  }
  if (!reader.done) throw new PayloadError("payload has trailing bytes");
  return ops;
}

/** The ops of the frame at `pos`, or `undefined` when no valid frame starts there. */
function frameAt(
  bytes: Uint8Array,
  view: DataView,
  pos: number,
): { ops: StorageOp[]; end: number } | undefined {
  if (pos + FRAME_OVERHEAD + 1 > bytes.length) return undefined;
  const length = view.getUint32(pos, true);
  const end = pos + FRAME_OVERHEAD + length;
  if (length < 1 || length > MAX_PAYLOAD_BYTES || end > bytes.length) return undefined;
  // Cheap test before the checksum, so scanning through garbage stays fast.
  const op = bytes[pos + FRAME_OVERHEAD]!;
  if (op < Op.Append || op > Op.DeleteValue) return undefined;
  const crc = frameChecksum(bytes, pos, pos + FRAME_OVERHEAD, end);
  if (crc !== view.getUint32(pos + 4, true)) return undefined;
  try {
    return { ops: decodePayload(bytes, pos + FRAME_OVERHEAD, end), end };
  } catch (error) {
    if (error instanceof PayloadError || error instanceof TypeError) return undefined;
    throw error;
  }
}

/** What {@linkcode readLog} found. */
export interface LogContents {
  /** `false` when the file does not start with `MAGIC` (foreign or damaged header). */
  readonly header: boolean;
  /** Valid frames found. */
  readonly frames: number;
  /** Corrupt regions skipped (each a run of bytes up to the next valid frame or the end). */
  readonly skippedEntries: number;
  readonly skippedBytes: number;
}

/**
 * Reads a whole log, calling `apply` for each op of every valid frame in file
 * order. A corrupt region (torn tail, garbage, bit rot) is skipped by scanning
 * byte by byte for the next position where a whole frame checks out.
 */
export function readLog(bytes: Uint8Array, apply: (op: StorageOp) => void): LogContents {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = bytes.length >= MAGIC.length && MAGIC.every((byte, i) => bytes[i] === byte);
  let pos = header ? MAGIC.length : 0;
  let frames = 0;
  let skippedEntries = 0;
  let skippedBytes = 0;
  let badFrom = -1;
  while (pos < bytes.length) {
    const frame = frameAt(bytes, view, pos);
    if (frame === undefined) {
      if (badFrom < 0) badFrom = pos;
      pos++;
      continue;
    }
    if (badFrom >= 0) {
      skippedEntries++;
      skippedBytes += pos - badFrom;
      badFrom = -1;
    }
    for (const op of frame.ops) apply(op);
    frames++;
    pos = frame.end;
  }
  if (badFrom >= 0) {
    skippedEntries++;
    skippedBytes += pos - badFrom;
  }
  return { header, frames, skippedEntries, skippedBytes };
}
