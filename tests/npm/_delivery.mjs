// Exactly-once delivery checks shared by the Node, Bun and workerd tests: a loopback receiver
// from the installed package (loaded with require(), as CommonJS code would) that loses the
// answer to its first request, so the client must resend a batch the receiver already has.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { PACKAGE } from "./_project.mjs";

/**
 * A module for the package's root entry point (Client + JSON profile): `send()` tracks `count`
 * events keyed `<prefix>-event-<i>` to the endpoint and resolves the close summary. The same
 * code runs on Node and Bun (through CLIENT_SCRIPT) and in workerd (imported by a worker).
 */
export const SEND_MODULE = `import { Client } from "${PACKAGE}";

export async function send(endpoint, count, prefix) {
  const client = new Client({ endpoint, token: "token-of-acme", flushAt: 20 });
  for (let i = 0; i < count; i++) {
    client.track("runtime_checked", { i }, { userId: "u1", idempotencyKey: \`\${prefix}-event-\${i}\` });
  }
  return await client.close({ timeoutMs: 20_000 });
}
`;

/** A script around SEND_MODULE (saved as send.mjs): arguments endpoint count prefix; prints the summary. */
export const CLIENT_SCRIPT = `import { send } from "./send.mjs";

const [endpoint, count, prefix] = process.argv.slice(2);
console.log(JSON.stringify(await send(endpoint, Number(count), prefix)));
`;

/**
 * Serves the installed package's receiver on 127.0.0.1 (JSON route, bearer token), through a
 * wrapper that replaces the receiver's answer to the first request with a 503: the events
 * are accepted but the client does not know it.
 */
export async function startLossyReceiver(project) {
  const require = createRequire(join(project, "package.json"));
  const { bearerAuth, callbackSink, createJsonRoute, createReceiver, serveNode } = require(
    `${PACKAGE}/receiver`,
  );
  const keys = [];
  const receiver = createReceiver({
    routes: [createJsonRoute({ auth: bearerAuth({ tokens: { "token-of-acme": "acme" } }) })],
    sink: callbackSink((events) => void keys.push(...events.map((event) => event.key))),
  });
  let requests = 0;
  const statuses = [];
  const server = await serveNode(async (request, info) => {
    const response = await receiver(request, info);
    statuses.push(response.status);
    return ++requests === 1 ? new Response("lost answer", { status: 503 }) : response;
  }, { port: 0 });
  return {
    url: server.url,
    keys,
    statuses,
    async close() {
      await server.close();
      await receiver.close();
    },
  };
}

/**
 * Every key of `<prefix>-event-0 … <prefix>-event-<count-1>` reached the sink once, although
 * the first answer was lost and its batch resent; and the client's close summary, when given,
 * counts them all as delivered (or already there), none failed, dropped or pending.
 */
export function assertExactlyOnce(collector, prefix, count, summary) {
  const expected = Array.from({ length: count }, (_, i) => `${prefix}-event-${i}`);
  assert.deepEqual([...collector.keys].sort(), expected.sort(), "each event reached the sink once");
  assert.ok(collector.statuses.includes(409), "the resent batch was answered as a duplicate");
  if (summary === undefined) return;
  assert.equal(summary.delivered + summary.duplicates, count, JSON.stringify(summary));
  assert.equal(summary.failed + summary.dropped + summary.pending, 0, JSON.stringify(summary));
}
