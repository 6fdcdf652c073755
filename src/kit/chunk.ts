import type { Framing } from "../ports/profile.ts";
import { optionChecks } from "../_util/checks.ts";

const { positiveInteger } = optionChecks("chunk");

export type { Framing } from "../ports/profile.ts";

/**
 * Framing of `prefix item,item,… suffix` bodies, such as `{"events":[…]}`.
 *
 * @example Usage
 * ```ts
 * import { jsonArrayFraming } from "./chunk.ts";
 * import assert from "node:assert/strict";
 *
 * const framing = jsonArrayFraming('{"events":[', "]}");
 * assert.equal(framing.emptyBytes, 13);
 * assert.equal(framing.itemBytes(10, true, "track", true), 10);
 * assert.equal(framing.itemBytes(10, true, "identify", false), 11);
 * ```
 */
export function jsonArrayFraming(prefix: string, suffix: string): Framing {
  const emptyBytes = new TextEncoder().encode(prefix + suffix).byteLength;
  return {
    emptyBytes,
    itemBytes: (size, firstInGroup, _group, firstInBody = firstInGroup) =>
      firstInBody ? size : size + 1,
  };
}

/** `{"events":[…]}`: idemtrack's generic batch body. */
export const JSON_ARRAY_FRAMING: Framing = jsonArrayFraming('{"events":[', "]}");

/** Options of {@linkcode chunkBySize}. Every cap holds for every chunk at once. */
export interface ChunkOptions<T> {
  /** Encoded size of an item in bytes. */
  sizeOf: (item: T) => number;
  /** Group (type) of an item, for `maxItemsPerGroup`. @default {() => "default"} */
  groupOf?: (item: T) => string;
  /** Body framing. @default {JSON_ARRAY_FRAMING} */
  framing?: Framing;
  /** Largest body in bytes, framing included. @default {512000} */
  maxBytes?: number;
  /** Most items per chunk. @default {Infinity} */
  maxItems?: number;
  /** Most items of one group per chunk (Skalin's 100 identities / 100 features). @default {Infinity} */
  maxItemsPerGroup?: number;
}

/** Result of {@linkcode chunkBySize}. */
export interface ChunkPlan<T> {
  /** Chunks in input order; concatenated they are the input minus `oversize`. */
  chunks: T[][];
  /** Items too large to fit in any body on their own: never sent, reported. */
  oversize: T[];
}

const DEFAULT_GROUP = () => "default";

/**
 * Splits items, in order, into request-sized chunks that respect a byte cap
 * (framing included), an item cap and a per-group item cap together.
 *
 * A chunk closes when the next item would break a cap; order is kept. An item
 * that cannot fit even alone is put in `oversize`, never silently dropped.
 *
 * @example Usage
 * ```ts
 * import { chunkBySize } from "./chunk.ts";
 * import assert from "node:assert/strict";
 *
 * const events = ['{"a":1}', '{"b":2}', '{"c":3}'];
 * const plan = chunkBySize(events, { sizeOf: (e) => e.length, maxBytes: 13 + 7 + 1 + 7 });
 * assert.deepEqual(plan.chunks, [['{"a":1}', '{"b":2}'], ['{"c":3}']]);
 * ```
 */
export function chunkBySize<T>(items: Iterable<T>, options: ChunkOptions<T>): ChunkPlan<T> {
  const {
    sizeOf,
    groupOf = DEFAULT_GROUP,
    framing = JSON_ARRAY_FRAMING,
    maxBytes = 512_000,
    maxItems = Infinity,
    maxItemsPerGroup = Infinity,
  } = options;
  positiveInteger("maxBytes", maxBytes, true);
  positiveInteger("maxItems", maxItems, true);
  positiveInteger("maxItemsPerGroup", maxItemsPerGroup, true);

  const chunks: T[][] = [];
  const oversize: T[] = [];
  let current: T[] = [];
  let bytes = framing.emptyBytes;
  const perGroup = new Map<string, number>();

  for (const item of items) {
    const size = sizeOf(item);
    const group = groupOf(item);
    const alone = framing.itemBytes(size, true, group, true);
    if (framing.emptyBytes + alone > maxBytes) {
      oversize.push(item);
      continue;
    }
    if (current.length > 0) {
      const inGroup = perGroup.get(group) ?? 0;
      const added = framing.itemBytes(size, inGroup === 0, group, false);
      if (bytes + added <= maxBytes && current.length < maxItems && inGroup < maxItemsPerGroup) {
        current.push(item);
        bytes += added;
        perGroup.set(group, inGroup + 1);
        continue;
      }
      chunks.push(current);
      current = [];
      perGroup.clear();
    }
    current.push(item);
    bytes = framing.emptyBytes + alone;
    perGroup.set(group, 1);
  }
  if (current.length > 0) chunks.push(current);
  return { chunks, oversize };
}
