// A collector that echoes request headers in its error bodies must not get the client's
// credentials into what the client reports (failedRecords[].error, onError).
import assert from "node:assert/strict";
import { Client } from "../src/client.ts";
import type { IdemtrackError } from "../src/errors/idemtrack_error.ts";
import { jsonProfile } from "../src/profiles/json/profile.ts";

const TOKEN = "tok_live_7f3a9c2e5b1d4f60";

/** Answers every request 400 (or 500), echoing its headers in the error body. */
function startEchoingServer(status: number): { origin: string; close(): Promise<void> } {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) =>
      Response.json({
        error: "bad_request",
        detail: `refused; request headers were ${JSON.stringify([...request.headers])}`,
      }, { status }),
  );
  return { origin: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

Deno.test("a server echoing the Authorization header gets no token into failed records or onError", async () => {
  const server = startEchoingServer(400);
  const errors: IdemtrackError[] = [];
  try {
    const client = new Client({
      profile: jsonProfile({ endpoint: server.origin, token: TOKEN }),
      flushIntervalMs: 0,
      exitHook: false,
      onError: (error) => errors.push(error),
    });
    const result = await client.send([{ name: "order_paid", userId: "u1" }]);
    await client.close();
    assert.equal(result.status, "fail");
    const reported = [
      ...result.failedRecords.map((record) => record.error),
      ...errors.map((error) => `${error.message} ${String(error.cause ?? "")}`),
    ].join("\n");
    assert.match(reported, /\[redacted\]/, reported);
    assert.doesNotMatch(reported, new RegExp(TOKEN));
    assert.match(reported, /idempotency-key/i, "other headers are still reported");
  } finally {
    await server.close();
  }
});

Deno.test("credentials are found in a Basic pair, its user and its password, and never in the idempotency key", async () => {
  const { redact, credentialsOf } = await import("../src/pipeline/_redact.ts");
  const basic = `Basic ${btoa("acct_1234:pw-s3cr3t-99")}`;
  const credentials = credentialsOf({
    authorization: basic,
    "x-idempotency-key": "batch-key-0001",
    "content-type": "application/json",
  });
  const text = redact(
    `echo: ${basic} user acct_1234 pass pw-s3cr3t-99 key batch-key-0001`,
    credentials,
  );
  assert.equal(text, "echo: [redacted] user [redacted] pass [redacted] key batch-key-0001");
});
