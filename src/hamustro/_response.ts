import type { BatchOutcome } from "../ports/profile.ts";
import {
  ALL_DELIVERED,
  classifyResponse,
  readErrorBody,
  type StatusTable,
  type StatusVerdict,
} from "../kit/response.ts";
import type { TransportResponse } from "../ports/transport.ts";

/**
 * Hamustro's statuses: the collector answers for the whole collection.
 * 200 means every payload is in (the seed deletes payloads after a 200 and
 * nothing else; the collector's 204 is for a collection without payloads,
 * which is never sent); 413 asks for smaller bodies; a
 * status in `permanentStatuses` fails the batch (reported, never silent);
 * anything else keeps every payload for the next attempt, as the seed asks.
 */
export function hamustroStatusTable(permanentStatuses: Iterable<number>): StatusTable {
  const table: Record<string, StatusVerdict> = {
    "1xx": "retry",
    "2xx": "retry",
    "3xx": "retry",
    "4xx": "retry",
    "5xx": "retry",
  };
  for (const status of permanentStatuses) table[status] = "failed";
  return Object.freeze({ ...table, 200: "delivered", 413: "split" });
}

/** `HTTP <status>`, followed by the body's reason when it gave one. */
function reasonOf(response: TransportResponse): string {
  const { reason } = readErrorBody(response.body);
  return reason === "" ? `HTTP ${response.status}` : `HTTP ${response.status}: ${reason}`;
}

/** Reads a collector's answer by {@linkcode hamustroStatusTable}. */
export function readHamustroResponse(
  response: TransportResponse,
  table: StatusTable,
  now: number,
): BatchOutcome {
  return classifyResponse(response, now, { table, reason: reasonOf(response) }) ?? ALL_DELIVERED;
}
