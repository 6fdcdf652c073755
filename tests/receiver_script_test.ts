import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { batchRequest, wireEvent } from "./_receiver_fixtures.ts";
import { serviceUrl } from "./_services.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Starts `scripts/receiver.ts` and reads the base URL it prints first. */
async function start(args: string[]): Promise<{ child: Deno.ChildProcess; url: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--config",
      `${ROOT}deno.json`,
      `${ROOT}scripts/receiver.ts`,
      ...args,
    ],
    stdout: "piped",
    stderr: "null",
    cwd: ROOT,
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  const url = text.split("\n")[0]!;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, `receiver printed ${JSON.stringify(text)}`);
  return { child, url };
}

async function kill9(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel().catch(() => {});
}

async function send(url: string, body: unknown, key: string, token: string): Promise<Response> {
  const request = batchRequest(body, { key, token, base: url });
  return await fetch(request);
}

Deno.test("deno task receiver remembers keys across kill -9 and appends accepted events to the sink file", async () => {
  const dir = await Deno.makeTempDir();
  const args = [
    "--port",
    "0",
    "--store",
    `kv:${dir}/store/receiver.kv`,
    "--sink",
    `jsonl:${dir}/events.jsonl`,
    "--token",
    "acme=token-of-acme-0001",
  ];
  try {
    const body = { events: [wireEvent(1), wireEvent(2)] };
    const first = await start(args);
    try {
      const unauthorized = await send(first.url, body, "batch-0001", "wrong-token-000");
      assert.equal(unauthorized.status, 401);
      await unauthorized.body?.cancel();
      const accepted = await send(first.url, body, "batch-0001", "token-of-acme-0001");
      assert.equal((await accepted.json()).accepted, 2);
    } finally {
      await kill9(first.child);
    }

    const second = await start(args);
    try {
      const again = await send(second.url, body, "batch-0001", "token-of-acme-0001");
      assert.equal(again.status, 409);
      assert.equal((await again.json()).error, "duplicate");
      const overlap = await send(
        second.url,
        { events: [wireEvent(2), wireEvent(3)] },
        "batch-0002",
        "token-of-acme-0001",
      );
      assert.deepEqual((await overlap.json()).results, [{ status: "duplicate" }, {
        status: "accepted",
      }]);
    } finally {
      await kill9(second.child);
    }
    const lines = (await Deno.readTextFile(`${dir}/events.jsonl`)).trimEnd().split("\n").map((
      line,
    ) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => [line.tenant, line.key]), [
      ["acme", "evt-00000001"],
      ["acme", "evt-00000002"],
      ["acme", "evt-00000003"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const redisUrl = serviceUrl("redis");
const postgresUrl = serviceUrl("postgres");

Deno.test({
  name:
    "deno task receiver with --store redis://… and --sink postgres://… stores a resent batch once",
  ignore: redisUrl === undefined || postgresUrl === undefined,
  fn: async () => {
    const tenant = `cli_${crypto.randomUUID().slice(0, 8)}`;
    const token = `token-of-${tenant}`;
    const args = [
      "--port",
      "0",
      "--store",
      redisUrl!,
      "--sink",
      postgresUrl!,
      "--token",
      `${tenant}=${token}`,
    ];
    const body = { events: [wireEvent(1), wireEvent(2), wireEvent(3)] };
    const first = await start(args);
    try {
      const accepted = await send(first.url, body, "batch-cli-1", token);
      assert.equal((await accepted.json()).accepted, 3);
    } finally {
      await kill9(first.child);
    }
    const second = await start(args);
    try {
      const again = await send(second.url, body, "batch-cli-2", token);
      assert.deepEqual((await again.json()).results.map((r: { status: string }) => r.status), [
        "duplicate",
        "duplicate",
        "duplicate",
      ]);
    } finally {
      await kill9(second.child);
    }
    const sql = postgres(postgresUrl!, { onnotice: () => {} });
    try {
      const rows =
        await sql`select count(*)::int as count from idemtrack_events where tenant = ${tenant}`;
      assert.equal(rows[0]?.count, 3);
    } finally {
      await sql.end();
    }
  },
});
