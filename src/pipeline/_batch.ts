import type { RetryState } from "../kit/retry.ts";
import type { QueuedRecord, StoredBatch } from "../ports/storage.ts";
import type { Entry } from "./_entry.ts";
import type { Waiter } from "./_waiter.ts";

/**
 * A batch's events, however the queue keeps them (see `queue/`): what the
 * rest of the engine reads of them, without knowing the layout.
 */
export interface Members {
  readonly length: number;
  /** The stream they belong to. */
  readonly stream: string;
  /** Their entries, marked in a batch (made anew at each call when the queue keeps no objects). */
  entries(): Entry[];
  /** Marks them in a batch; returns how many were not before. */
  enter(): number;
  /** Each one's seq, size and `deliver()` waiter, without an entry per event. */
  forEach(visit: (seq: number, bytes: number, bulk: Waiter | undefined) => void): void;
  /** Their record ids, in order. */
  ids(): string[];
  /** Plain records (own fields), for a profile that reads them. */
  records(): QueuedRecord[];
  /** Each one's bytes, in order. */
  data(): Uint8Array[];
  /** `prefix`, their bytes separated by commas, and `suffix`, in one buffer from `allocate`. */
  joinJson(
    prefix: Uint8Array,
    suffix: Uint8Array,
    allocate?: (length: number) => Uint8Array,
  ): Uint8Array;
}

/** A formed batch: fixed membership and key, sending or waiting to retry. */
export interface ActiveBatch {
  id: string;
  stream: string;
  readonly members: Members;
  attempt: number;
  createdAt: number;
  retry: RetryState;
  saved: boolean;
  /** Its save in progress, if any (a batch formed ahead of a free slot is saved at once). */
  saving?: Promise<void> | undefined;
}

/** A batch as storage keeps it. */
export function stored(batch: ActiveBatch): StoredBatch {
  return {
    id: batch.id,
    stream: batch.stream,
    recordIds: batch.members.ids(),
    attempt: batch.attempt,
    createdAt: batch.createdAt,
  };
}
