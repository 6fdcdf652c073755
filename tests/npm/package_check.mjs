// The packed npm package as a Node user installs it: run by `node --test` in .ci/run after
// `deno task build:npm` (see tests/npm/_project.mjs).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { assertExactlyOnce, CLIENT_SCRIPT, SEND_MODULE, startLossyReceiver } from "./_delivery.mjs";
import {
  createProject,
  folderBytes,
  installedPackages,
  NEEDS_PEER,
  PACKAGE,
  packedTarball,
  PEERS,
  removeProjects,
  run,
  runOk,
  runReadmeExamples,
  tool,
  TYPESCRIPT,
  writeProjectFile,
} from "./_project.mjs";

let tarball;
/** The package alone, as `npm install @idemtrack/idemtrack` gives it. */
let bare;
/** The package with its optional peers, TypeScript and Node's types. */
let full;

before(async () => {
  tarball = await packedTarball();
  [bare, full] = await Promise.all([
    createProject("bare"),
    createProject("full", [...PEERS, TYPESCRIPT, "@types/node@20.19.43"]),
  ]);
});
after(removeProjects);

async function manifest(project) {
  return JSON.parse(
    await readFile(join(project, "node_modules", PACKAGE, "package.json"), "utf8"),
  );
}

test("the tarball holds the code, README, LICENSE and docs, and a manifest without scripts", async () => {
  const files = tarball.manifest.files.map((file) => file.path);
  for (const file of ["README.md", "LICENSE", "package.json", "esm/mod.js", "esm/mod.d.ts"]) {
    assert.ok(files.includes(file), `${file} is packed`);
  }
  assert.ok(files.some((file) => file.startsWith("docs/")), "docs/ is packed");
  assert.deepEqual(files.filter((file) => /(^|\/)tests?\//.test(file)), [], "no tests packed");
  const packed = await manifest(bare);
  assert.equal(packed.scripts, undefined, "no test script naming files that are not shipped");
  assert.equal(packed.devDependencies, undefined);
  assert.match(packed.repository.url, /^git\+https:\/\/github\.com\/idemtrack\/idemtrack\.git$/);
  assert.match(packed.homepage, /^https:\/\//);
  assert.match(packed.bugs.url, /\/issues$/);
  assert.equal(packed.license, "MIT");
  assert.match(await readFile(join(bare, "node_modules", PACKAGE, "LICENSE"), "utf8"), /MIT/);
  const readme = await readFile(join(bare, "node_modules", PACKAGE, "README.md"), "utf8");
  for (const [, link] of readme.matchAll(/\]\((?!https?:|#)([^)#]+)/g)) {
    assert.ok(files.includes(link), `README links ${link}, which is packed`);
  }
  console.log(
    `tarball: ${tarball.manifest.size} B packed, ${tarball.manifest.unpackedSize} B unpacked`,
  );
});

test("installing the package pulls only its small dependencies, none of the optional peers", async () => {
  const packed = await manifest(bare);
  const dependencies = Object.keys(packed.dependencies).sort();
  assert.deepEqual(await installedPackages(bare), [PACKAGE, ...dependencies].sort());
  for (const peer of PEERS.map((spec) => spec.slice(0, spec.lastIndexOf("@")))) {
    assert.equal(packed.peerDependenciesMeta[peer]?.optional, true, `${peer} is an optional peer`);
    assert.ok(!dependencies.includes(peer), `${peer} is not a dependency`);
  }
  const modules = join(bare, "node_modules");
  const sizes = {};
  for (const name of dependencies) sizes[name] = await folderBytes(join(modules, name));
  const total = Object.values(sizes).reduce((sum, size) => sum + size, 0);
  console.log(
    `npm install ${PACKAGE}: ${await folderBytes(modules)} B in node_modules ` +
      `(package ${await folderBytes(join(modules, PACKAGE))} B, ${JSON.stringify(sizes)})`,
  );
  // protobuf-es and hash-wasm alone were 3.9 MB; what is installed with the package stays small.
  assert.ok(total < 1024 * 1024, `dependencies take ${total} B: ${JSON.stringify(sizes)}`);
});

/** Writes load.mjs and load.cjs into the full project: they import and require() every entry point. */
async function writeLoaders() {
  const specifiers = Object.keys((await manifest(full)).exports).map((subpath) =>
    join(PACKAGE, subpath)
  );
  assert.ok(specifiers.length >= 10, specifiers.join(", "));
  await writeProjectFile(
    full,
    "load.mjs",
    `import assert from "node:assert/strict";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
for (const specifier of ${JSON.stringify(specifiers)}) {
  const imported = await import(specifier);
  assert.ok(Object.keys(imported).length > 0, specifier);
  assert.equal(require(specifier), imported, specifier);
}
`,
  );
  await writeProjectFile(
    full,
    "load.cjs",
    `const assert = require("node:assert/strict");
for (const specifier of ${JSON.stringify(specifiers)}) {
  assert.ok(Object.keys(require(specifier)).length > 0, specifier);
}
const { Client, IdemtrackError } = require("${PACKAGE}");
assert.equal(typeof Client, "function");
assert.equal(typeof IdemtrackError, "function");
`,
  );
}

test("every entry point loads with import and with require() on Node, from ESM and CommonJS", async () => {
  await writeLoaders();
  await runOk("node", ["load.mjs"], { cwd: full });
  await runOk("node", ["load.cjs"], { cwd: full });
});

test("on Node 20.19.0, the declared minimum, every entry point loads with import and require()", async (t) => {
  const node = tool("node-20.19.0/bin/node", t);
  if (node === undefined) return;
  await writeLoaders();
  assert.equal((await runOk(node, ["--version"])).trim(), "v20.19.0");
  await runOk(node, ["load.mjs"], { cwd: full });
  await runOk(node, ["load.cjs"], { cwd: full });
});

test("on Node 20.18, older than the minimum, require() fails with Node's ERR_REQUIRE_ESM pointing to import(), which works", async (t) => {
  const node = tool("node-20.18.3/bin/node", t);
  if (node === undefined) return;
  const required = await run(node, ["-e", `require("${PACKAGE}")`], { cwd: bare });
  assert.notEqual(required.code, 0);
  assert.match(required.stderr, /ERR_REQUIRE_ESM/);
  assert.match(required.stderr, /change the require of mod\.js .* to a dynamic import\(\)/);
  const imported = await runOk(node, [
    "--input-type=module",
    "-e",
    `const { Client } = await import("${PACKAGE}"); console.log(typeof Client);`,
  ], { cwd: bare });
  assert.equal(imported.trim(), "function");
});

test("without their optional peers, ./hamustro, ./receiver/redis and ./receiver/postgres fail naming the package to install; the rest loads", async () => {
  const subpaths = Object.keys((await manifest(bare)).exports);
  for (const needing of Object.keys(NEEDS_PEER)) assert.ok(subpaths.includes(needing), needing);
  for (const subpath of subpaths) {
    const specifier = join(PACKAGE, subpath);
    const esm = await run("node", ["--input-type=module", "-e", `await import("${specifier}")`], {
      cwd: bare,
    });
    const cjs = await run("node", ["-e", `require("${specifier}")`], { cwd: bare });
    const peer = NEEDS_PEER[subpath];
    if (peer !== undefined) {
      for (const { code, stderr } of [esm, cjs]) {
        assert.notEqual(code, 0, specifier);
        assert.ok(
          stderr.includes(`Cannot find package '${peer}'`) ||
            stderr.includes(`Cannot find module '${peer}'`),
          `${specifier}: ${stderr}`,
        );
      }
    } else {
      assert.equal(esm.code, 0, `import ${specifier}: ${esm.stderr}`);
      assert.equal(cjs.code, 0, `require ${specifier}: ${cjs.stderr}`);
    }
  }
});

test("a subpath that is not exported fails with Node's ERR_PACKAGE_PATH_NOT_EXPORTED naming it", async () => {
  const { code, stderr } = await run("node", ["-e", `require("${PACKAGE}/src/client.js")`], {
    cwd: bare,
  });
  assert.notEqual(code, 0);
  assert.match(stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  assert.match(stderr, /'\.\/src\/client\.js' is not defined by "exports"/);
});

test("a Client on Node delivers every event exactly once to a loopback receiver that loses an answer", async () => {
  await writeProjectFile(bare, "send.mjs", SEND_MODULE);
  await writeProjectFile(bare, "client.mjs", CLIENT_SCRIPT);
  const collector = await startLossyReceiver(bare);
  try {
    const out = await runOk("node", ["client.mjs", collector.url, "50", "node"], { cwd: bare });
    assertExactlyOnce(collector, "node", 50, JSON.parse(out));
  } finally {
    await collector.close();
  }
});

test("the README's examples run on Node as written", async () => {
  await runReadmeExamples("node", bare);
});

const TYPE_CHECKS = {
  "a DOM project without @types/node (ES2022 + DOM, bundler)": {
    compilerOptions: {
      target: "ES2022",
      lib: ["ES2022", "DOM"],
      types: [],
      module: "ESNext",
      moduleResolution: "bundler",
    },
    subpaths: [".", "./kit", "./storage/browser", "./hash", "./profiles/getfluxly"],
  },
  "a Node project under node16": {
    compilerOptions: { target: "ES2022", module: "Node16", moduleResolution: "Node16" },
  },
  "a Node project under nodenext": {
    compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext" },
  },
  "a bundler project": {
    compilerOptions: { target: "ES2022", module: "ESNext", moduleResolution: "Bundler" },
  },
};

for (const [name, { compilerOptions, subpaths }] of Object.entries(TYPE_CHECKS)) {
  test(`the types check with skipLibCheck false in ${name}`, async () => {
    const entries = subpaths ?? Object.keys((await manifest(full)).exports);
    const slug = name.replace(/\W+/g, "_");
    const source = entries.map((subpath, i) =>
      `import * as entry${i} from "${join(PACKAGE, subpath)}";\nexport { entry${i} };`
    ).join("\n") +
      (entries.includes(".")
        ? `\nimport { Client } from "${PACKAGE}";\n` +
          `export const client: Client = new Client({ endpoint: "https://collector.example" });\n`
        : "");
    await writeProjectFile(full, `${slug}/index.ts`, source);
    await writeProjectFile(
      full,
      `${slug}/tsconfig.json`,
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, ...compilerOptions },
        files: ["index.ts"],
      }),
    );
    const { code, stdout, stderr } = await run(
      join(full, "node_modules", ".bin", "tsc"),
      ["-p", join(slug, "tsconfig.json")],
      { cwd: full },
    );
    assert.equal(code, 0, `${stdout}${stderr}`);
  });
}
