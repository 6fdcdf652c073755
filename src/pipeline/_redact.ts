import type { BatchOutcome, RecordOutcome } from "../ports/profile.ts";

const REDACTED = "[redacted]";

/** Request headers that carry credentials (the idempotency key is not one). */
const CREDENTIAL_HEADER =
  /^(authorization|proxy-authorization|cookie)$|token|secret|password|api-?key/i;

/** Credentials shorter than this are not searched for: they would match ordinary words. */
const MIN_SECRET_LENGTH = 6;

/**
 * The credentials a request carries in its headers: each whole value, the
 * part after an auth scheme (`Bearer xyz` → `xyz`), and a Basic pair's
 * decoded user and password.
 */
export function credentialsOf(headers: Readonly<Record<string, string>>): string[] {
  const found = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADER.test(name) || /idempotency/i.test(name)) continue;
    found.add(value);
    const scheme = /^(\w+)\s+(\S+)$/.exec(value);
    if (scheme === null) continue;
    found.add(scheme[2]!);
    if (scheme[1]!.toLowerCase() !== "basic") continue;
    try {
      const pair = atob(scheme[2]!);
      found.add(pair);
      for (const part of pair.split(":")) found.add(part);
    } catch {
      // Not base64: only the raw value is searched for.
    }
  }
  return [...found].filter((secret) => secret.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length);
}

/** `text` with every credential replaced by `[redacted]`. */
export function redact(text: string, credentials: readonly string[]): string {
  for (const secret of credentials) {
    if (text.includes(secret)) text = text.replaceAll(secret, REDACTED);
  }
  return text;
}

function redactRecord(outcome: RecordOutcome, credentials: readonly string[]): RecordOutcome {
  if (!("reason" in outcome)) return outcome;
  const reason = redact(outcome.reason, credentials);
  return reason === outcome.reason ? outcome : { ...outcome, reason };
}

/**
 * A server's answer as the client reports it, without the credentials the
 * request sent: a server that echoes request headers in its error bodies
 * must not put a token into `failedRecords[].error` or `onError`.
 */
export function redactOutcome(
  outcome: BatchOutcome,
  headers: Readonly<Record<string, string>>,
): BatchOutcome {
  // Most answers carry no reason (delivered, duplicate): nothing to search, no credentials to list.
  const reasons = outcome.kind === "split" ||
    (outcome.kind === "all"
      ? "reason" in outcome.outcome
      : outcome.outcomes.some((each) => "reason" in each));
  if (!reasons) return outcome;
  const credentials = credentialsOf(headers);
  if (credentials.length === 0) return outcome;
  switch (outcome.kind) {
    case "split":
      return { kind: "split", reason: redact(outcome.reason, credentials) };
    case "all":
      return { kind: "all", outcome: redactRecord(outcome.outcome, credentials) };
    case "each":
      return {
        kind: "each",
        outcomes: outcome.outcomes.map((each) => redactRecord(each, credentials)),
      };
  }
}
