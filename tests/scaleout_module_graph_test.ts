import assert from "node:assert/strict";

/** npm packages the entry point loads, as `deno info` resolves them. */
async function npmPackages(entry: string): Promise<string[]> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { npmPackage?: string }[];
  };
  return info.modules.flatMap((module) =>
    module.npmPackage === undefined ? [] : [module.npmPackage.replace(/@[^@]*$/, "")]
  );
}

const clients = (names: string[]) =>
  names.filter((name) => name === "ioredis" || name === "postgres");

Deno.test("the root and ./receiver load neither the Redis nor the PostgreSQL client", async () => {
  for (const entry of ["../mod.ts", "../src/receiver/mod.ts"]) {
    assert.deepEqual(clients(await npmPackages(entry)), [], entry);
  }
});

Deno.test("./receiver/redis loads only ioredis, ./receiver/postgres only postgres", async () => {
  assert.deepEqual(clients(await npmPackages("../src/receiver/redis_dedupe_store.ts")), [
    "ioredis",
  ]);
  assert.deepEqual(clients(await npmPackages("../src/receiver/postgres/mod.ts")), ["postgres"]);
});
