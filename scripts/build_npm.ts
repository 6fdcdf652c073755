/**
 * Builds the npm package in `npm/`: ESM + `.d.ts` compiled by the TypeScript
 * compiler from npm, a `package.json` generated from `deno.json`, the npm
 * README (scripts/npm/README.md, written for Node), LICENSE and docs/, and the
 * portable tests (those that need nothing from Deno but `Deno.test`) compiled
 * to run under `node --test` through a small shim.
 *
 * Every entry point is plain ESM without top-level await, exported under the
 * `default` condition: `import` everywhere, `require()` on Node ≥ 20.19
 * (require(esm)), one copy of every class either way (no dual-package hazard).
 * Packages only some entry points need are optional peer dependencies.
 *
 * The tests are not shipped: `npm pack`/`npm publish` run `prepack`, which
 * drops `scripts` and `devDependencies` from the packed manifest, and
 * `postpack`, which puts them back.
 *
 * Run with `deno task build:npm`, then `cd npm && npm install && npm test`.
 *
 * @module
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const TYPESCRIPT = "typescript@5.9.3";
const TYPES_NODE = "20.19.43";
const PACKAGE_NAME = "@idemtrack/idemtrack";
const OUT = "npm";
const STAGE = "_src"; // sources copied here, so npm/node_modules resolves their imports
const ESM = "esm";
/** Commands the package installs (`npx idemtrack-receiver`), each a Node entry point. */
const BINS: Record<string, string> = { "idemtrack-receiver": "scripts/receiver_node.ts" };
/** Where the package's sources, issues and docs live (an assumed address: the project's public home). */
const REPOSITORY = "https://github.com/idemtrack/idemtrack";
/**
 * npm packages only some entry points import: optional peer dependencies, so
 * that installing the package for a `Client` does not pull them. Importing an
 * entry point that needs a missing one fails with Node's "Cannot find package
 * '<name>'" (see docs/runtimes.md).
 */
const OPTIONAL_PEERS: Record<string, string> = { // name → what needs it
  "@bufbuild/protobuf": "./hamustro (protobuf codecs)",
  "hash-wasm": "faster MD5/SHA-256/CRC-32 (WebAssembly) where @noble/hashes answers otherwise",
  "ioredis": "./receiver/redis",
  "postgres": "./receiver/postgres",
};
/** `.d.ts` files that name these need a lib a DOM project may lack: they reference it themselves. */
const LIB_REFERENCES: [RegExp, string][] = [[
  /\b(Symbol\.asyncDispose|AsyncDisposable)\b/,
  "esnext.disposable",
]];

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outDir = join(root, OUT);

interface DenoJson {
  version: string;
  license?: string;
  exports: string | Record<string, string>;
  imports?: Record<string, string>;
  compilerOptions?: Record<string, unknown>;
}

interface ModuleInfo {
  specifier: string;
  /** `name@version` of an npm module. */
  npmPackage?: string;
}

async function run(command: string, args: string[], cwd: string): Promise<void> {
  const { code } = await new Deno.Command(command, {
    args,
    cwd,
    stdout: "inherit",
    stderr: "inherit",
  })
    .output();
  if (code !== 0) throw new Error(`'${command} ${args.join(" ")}' failed with exit code ${code}`);
}

/** A module graph: its local files (repo-relative paths) and the npm packages it imports. */
interface Graph {
  files: string[];
  /** Package name → version, for each npm package a module of the graph imports. */
  packages: Map<string, string>;
}

/** The module graph of an entry (the entry and everything it imports, dynamic imports too). */
async function moduleGraph(entry: string): Promise<Graph> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(stderr)}`);
  const info = JSON.parse(new TextDecoder().decode(stdout)) as { modules: ModuleInfo[] };
  const packages = new Map<string, string>();
  for (const { npmPackage } of info.modules) {
    // "name@1.2.3", "@scope/name@1.2.3", or with its peers resolved: "name@1.2.3_peer@4.5.6".
    const match = npmPackage === undefined ? null : /^(@?[^@]+)@([^_]+)/.exec(npmPackage);
    if (match !== null) packages.set(match[1]!, match[2]!);
  }
  const files = info.modules
    .filter((module) => module.specifier.startsWith("file://"))
    .map((module) => relative(root, fileURLToPath(module.specifier)));
  return { files, packages };
}

/** Code lines (comments dropped, roughly) that use a Deno API other than `Deno.test`. */
function denoApiUses(source: string): string[] {
  return source.split("\n")
    .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
    .filter((line) => /\bDeno\.(?!test\b)/.test(line));
}

function toJsPath(path: string): string {
  return `./${ESM}/${path.replace(/^\.\//, "").replace(/\.ts$/, ".js")}`;
}

/**
 * Prepends `/// <reference lib>` to the declaration files that need a lib
 * beyond ES2022 + DOM, so that a project with `lib: ["ES2022", "DOM"]` and
 * `skipLibCheck: false` compiles (tsc ≥ 5.5 emits no such reference itself).
 */
async function addLibReferences(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) await addLibReferences(path);
    if (!entry.isFile || !entry.name.endsWith(".d.ts")) continue;
    const text = await Deno.readTextFile(path);
    const references = LIB_REFERENCES.filter(([pattern]) => pattern.test(text))
      .map(([, lib]) => `/// <reference lib="${lib}" />\n`);
    if (references.length > 0) await Deno.writeTextFile(path, references.join("") + text);
  }
}

async function main(): Promise<void> {
  const denoJson = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))) as DenoJson;
  const exports = typeof denoJson.exports === "string"
    ? { ".": denoJson.exports }
    : denoJson.exports;

  // Module graphs: every export, and every test file that is portable to Node.
  const portable = new Map<string, boolean>();
  async function isPortable(files: string[]): Promise<string[]> {
    const offenders: string[] = [];
    for (const file of files) {
      if (!portable.has(file)) {
        portable.set(file, denoApiUses(await Deno.readTextFile(join(root, file))).length === 0);
      }
      if (!portable.get(file)) offenders.push(file);
    }
    return offenders;
  }

  const files = new Set<string>();
  /** npm packages the shipped code imports, and those only the portable tests import. */
  const runtimePackages = new Map<string, string>();
  const testPackages = new Map<string, string>();
  const packageExports: Record<string, { types: string; default: string }> = {};
  for (const [subpath, entry] of Object.entries(exports)) {
    const graph = await moduleGraph(entry);
    const offenders = await isPortable(graph.files);
    if (offenders.length > 0) {
      console.warn(
        `build:npm: skipping export '${subpath}': ${offenders.join(", ")} use Deno APIs`,
      );
      continue;
    }
    graph.files.forEach((file) => files.add(file));
    graph.packages.forEach((version, name) => runtimePackages.set(name, version));
    const js = toJsPath(entry);
    packageExports[subpath] = { types: js.replace(/\.js$/, ".d.ts"), default: js };
  }

  const bins: Record<string, string> = {};
  for (const [name, entry] of Object.entries(BINS)) {
    const graph = await moduleGraph(entry);
    const offenders = await isPortable(graph.files);
    if (offenders.length > 0) {
      throw new Error(`bin '${name}' cannot run on Node: ${offenders.join(", ")} use Deno APIs`);
    }
    graph.files.forEach((file) => files.add(file));
    graph.packages.forEach((version, name) => runtimePackages.set(name, version));
    bins[name] = toJsPath(entry);
  }

  const tests: string[] = [];
  for await (const entry of Deno.readDir(join(root, "tests"))) {
    if (!entry.isFile || !entry.name.endsWith("_test.ts")) continue;
    const test = `tests/${entry.name}`;
    const graph = await moduleGraph(test);
    if ((await isPortable(graph.files)).length > 0) continue;
    tests.push(test);
    graph.files.forEach((file) => files.add(file));
    graph.packages.forEach((version, name) => testPackages.set(name, version));
  }
  tests.sort();

  // Stage the sources inside npm/, so imports of npm packages resolve from npm/node_modules.
  await Deno.remove(outDir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  for (const file of files) {
    const target = join(outDir, STAGE, file);
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.copyFile(join(root, file), target);
  }
  await Deno.writeTextFile(
    join(outDir, STAGE, "_deno_test.d.ts"),
    [
      "// Only Deno.test is available to the portable tests (see test_shim.mjs).",
      "declare namespace Deno {",
      "  type TestFn = (t: { name: string }) => void | Promise<void>;",
      "  interface TestDefinition { name: string; fn: TestFn; ignore?: boolean; only?: boolean }",
      "  function test(name: string, fn: TestFn): void;",
      "  function test(definition: TestDefinition): void;",
      "}",
      "",
    ].join("\n"),
  );
  await Deno.copyFile(join(root, "scripts/node_test_shim.mjs"), join(outDir, "test_shim.mjs"));
  await Deno.copyFile(
    join(root, "scripts/npm/pack_manifest.mjs"),
    join(outDir, "pack_manifest.mjs"),
  );
  await Deno.copyFile(join(root, "scripts/npm/README.md"), join(outDir, "README.md"));
  for (const doc of ["CHANGELOG.md", "LICENSE"]) {
    await Deno.copyFile(join(root, doc), join(outDir, doc));
  }
  await Deno.mkdir(join(outDir, "docs"));
  for await (const entry of Deno.readDir(join(root, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      await Deno.copyFile(join(root, "docs", entry.name), join(outDir, "docs", entry.name));
    }
  }

  // Exact versions for what npm installs with the package; ranges for the optional peers the user
  // installs (later compatible releases must satisfy them); the tests' packages for development.
  const dependencies: Record<string, string> = {};
  const peerDependencies: Record<string, string> = {};
  const devDependencies: Record<string, string> = { "@types/node": TYPES_NODE };
  for (const [name, version] of [...runtimePackages].sort()) {
    if (name in OPTIONAL_PEERS) {
      peerDependencies[name] = `^${version}`;
      devDependencies[name] = version; // the build compiles against it, the tests use it
    } else dependencies[name] = version;
  }
  for (const [name, version] of [...testPackages].sort()) {
    if (!(name in dependencies)) devDependencies[name] = version;
  }
  const testFiles = tests.map((test) => toJsPath(test).slice(2));
  // Imports and require()s every export by package name, as a user would: proves `exports`
  // resolves and that no entry point's graph has a top-level await.
  const specifiers = Object.keys(packageExports).map((subpath) => join(PACKAGE_NAME, subpath));
  await Deno.writeTextFile(
    join(outDir, "exports_smoke.mjs"),
    [
      `import assert from "node:assert/strict";`,
      `import { createRequire } from "node:module";`,
      `const require = createRequire(import.meta.url);`,
      `for (const specifier of ${JSON.stringify(specifiers, null, 2)}) {`,
      `  const imported = await import(specifier);`,
      `  assert.ok(Object.keys(imported).length > 0, \`\${specifier} exports nothing\`);`,
      `  assert.equal(require(specifier), imported, \`require("\${specifier}") is the same module\`);`,
      `}`,
      `console.log("exports import and require(): ${Object.keys(packageExports).join(", ")}");`,
      "",
    ].join("\n"),
  );
  const packageJson = {
    name: PACKAGE_NAME,
    version: denoJson.version,
    description: "Product events delivered to a collector exactly once",
    license: denoJson.license ?? "MIT",
    repository: { type: "git", url: `git+${REPOSITORY}.git` },
    homepage: `${REPOSITORY}#readme`,
    bugs: { url: `${REPOSITORY}/issues` },
    keywords: ["analytics", "events", "exactly-once", "idempotency", "batching", "retry"],
    type: "module",
    // require() of ESM without a flag (and @noble/hashes' own minimum).
    engines: { node: ">=20.19" },
    main: packageExports["."]?.default,
    types: packageExports["."]?.types,
    exports: packageExports,
    bin: bins,
    files: [ESM, `!${ESM}/tests`, "README.md", "CHANGELOG.md", "LICENSE", "docs"],
    sideEffects: false,
    scripts: {
      test: `node exports_smoke.mjs && node --import ./test_shim.mjs --test --test-reporter=spec ${
        testFiles.join(" ")
      }`,
      prepack: "node pack_manifest.mjs strip",
      postpack: "node pack_manifest.mjs restore",
    },
    dependencies,
    peerDependencies,
    peerDependenciesMeta: Object.fromEntries(
      Object.keys(peerDependencies).map((name) => [name, { optional: true }]),
    ),
    devDependencies,
  };
  await Deno.writeTextFile(
    join(outDir, "package.json"),
    JSON.stringify(packageJson, null, 2) + "\n",
  );

  const tsconfig = {
    compilerOptions: {
      ...denoJson.compilerOptions,
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2023", "DOM", "DOM.Iterable"],
      types: ["node"],
      strict: true,
      declaration: true,
      rewriteRelativeImportExtensions: true,
      rootDir: STAGE,
      outDir: ESM,
      skipLibCheck: true,
      esModuleInterop: true,
    },
    include: [`${STAGE}/**/*.ts`],
  };
  await Deno.writeTextFile(join(outDir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2) + "\n");

  // Types of the dependencies (and node:*) are needed to compile.
  await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], outDir);
  await run("npx", ["-y", "-p", TYPESCRIPT, "tsc", "-p", "tsconfig.json"], outDir);
  await Deno.remove(join(outDir, STAGE), { recursive: true });
  await addLibReferences(join(outDir, ESM));

  console.log(
    `build:npm: ${PACKAGE_NAME}@${denoJson.version} in ${
      relative(Deno.cwd(), outDir) || "."
    }/ — exports ${Object.keys(packageExports).join(", ")}; ${tests.length} portable test files`,
  );
}

await main();
