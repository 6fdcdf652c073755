import type { RecordResult } from "./route.ts";

/** Timing of one claim or commit, decided by the receiver (so its clock is the only one). */
export interface DedupeTiming {
  /** Now, epoch milliseconds. */
  readonly now: number;
  /** How long a completed key is remembered, milliseconds. */
  readonly ttlMs: number;
  /**
   * How long a claim in progress holds before it is considered abandoned (a
   * crash between claim and commit must not block the key for the whole TTL).
   */
  readonly leaseMs: number;
}

/** Result of claiming a request key. */
export type RequestClaim =
  /** The key was free and is now held by `owner` until commit or release. */
  | { readonly state: "claimed"; readonly owner: string }
  /** Another request with this key and body is being processed. */
  | { readonly state: "in_progress"; readonly retryAfterMs: number }
  /** The key was completed with this body; here are the original results. */
  | { readonly state: "completed"; readonly results: readonly RecordResult[] }
  /** The key was used (completed or in progress) with a different body. */
  | { readonly state: "mismatch" };

/** Result of claiming one event key. */
export type EventClaim = "claimed" | "duplicate" | "in_progress";

/** Result of {@linkcode DedupeStore.claimBatch}. */
export interface BatchClaim {
  /** The request key's claim, when the request had one. */
  readonly request?: RequestClaim;
  /** One answer per event key; empty when the request key was not `"claimed"`. */
  readonly events: EventClaim[];
}

/** What a successful request makes permanent. */
export interface DedupeCommit {
  /** Claim owner returned by {@linkcode DedupeStore.claimRequest} / used for events. */
  readonly owner: string;
  /** The request key and its body fingerprint, when the request had one. */
  readonly request?: {
    readonly key: string;
    readonly fingerprint: string;
    readonly results: readonly RecordResult[];
  };
  /** Event keys this request claimed (they become "seen" for the TTL). */
  readonly eventKeys: readonly string[];
}

/** What a failed request gives back so a retry can succeed. */
export interface DedupeRelease {
  /** The claim owner the request used. */
  readonly owner: string;
  /** The request key the request claimed, if it had one. */
  readonly requestKey?: string;
  /** Event keys this request claimed, freed for the retry. */
  readonly eventKeys: readonly string[];
}

/**
 * Where the receiver remembers idempotency keys. Every key is scoped by
 * tenant: two tenants' keys never collide. Claims must be atomic — two
 * concurrent claims of one key never both return `"claimed"`, also across
 * processes for a shared persistent store.
 *
 * Life of a key: `claim` (held by an owner for the lease) → `commit` (seen for
 * the TTL) or `release` (free again, e.g. when the sink failed).
 */
export interface DedupeStore {
  /** Claims a request key for `owner`, or says why not. */
  claimRequest(
    tenant: string,
    key: string,
    fingerprint: string,
    owner: string,
    timing: DedupeTiming,
  ): Promise<RequestClaim> | RequestClaim;
  /**
   * Claims event keys for `owner`, one answer per key in order. A key that
   * appears twice in `keys` is `"duplicate"` the second time.
   */
  claimEvents(
    tenant: string,
    keys: readonly string[],
    owner: string,
    timing: DedupeTiming,
  ): Promise<EventClaim[]> | EventClaim[];
  /**
   * Optional: claims the request key (when given) and, if it is `"claimed"`,
   * the event keys, as one operation — a networked store answers a request in
   * one round trip instead of two.
   */
  claimBatch?(
    tenant: string,
    request: { readonly key: string; readonly fingerprint: string } | undefined,
    eventKeys: readonly string[],
    owner: string,
    timing: DedupeTiming,
  ): Promise<BatchClaim>;
  /** Makes the owner's claims permanent for the TTL. */
  commit(tenant: string, commit: DedupeCommit, timing: DedupeTiming): Promise<void> | void;
  /** Frees the owner's claims (keys claimed by someone else are left alone). */
  release(tenant: string, release: DedupeRelease): Promise<void> | void;
  /**
   * Whether the store is reachable, for `/readyz`: resolves `true` (or nothing) when it
   * is, `false` or a rejection (its message says why) when not.
   */
  ping?(): Promise<boolean | void> | boolean | void;
  /** Releases resources (database handles). */
  close?(): Promise<void> | void;
}
