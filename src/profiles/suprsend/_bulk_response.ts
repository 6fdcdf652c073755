import type { JsonValue } from "../../event.ts";
import type { RecordOutcome } from "../../ports/profile.ts";

/** One failed record in a {@linkcode SuprsendBulkResponse}. */
export interface SuprsendFailedRecord {
  /** The event as sent. */
  record: JsonValue;
  /** Why it failed, with the server's reason. */
  error: string;
  /** HTTP status or SuprSend's per-record code. */
  code: number | string;
}

/** The SuprSend SDK's `BulkResponse`, with its field names, for code written against it. */
export interface SuprsendBulkResponse {
  /** `success`: all delivered; `fail`: none; `partial`: some. */
  status: "success" | "partial" | "fail";
  /** Records covered. */
  total: number;
  /** Records delivered. */
  success: number;
  /** Records failed. */
  failure: number;
  /** The failed records, with why (the SDK's name, `failed_records`). */
  // deno-lint-ignore camelcase
  failed_records: SuprsendFailedRecord[];
}

/**
 * Summarises per-record outcomes the way SuprSend's SDKs do: `success` when
 * every record was delivered (a skipped duplicate counts as delivered), `fail`
 * when none was, `partial` otherwise. A record still awaiting a retry counts
 * as a failure here, with its reason.
 *
 * @example Usage
 * ```ts
 * import { toSuprsendBulkResponse } from "./_bulk_response.ts";
 * import assert from "node:assert/strict";
 *
 * const response = toSuprsendBulkResponse([
 *   { record: { event: "a" }, outcome: { status: "delivered" } },
 *   { record: { event: "b" }, outcome: { status: "failed", reason: "bad", code: 400 } },
 * ]);
 * assert.equal(response.status, "partial");
 * assert.deepEqual(response.failed_records, [{ record: { event: "b" }, error: "bad", code: 400 }]);
 * ```
 */
export function toSuprsendBulkResponse(
  entries: ReadonlyArray<{ readonly record: JsonValue; readonly outcome: RecordOutcome }>,
): SuprsendBulkResponse {
  const failedRecords: SuprsendFailedRecord[] = [];
  for (const { record, outcome } of entries) {
    if (outcome.status === "failed" || outcome.status === "retry") {
      failedRecords.push({ record, error: outcome.reason, code: outcome.code });
    }
  }
  const total = entries.length;
  const failure = failedRecords.length;
  const success = total - failure;
  const status = failure === 0 ? "success" : success === 0 ? "fail" : "partial";
  return { status, total, success, failure, failed_records: failedRecords };
}
