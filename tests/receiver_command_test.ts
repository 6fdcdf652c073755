// The receiver command as operators run it: a real process (scripts/receiver_node.ts — under Deno
// here, under Node in the npm package's tests), configured by flags and environment, with
// /healthz, /readyz, /metrics and a graceful SIGTERM. Uses only node: APIs, so it is one of
// the portable tests.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

// Not `"Deno" in globalThis`: the npm test shim defines a `Deno` with `test` alone.
const IN_DENO = typeof process.versions.deno === "string";
const BIN = fileURLToPath(
  new URL(`../scripts/receiver_node.${IN_DENO ? "ts" : "js"}`, import.meta.url),
);

function event(n: number): Record<string, unknown> {
  return {
    type: "track",
    event: "order_paid",
    user_id: `user-${n}`,
    properties: { n },
    timestamp: "2026-11-25T08:00:00.000Z",
    idempotency_key: `evt-${String(n).padStart(8, "0")}`,
  };
}

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts the bin and waits for the URL it prints first (or its exit). */
async function start(args: string[], env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(
    process.execPath,
    IN_DENO ? ["run", "--allow-all", BIN, ...args] : [BIN, ...args],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code))
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk) => {
      stdout += chunk;
      if (stdout.includes("\n")) resolve(stdout.split("\n", 1)[0]!);
    });
    exited.then((code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr, exited };
}

async function post(url: string, events: unknown[], token: string): Promise<Response> {
  return await fetch(`${url}/v1/events/batch`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ events }),
  });
}

Deno.test("the receiver command serves events, /healthz, /readyz and /metrics, configured by flags and environment", async () => {
  const dir = await mkdtemp(join(tmpdir(), "idemtrack-command-"));
  const sinkPath = join(dir, "events.jsonl");
  const started = await start(["--port", "0", "--sink", `jsonl:${sinkPath}`], {
    IDEMTRACK_RECEIVER_TOKEN: "acme=token-of-acme-0001",
    IDEMTRACK_RECEIVER_MAX_EVENTS_PER_REQUEST: "3",
  });
  try {
    assert.deepEqual(await (await fetch(`${started.url}/healthz`)).json(), { status: "ok" });
    const ready = await fetch(`${started.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready" });
    const accepted = await post(
      started.url,
      [event(1), event(2), { ...event(3), type: "x" }],
      "token-of-acme-0001",
    );
    assert.equal(accepted.status, 200);
    await accepted.body?.cancel();
    const again = await post(started.url, [event(1)], "token-of-acme-0001");
    assert.equal((await again.json()).duplicates, 1);
    const unauthorized = await post(started.url, [event(4)], "wrong-token-000000");
    assert.equal(unauthorized.status, 401);
    await unauthorized.body?.cancel();
    const tooMany = await post(
      started.url,
      [event(5), event(6), event(7), event(8)],
      "token-of-acme-0001",
    );
    assert.equal(tooMany.status, 413);
    await tooMany.body?.cancel();

    const metrics = await fetch(`${started.url}/metrics`);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    for (
      const line of [
        'idemtrack_receiver_requests_total{route="json",method="POST",status="200"} 2',
        'idemtrack_receiver_requests_total{route="json",method="POST",status="401"} 1',
        'idemtrack_receiver_requests_total{route="json",method="POST",status="413"} 1',
        'idemtrack_receiver_events_total{route="json",outcome="accepted",reason=""} 2',
        'idemtrack_receiver_events_total{route="json",outcome="duplicate",reason=""} 1',
        'idemtrack_receiver_events_total{route="json",outcome="rejected",reason="invalid_field"} 1',
        'idemtrack_receiver_request_duration_seconds_count{route="json"} 4',
        "idemtrack_receiver_store_errors_total 0",
        "idemtrack_receiver_sink_errors_total 0",
      ]
    ) assert.ok(text.includes(`${line}\n`), `missing ${line} in:\n${text}`);
    assert.match(text, /idemtrack_receiver_body_bytes_total\{route="json"\} [1-9]\d*\n/);
    assert.match(text, /# TYPE idemtrack_receiver_request_duration_seconds histogram\n/);
    const lines = (await readFile(sinkPath, "utf8")).trim().split("\n");
    assert.deepEqual(lines.map((line) => JSON.parse(line).key), ["evt-00000001", "evt-00000002"]);
    assert.doesNotMatch(started.stderr(), /token-of-acme/);
  } finally {
    started.child.kill("SIGKILL");
    await started.exited;
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("/readyz answers 503 naming the sink while its file cannot be opened", async () => {
  const dir = await mkdtemp(join(tmpdir(), "idemtrack-command-"));
  await mkdir(join(dir, "sub"));
  const started = await start([
    "--port",
    "0",
    "--sink",
    `jsonl:${join(dir, "sub", "events.jsonl")}`,
  ]);
  try {
    await rm(join(dir, "sub"), { recursive: true });
    const ready = await fetch(`${started.url}/readyz`);
    assert.equal(ready.status, 503);
    const body = await ready.json();
    assert.equal(body.status, "unavailable");
    assert.match(body.sink, /ENOENT|No such file/);
    assert.equal((await fetch(`${started.url}/healthz`)).status, 200);
  } finally {
    started.child.kill("SIGKILL");
    await started.exited;
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("SIGTERM lets the request in flight finish, stores its events, then exits 0", async () => {
  const dir = await mkdtemp(join(tmpdir(), "idemtrack-command-"));
  const sinkPath = join(dir, "events.jsonl");
  const started = await start(["--port", "0", "--sink", `jsonl:${sinkPath}`]);
  try {
    const body = JSON.stringify({ events: [event(1), event(2)] });
    const { hostname, port } = new URL(started.url);
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest({
        hostname,
        port,
        method: "POST",
        path: "/v1/events/batch",
        headers: { "content-type": "application/json", "content-length": String(body.length) },
      }, (res) => {
        let text = "";
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      // Half the body now, the rest after SIGTERM.
      req.write(body.slice(0, 40));
      setTimeout(() => {
        // process.kill, not child.kill: Deno's child_process reports a child it signalled as killed.
        process.kill(started.child.pid!, "SIGTERM");
        setTimeout(() => req.end(body.slice(40)), 300);
      }, 300);
    });
    const { status, text } = await answer;
    assert.equal(status, 200, text);
    assert.equal(JSON.parse(text).accepted, 2);
    assert.equal(await started.exited, 0);
    const lines = (await readFile(sinkPath, "utf8")).trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(started.stderr(), /shutting down/);
  } finally {
    started.child.kill("SIGKILL");
    await started.exited;
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("a bad flag stops the command at once with exit code 2 and names the flag", async () => {
  for (
    const [args, message] of [
      [["--port", "70000"], /--port must be an integer from 0 to 65535/],
      [["--store", "nosuch://x"], /--store "nosuch" is not available here: use memory/],
      [["--sink", "s3://bucket/x"], /--sink "s3" is not available here: use jsonl:…/],
      [["--token", "no-equals-sign"], /--token must look like <tenant>=<token>/],
      [["--route", "graphql"], /--route must be one of json, hamustro/],
      [["--route", "hamustro"], /--route hamustro needs --hamustro-secret/],
    ] as const
  ) {
    const child = spawn(
      process.execPath,
      IN_DENO ? ["run", "--allow-all", BIN, ...args] : [BIN, ...args],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    assert.equal(code, 2, stderr);
    assert.match(stderr, message);
  }
});
