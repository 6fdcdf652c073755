/**
 * The JSON route's benchmark load (`jsonEvent`) and the hand-written floor
 * the receiver's JSON route is measured against (`jsonFloor`): what
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

/** One JSON wire event of ~1 KB (so 500 make a ~500 KB body). */
export function jsonEvent(n: number): Record<string, unknown> {
  return {
    type: "track",
    event: "order_paid",
    user_id: `user-${n % 5000}`,
    properties: {
      total: n % 977,
      currency: "EUR",
      items: n % 7,
      coupon: n % 3 === 0 ? "WINTER" : null,
      note: "lorem ipsum dolor sit amet ".repeat(26),
    },
    context: { page: "/checkout", locale: "fr-FR", user_agent: "Mozilla/5.0 (X11; Linux x86_64)" },
    timestamp: "2026-11-25T08:00:00.000Z",
    idempotency_key: `evt-${n.toString(36).padStart(10, "0")}-${(n * 7919).toString(36)}`,
  };
}
