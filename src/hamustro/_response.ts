import type { BatchOutcome } from "../profile.ts";
import type { TransportResponse } from "../transport.ts";

const MAX_REASON_LENGTH = 200;

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date), if any. */
export function retryAfterMs(response: TransportResponse, now: number): number | undefined {
  const header = response.headers.get("retry-after");
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A short reason for a failed answer: the body's `error`/`detail` when it is JSON, else the status. */
function reasonOf(response: TransportResponse): string {
  const fallback = `HTTP ${response.status}`;
  if (response.body === "") return fallback;
  try {
    const parsed: unknown = JSON.parse(response.body);
    if (typeof parsed === "object" && parsed !== null) {
      const { error, detail } = parsed as { error?: unknown; detail?: unknown };
      const text = [error, detail].filter((part) => typeof part === "string").join(": ");
      if (text !== "") return `${fallback}: ${text}`.slice(0, MAX_REASON_LENGTH);
    }
  } catch {
    // Not JSON: the status says enough.
  }
  return fallback;
}

/**
 * Reads a collector's answer. Hamustro answers for the whole collection:
 * 200 (and 204) mean every payload is in; 413 asks for smaller bodies; a
 * status in `permanentStatuses` fails the batch (reported, never silent);
 * anything else keeps every payload for the next attempt, as the seed asks.
 */
export function readHamustroResponse(
  response: TransportResponse,
  permanentStatuses: ReadonlySet<number>,
  now: number,
): BatchOutcome {
  const { status } = response;
  if (status === 200 || status === 204) {
    return { kind: "all", outcome: { status: "delivered" } };
  }
  if (status === 413) return { kind: "split", reason: reasonOf(response) };
  if (permanentStatuses.has(status)) {
    return { kind: "all", outcome: { status: "failed", reason: reasonOf(response), code: status } };
  }
  const wait = retryAfterMs(response, now);
  return {
    kind: "all",
    outcome: wait === undefined
      ? { status: "retry", reason: reasonOf(response), code: status }
      : { status: "retry", reason: reasonOf(response), code: status, retryAfterMs: wait },
  };
}
