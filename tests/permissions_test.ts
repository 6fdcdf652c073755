/**
 * README's table of Deno permissions, checked: every row runs a small program
 * in a child process with exactly the flags the row lists (and no deno.json,
 * so nothing unstable is switched on behind the table's back).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { callbackSink, createJsonRoute, createReceiver } from "../src/receiver/mod.ts";
import { hamustroRoute } from "../src/hamustro/mod.ts";
import { serviceUrl } from "./_services.ts";

const ROOT = new URL("..", import.meta.url);
const SECRET = "permissions-secret";

interface Row {
  readonly what: string;
  readonly flags: readonly string[];
}

/** The table under "Deno permissions", each `+` row with the flags of the row it adds to. */
async function readTable(): Promise<Row[]> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const start = readme.indexOf("Deno permissions each part needs");
  assert.ok(start >= 0, "README has no table of Deno permissions");
  const lines = readme.slice(start).split("\n");
  const rows: Row[] = [];
  let base: readonly string[] = [];
  for (const line of lines.slice(lines.findIndex((l) => l.startsWith("| ---")) + 1)) {
    if (!line.startsWith("|")) break;
    const [what = "", flagsCell = ""] = line.split("|").slice(1).map((cell) => cell.trim());
    const flags = [...flagsCell.matchAll(/`(--[^`]+)`/g)].map((match) => match[1]!);
    const added = what.startsWith("+");
    if (!added) base = flags;
    rows.push({ what, flags: added ? [...base, ...flags] : flags });
  }
  return rows;
}

const src = (path: string) => new URL(path, ROOT).href;

/** Programs by row: each prints "ok" when everything it did succeeded. */
function programFor(what: string): string | undefined {
  const client = (storage: string, extra = "") => `
    import { Client } from "${src("mod.ts")}";
    ${extra}
    const client = new Client({ endpoint: Deno.args[0], ${storage} exitHook: false });
    client.track("permission_checked", {}, { userId: "u1" });
    const summary = await client.close({ timeoutMs: 10_000 });
    if (summary.delivered !== 1) throw new Error("not delivered: " + JSON.stringify(summary));
    console.log("ok");`;
  const receiver = (sink: string, store: string, extra = "") => `
    import { callbackSink, createReceiver, JsonLinesSink } from "${src("src/receiver/mod.ts")}";
    ${extra}
    const [hostname, port] = Deno.args[1].split(":");
    const receiver = createReceiver({ sink: ${sink}, ${store} });
    const server = Deno.serve({ hostname, port: Number(port), onListen() {} }, receiver);
    const response = await fetch("http://" + Deno.args[1] + "/v1/events/batch", {
      method: "POST",
      headers: { "content-type": "application/json", "x-idempotency-key": "batch-0001" },
      body: JSON.stringify({ events: [{ type: "track", event: "e", user_id: "u1", properties: {},
        timestamp: "2026-11-25T08:00:00.000Z", idempotency_key: "evt-00000001" }] }),
    });
    await response.body?.cancel();
    await server.shutdown();
    await receiver.close();
    if (response.status !== 200) throw new Error("answered " + response.status);
    console.log("ok");`;
  if (/ClientTracker/.test(what)) {
    return `
      import { ClientTracker } from "${src("src/hamustro/mod.ts")}";
      ${client("").replace('console.log("ok");', "")}
      const tracker = new ClientTracker({
        collectorUrl: Deno.args[0], sharedSecretKey: "${SECRET}", deviceId: "d", clientId: "c",
        systemVersion: "1", productVersion: "1", env: "PRODUCTION", exitHook: false,
      });
      await tracker.ready;
      tracker.trackEvent("Permission.Checked", {});
      await tracker.flush();
      const closed = await tracker.close({ timeoutMs: 10_000 });
      if (closed.delivered !== 1) throw new Error("tracker: " + JSON.stringify(closed));
      console.log("ok");`;
  }
  if (/workerTransport/.test(what)) {
    return client(
      "transport: workerTransport(),",
      `import { workerTransport } from "${src("src/drivers/transport/worker_transport.ts")}";`,
    );
  }
  if (/FileStorage.*stale lock/.test(what)) {
    return client(
      "storage: new FileStorage(Deno.args[2] + '/events.log'),",
      `import { FileStorage } from "${src("src/drivers/storage/file/file_storage.ts")}";
       // A lock left by a process that no longer exists.
       await Deno.writeTextFile(Deno.args[2] + "/events.log.lock", "4194303\\n");`,
    );
  }
  if (/FileStorage/.test(what)) {
    return client(
      "storage: new FileStorage(Deno.args[2] + '/events.log'),",
      `import { FileStorage } from "${src("src/drivers/storage/file/file_storage.ts")}";`,
    );
  }
  if (/DenoKvStorage/.test(what)) {
    return client(
      "storage: new DenoKvStorage({ path: Deno.args[2] + '/queue.kv' }),",
      `import { DenoKvStorage } from "${src("src/drivers/storage/deno_kv_storage.ts")}";`,
    );
  }
  if (/\.\/hash/.test(what)) {
    return `
      import { deriveIdempotencyKey, md5Hex } from "${src("src/hash/mod.ts")}";
      import { hamustroSession, signHamustro, verifyHamustro } from "${src("src/hamustro/mod.ts")}";
      const key = deriveIdempotencyKey(["user@example.com", "signup"]);
      const session = hamustroSession({ deviceId: md5Hex("d"), clientId: "c", systemVersion: "1",
        productVersion: "1", env: "PRODUCTION" });
      const signature = signHamustro("1700000000", new Uint8Array([1, 2]), "${SECRET}");
      if (!key.endsWith("-signup") || session.length !== 32) throw new Error("bad digests");
      if (!verifyHamustro("1700000000", new Uint8Array([1, 2]), "${SECRET}", signature)) {
        throw new Error("signature");
      }
      console.log("ok");`;
  }
  if (/JsonLinesSink/.test(what)) {
    return receiver("new JsonLinesSink(Deno.args[3])", "");
  }
  if (/KvDedupeStore/.test(what)) {
    return receiver(
      "callbackSink(() => {})",
      "store: await KvDedupeStore.open(Deno.args[2] + '/dedupe.kv'),",
      `import { KvDedupeStore } from "${src("src/receiver/kv_dedupe_store.ts")}";`,
    );
  }
  if (/RedisDedupeStore/.test(what)) {
    return `
      import { RedisDedupeStore } from "${src("src/receiver/redis_dedupe_store.ts")}";
      const store = await RedisDedupeStore.connect(Deno.args[4], { prefix: "permissions-test" });
      await store.close();
      console.log("ok");`;
  }
  if (/Postgres/.test(what)) {
    return `
      import { PostgresDedupeStore, PostgresSink } from "${src("src/receiver/postgres/mod.ts")}";
      const sink = await PostgresSink.connect(Deno.args[5], { createTable: false });
      await sink.close();
      const store = await PostgresDedupeStore.connect(Deno.args[5], { createTable: false });
      await store.close();
      console.log("ok");`;
  }
  if (/createReceiver/.test(what)) return receiver("callbackSink(() => {})", "");
  return undefined;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("every row of README's Deno permissions table runs with exactly the flags it lists", async () => {
  const rows = await readTable();
  assert.ok(rows.length >= 8, `README's table has ${rows.length} rows`);

  const collector = createReceiver({
    routes: [createJsonRoute(), hamustroRoute({ sharedSecretKey: SECRET })],
    sink: callbackSink(() => {}),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, collector);
  const collectorHost = `127.0.0.1:${server.addr.port}`;
  const work = await Deno.makeTempDir({ prefix: "idemtrack-permissions-" });
  // The import map of deno.json, without the rest of it (its "unstable" list in particular).
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const importMap = `${work}/import_map.json`;
  await Deno.writeTextFile(importMap, JSON.stringify({ imports: config.imports }));
  try {
    for (const [index, row] of rows.entries()) {
      const program = programFor(row.what);
      assert.ok(program !== undefined, `no program checks the row "${row.what}"`);
      const needs = row.flags.join(" ");
      const redis = needs.includes("<redis>") ? serviceUrl("redis") : "";
      const postgres = needs.includes("<postgres>") ? serviceUrl("postgres") : "";
      if (redis === undefined || postgres === undefined) continue; // skipped, with a notice
      const dir = `${work}/row-${index}`;
      await Deno.mkdir(dir);
      const file = `${dir}/events.jsonl`;
      const listen = `127.0.0.1:${freePort()}`;
      const flags = row.flags.map((flag) =>
        flag.replaceAll("<collector>", collectorHost).replaceAll("<listen>", listen)
          .replaceAll("<dir>", dir).replaceAll("<file>", file)
          .replaceAll("<redis>", redis === "" ? "" : new URL(redis).host)
          .replaceAll("<postgres>", postgres === "" ? "" : new URL(postgres).host)
      );
      const script = `${work}/row_${index}.ts`;
      await Deno.writeTextFile(script, program);
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-config",
          `--import-map=${importMap}`,
          "--no-prompt",
          ...flags,
          script,
          `http://${collectorHost}`,
          listen,
          dir,
          file,
          redis,
          postgres,
        ],
        stdout: "piped",
        stderr: "piped",
        cwd: fileURLToPath(ROOT),
      }).output();
      const stdout = new TextDecoder().decode(output.stdout).trim();
      const stderr = new TextDecoder().decode(output.stderr).trim();
      assert.equal(
        stdout,
        "ok",
        `"${row.what}" with ${flags.join(" ") || "no flags"}: exit ${output.code}\n${stderr}`,
      );
    }
  } finally {
    await server.shutdown();
    await collector.close();
    await Deno.remove(work, { recursive: true });
  }
});
