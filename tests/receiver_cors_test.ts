// Cross-origin browser traffic (issue 16 item 4): a page of another origin, in headless
// Chromium, sends events to the receiver (preflight and all) and reads the exposed headers;
// a page of an origin that is not allowed cannot.
import assert from "node:assert/strict";
import { bearerAuth } from "../src/receiver/auth.ts";
import { createJsonRoute } from "../src/receiver/json_route.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { BATCH_PATH, recordingSink, wireEvent } from "./_receiver_fixtures.ts";
import { withChromiumPage } from "./_chromium.ts";

interface PageReport {
  origin: string;
  answers: Array<{ status: number; retryAfter: string | null; accepted?: number } | string>;
}

/** The page: 10 events in 5 requests (one repeated), then one over the rate limit. */
function pageScript(receiverUrl: string): string {
  const events = Array.from({ length: 10 }, (_, i) => wireEvent(i + 1));
  return `
const receiver = ${JSON.stringify(receiverUrl + BATCH_PATH)};
const events = ${JSON.stringify(events)};
async function send(batch, key) {
  try {
    const response = await fetch(receiver, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer token-of-acme",
        "x-idempotency-key": key,
      },
      body: JSON.stringify({ events: batch }),
    });
    const body = await response.json();
    return { status: response.status, retryAfter: response.headers.get("retry-after"), accepted: body.accepted };
  } catch (error) {
    return String(error);
  }
}
const answers = [];
for (let i = 0; i < 5; i++) answers.push(await send(events.slice(2 * i, 2 * i + 2), "batch-000" + i));
answers.push(await send(events.slice(0, 2), "batch-0000"));
answers.push(await send(events.slice(0, 1), "batch-0099"));
await fetch("/report", { method: "POST", body: JSON.stringify({ origin: location.origin, answers }) });
if (location.hostname === "127.0.0.1") location.href = location.href.replace("127.0.0.1", "localhost");
`;
}

Deno.test("a page of an allowed origin delivers through the CORS preflight and reads Retry-After; another origin cannot", async () => {
  const sink = recordingSink();
  const reports: PageReport[] = [];
  const { promise: bothReported, resolve } = Promise.withResolvers<PageReport[]>();
  const pageServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/report") {
        reports.push(await request.json());
        if (reports.length === 2) resolve(reports);
        return new Response("ok");
      }
      const script = pageScript(`http://127.0.0.1:${receiverServer.addr.port}`);
      return new Response(`<!doctype html><script type="module">${script}</script>`, {
        headers: { "content-type": "text/html" },
      });
    },
  );
  const pageOrigin = `http://127.0.0.1:${pageServer.addr.port}`;
  // The page's origin is known once its server listens: the receiver is created after.
  const receiver = createReceiver({
    routes: [createJsonRoute({ auth: bearerAuth({ tokens: { "token-of-acme": "acme" } }) })],
    sink,
    // Six requests pass, the seventh waits: its 429 carries Retry-After.
    rateLimit: { requestsPerSecond: 0.01, burst: 6 },
    cors: { allowedOrigins: [pageOrigin] },
    onError: () => {},
  });
  const receiverServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, receiver);
  try {
    const [allowed, denied] = await withChromiumPage(`${pageOrigin}/`, bothReported);
    assert.equal(allowed!.origin, pageOrigin);
    assert.deepEqual(allowed!.answers, [
      { status: 200, retryAfter: null, accepted: 2 },
      { status: 200, retryAfter: null, accepted: 2 },
      { status: 200, retryAfter: null, accepted: 2 },
      { status: 200, retryAfter: null, accepted: 2 },
      { status: 200, retryAfter: null, accepted: 2 },
      { status: 409, retryAfter: null },
      { status: 429, retryAfter: "100" },
    ]);
    assert.equal(denied!.origin, `http://localhost:${pageServer.addr.port}`);
    assert.equal(denied!.answers.length, 7);
    for (const answer of denied!.answers) assert.match(String(answer), /TypeError/);
    assert.equal(sink.events.length, 10);
  } finally {
    await receiverServer.shutdown();
    await pageServer.shutdown();
    await receiver.close();
  }
});

Deno.test("a preflight is answered 204 for an allowed origin, 403 for another, and a plain OPTIONS stays 405", async () => {
  const receiver = createReceiver({
    sink: recordingSink(),
    cors: { allowedOrigins: ["https://app.example"], maxAgeSeconds: 60 },
  });
  const preflight = (origin: string) =>
    receiver(
      new Request(`http://localhost${BATCH_PATH}`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type, x-idempotency-key",
        },
      }),
    );
  const ok = await preflight("https://app.example");
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(ok.headers.get("access-control-allow-methods"), "POST");
  assert.equal(ok.headers.get("access-control-allow-headers"), "content-type, x-idempotency-key");
  assert.equal(ok.headers.get("access-control-max-age"), "60");
  const other = await preflight("https://evil.example");
  assert.equal(other.status, 403);
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  const plain = await receiver(new Request(`http://localhost${BATCH_PATH}`, { method: "OPTIONS" }));
  assert.equal(plain.status, 405);
  await plain.body?.cancel();
  await other.body?.cancel();
  await receiver.close();
});

Deno.test("without the cors option no answer carries CORS headers", async () => {
  const receiver = createReceiver({ sink: recordingSink() });
  const response = await receiver(
    new Request(`http://localhost${BATCH_PATH}`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    }),
  );
  assert.equal(response.status, 405);
  assert.equal(response.headers.get("access-control-allow-origin"), null);
  await response.body?.cancel();
});

Deno.test("bad cors options throw at once", () => {
  assert.throws(
    () => createReceiver({ sink: recordingSink(), cors: { allowedOrigins: ["app.example"] } }),
    TypeError,
  );
  assert.throws(
    () =>
      createReceiver({
        sink: recordingSink(),
        cors: { allowedOrigins: "*", maxAgeSeconds: -1 },
      }),
    RangeError,
  );
});
