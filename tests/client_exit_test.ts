import assert from "node:assert/strict";
import { startJsonServer } from "./_json_server.ts";

const CLIENT_URL = new URL("../src/client.ts", import.meta.url).href;

async function runScript(source: string): Promise<{ code: number; ms: number }> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, source);
  const start = performance.now();
  try {
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", new URL("../deno.json", import.meta.url).pathname, file],
      stdout: "null",
      stderr: "inherit",
    }).output();
    return { code, ms: performance.now() - start };
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("the exit hook delivers queued events when a process ends without close()", async () => {
  const server = await startJsonServer();
  const { code, ms } = await runScript(`
    import { Client } from "${CLIENT_URL}";
    const client = new Client({ endpoint: "${server.url}", flushAt: 100, flushIntervalMs: 60_000 });
    for (let i = 0; i < 3; i++) client.track("before_exit", { i }, { userId: "u1" });
  `);
  assert.equal(code, 0);
  assert.ok(ms < 30_000, `the 60 s flush timer did not keep the process alive (${ms} ms)`);
  assert.equal(server.accepted.length, 3);
  await server.close();
});

Deno.test("without the exit hook an idle client does not keep the process alive", async () => {
  const server = await startJsonServer();
  const { code } = await runScript(`
    import { Client } from "${CLIENT_URL}";
    const client = new Client({ endpoint: "${server.url}", exitHook: false, flushIntervalMs: 60_000 });
    client.track("lost_on_purpose", {}, { userId: "u1" });
  `);
  assert.equal(code, 0);
  assert.equal(server.requests.length, 0);
  await server.close();
});
