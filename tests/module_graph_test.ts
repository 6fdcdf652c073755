import assert from "node:assert/strict";

/** Every module the entry point loads, as `deno info` resolves them (local files and npm packages). */
async function moduleGraph(entry: string): Promise<string[]> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
  };
  return info.modules.map((module) => module.specifier);
}

const heavy = (specifiers: string[]) =>
  specifiers.filter((specifier) => /hash-wasm|@bufbuild\/protobuf|\/wasm\//.test(specifier));

Deno.test("the package root loads neither the WASM hashers nor protobuf-es", async () => {
  // Instantiating hash-wasm's hashers costs ~8 MB of RSS a Client alone never uses.
  assert.deepEqual(heavy(await moduleGraph("../mod.ts")), []);
});

Deno.test("./hash and ./hamustro load the WASM hashers they need", async () => {
  for (const entry of ["../src/hash/mod.ts", "../src/hamustro/mod.ts"]) {
    assert.ok(heavy(await moduleGraph(entry)).some((s) => s.includes("hash-wasm")), entry);
  }
});
