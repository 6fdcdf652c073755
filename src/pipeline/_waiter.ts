import type { DeliveryResult, FailedRecord } from "./types.ts";

/** Someone waiting for a set of events: a `flush()` or a `deliver()`. */
export interface Waiter {
  /** Flush waiters cover entries with seq <= target; bulk waiters their own entries. */
  readonly target: number;
  remaining: number;
  readonly result: DeliveryResult;
  readonly resolve: (result: DeliveryResult) => void;
}

/** The result of an empty set of events (a success). */
export function emptyResult(): DeliveryResult {
  return { status: "success", total: 0, success: 0, failure: 0, failedRecords: [] };
}

/** Sets a complete result's status from its counts. */
export function finish(result: DeliveryResult): DeliveryResult {
  result.status = result.failure === 0 ? "success" : result.success === 0 ? "fail" : "partial";
  return result;
}

/** Counts an event whose life ended into a waiter's result. */
export function count(waiter: Waiter, failure: FailedRecord | undefined): void {
  waiter.remaining--;
  waiter.result.total++;
  if (failure === undefined) waiter.result.success++;
  else {
    waiter.result.failure++;
    waiter.result.failedRecords.push(failure);
  }
}

/** Counts an event into a waiter's result, and resolves the waiter when it was the last. */
export function countAndResolve(waiter: Waiter, failure: FailedRecord | undefined): void {
  count(waiter, failure);
  if (waiter.remaining === 0) waiter.resolve(finish(waiter.result));
}
