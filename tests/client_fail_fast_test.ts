// Options that can never work fail in the constructor with a TypeError that says what was
// wrong, never echoing a secret; before, a header-invalid token made every `fetch` throw and
// the client retried it as a network error for a minute.
import assert from "node:assert/strict";
import { Client } from "../src/client.ts";
import { getfluxlyProfile } from "../src/profiles/getfluxly/profile.ts";

const ENDPOINT = "http://127.0.0.1:9/v1/events/batch";
const SECRET = "s3cr3t-tök€n";

function assertThrowsTypeError(create: () => unknown, pattern: RegExp): void {
  assert.throws(create, (error: unknown) => {
    assert.ok(error instanceof TypeError, `a ${(error as Error)?.constructor?.name}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes(SECRET), "the message echoes the secret");
    assert.ok(!error.message.includes("s3cr3t"), "the message echoes part of the secret");
    return true;
  });
}

Deno.test("an option the client does not know (a misspelt or removed one) is refused by the constructor, never ignored", async () => {
  // The flat backoff options of earlier versions, a typo and an option of another component.
  for (const key of ["backoffBaseMs", "flushIntervall", "maxProcessingBytes"]) {
    assertThrowsTypeError(
      () =>
        new Client({ endpoint: ENDPOINT, [key]: 10 } as ConstructorParameters<typeof Client>[0]),
      new RegExp(
        `^Cannot create client as '${key}' is not one of its options: expected .*\\bretry\\b`,
      ),
    );
  }
  assertThrowsTypeError(
    () =>
      new Client({
        endpoint: ENDPOINT,
        retry: { retries: 3 } as unknown as { maxRetries: number },
      }),
    /^Cannot retry as 'retries' is not one of its options: expected .*\bmaxRetries\b/,
  );
  // Every option it documents is taken.
  const client = new Client({
    endpoint: ENDPOINT,
    flushAt: 10,
    retry: { maxRetries: 1 },
    sampling: {},
    exitHook: false,
  });
  await client.close({ timeoutMs: 100 });
});

Deno.test("a token that is not a valid header value is refused by the constructor, unechoed", () => {
  assertThrowsTypeError(
    () => new Client({ endpoint: ENDPOINT, token: SECRET, exitHook: false }),
    /'token' must be a valid HTTP header value .*: the value of 'authorization' is not \(not shown\)/,
  );
  assertThrowsTypeError(
    () => new Client({ endpoint: ENDPOINT, token: "s3cr3t\r\nx-injected: 1", exitHook: false }),
    /'token' must be a valid HTTP header value/,
  );
  assertThrowsTypeError(
    () => getfluxlyProfile({ token: `gflux_${SECRET}` }),
    /Cannot create GetFluxly profile as 'token' must be a valid HTTP header value/,
  );
});

Deno.test("a header with an invalid name or value is refused by the constructor", () => {
  assertThrowsTypeError(
    () => new Client({ endpoint: ENDPOINT, headers: { "x api key": "k" }, exitHook: false }),
    /'headers' must hold valid HTTP header names: current value has "x api key"/,
  );
  assertThrowsTypeError(
    () => new Client({ endpoint: ENDPOINT, headers: { "x-api-key": SECRET }, exitHook: false }),
    /'headers' must be a valid HTTP header value .*: the value of 'x-api-key' is not/,
  );
});

Deno.test("an endpoint that is not http(s), or relative outside a page, is refused by the constructor", () => {
  assertThrowsTypeError(
    () => new Client({ endpoint: "ftp://127.0.0.1/collect", exitHook: false }),
    /'endpoint' must be an absolute http\(s\) URL.*: current value uses 'ftp:'/,
  );
  assertThrowsTypeError(
    () => new Client({ endpoint: "/collect", exitHook: false }),
    /'endpoint' must be an absolute http\(s\) URL, or in a page a path relative to it: current value is "\/collect"/,
  );
});

Deno.test("valid headers and tokens (surrounding spaces are trimmed by fetch) are accepted", async () => {
  const client = new Client({
    endpoint: ENDPOINT,
    token: " tok-en_1.2~ ",
    headers: { "X-Tenant": "acme café" }, // Latin-1 is a valid header value
    exitHook: false,
  });
  await client.close();
});

Deno.test("a request fetch refuses before sending (an invalid header from a hook) fails at once with its reason, not retried", async () => {
  const errors: string[] = [];
  const client = new Client({
    endpoint: ENDPOINT,
    exitHook: false,
    hooks: {
      beforeRequest: [({ request }) => ({
        ...request,
        headers: { ...request.headers, "x-signature": "line\nbreak" },
      })],
    },
    onError: (error) => errors.push(error.message),
  });
  try {
    client.track("signed", {}, { userId: "u1" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      client.flush(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("flush() was retrying for 5 s")), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(result.status, "fail");
    assert.equal(result.failedRecords[0]!.code, "request");
    assert.match(
      result.failedRecords[0]!.error,
      /header 'x-signature' is not a valid HTTP header name and value \(value not shown\)/,
    );
    assert.equal(client.stats().retried, 0);
    assert.equal(errors.length, 1);
  } finally {
    await client.close({ timeoutMs: 1000 });
  }
});
