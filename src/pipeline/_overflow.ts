import type { IdemtrackEvent } from "../event.ts";
import { QueueFullError } from "../errors/queue_full_error.ts";
import type { Entry } from "./_entry.ts";
import type { Queue } from "./queue/queue.ts";
import type { FailedRecord, OverflowPolicy } from "./types.ts";

/** The queue bounds and what happens at them. */
export interface QueueBounds {
  readonly maxQueueSize: number;
  readonly maxQueueBytes: number;
  readonly overflow: OverflowPolicy;
}

/** What is held now, as the bounds count it. */
export interface HeldCounts {
  /** Events held (queued and in batches). */
  readonly held: number;
  readonly heldBytes: number;
}

/** What the overflow policy decided for one new event of `size` bytes. */
export interface Overflow {
  /** Whether the new event may be queued. */
  readonly admit: boolean;
  /** Events dropped (the oldest ones, or the new one), for the `drop` hook. */
  readonly dropped: FailedRecord[];
  /** Queued events dropped (to remove from storage). */
  readonly removed: Entry[];
}

/** Whether one more event of `size` bytes passes a bound. */
export function isFull(bounds: QueueBounds, held: HeldCounts, size: number): boolean {
  return held.held + 1 > bounds.maxQueueSize || held.heldBytes + size > bounds.maxQueueBytes;
}

/**
 * Applies the overflow policy at a bound: throws for `reject`, drops the
 * oldest queued events (`drop(entry, reason)` ends each one's life) for `dropOldest`,
 * else drops the new event (also when everything held is in flight).
 *
 * @throws {QueueFullError} under the `reject` policy.
 */
export function makeRoom(
  bounds: QueueBounds,
  held: HeldCounts,
  queue: Queue,
  size: number,
  incoming: { key: string; data: () => Uint8Array; event: IdemtrackEvent | undefined },
  drop: (entry: Entry, reason: string) => FailedRecord,
): Overflow {
  const bound = held.held + 1 > bounds.maxQueueSize ? "events" : "bytes";
  const limit = bound === "events" ? bounds.maxQueueSize : bounds.maxQueueBytes;
  if (bounds.overflow === "reject") throw new QueueFullError(bound, limit);
  const reason = new QueueFullError(bound, limit).message;
  const dropped: FailedRecord[] = [];
  const removed: Entry[] = [];
  if (bounds.overflow === "dropOldest") {
    while (isFull(bounds, held, size)) {
      const oldest = queue.shift();
      if (oldest === undefined) break;
      removed.push(oldest);
      dropped.push(drop(oldest, reason));
    }
  }
  if (!isFull(bounds, held, size)) return { admit: true, dropped, removed };
  // dropNewest, or everything held is in flight: the new event is the one dropped.
  const { key, data, event } = incoming;
  const failed: FailedRecord = { key, data: data(), error: reason, code: "dropped" };
  dropped.push(event === undefined ? failed : { ...failed, event });
  return { admit: false, dropped, removed };
}
