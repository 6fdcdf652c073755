/**
 * The hand-written floor the receiver's JSON route is measured against: what
 * any collector must do with a batch — read the body, parse it, check each
 * event's `type` and `idempotency_key`, build one JSON line per event (the
 * sink's line format) — and nothing more: no limits, no dedupe, no metrics.
 *
 * @module
 */

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A `Request → Response` floor that hands each request's lines to `write`. */
export function jsonFloor(
  write: (lines: string) => Promise<void> | void,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const body = new Uint8Array(await request.arrayBuffer());
    const { events } = JSON.parse(decoder.decode(body)) as { events: Record<string, unknown>[] };
    const now = Date.now();
    let text = "";
    for (const event of events) {
      if (typeof event.type !== "string" || typeof event.idempotency_key !== "string") {
        return new Response("bad event", { status: 400 });
      }
      text += JSON.stringify({
        tenant: "default",
        route: "json",
        key: event.idempotency_key,
        received_at: now,
        event,
      }) + "\n";
    }
    await write(text);
    return Response.json({ accepted: events.length });
  };
}
