// Fresh npm projects that install the packed package (npm/, built by `deno task build:npm`)
// the way a user does, for tests/npm/*_check.mjs (run by `node --test` in .ci/run).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PACKAGE = "@idemtrack/idemtrack";
/** The TypeScript compiler build_npm.ts compiles with. */
export const TYPESCRIPT = "typescript@5.9.3";
/** The package's optional peer dependencies, at the versions the build compiles against. */
export const PEERS = [
  "@bufbuild/protobuf@2.17.0",
  "hash-wasm@4.13.0",
  "ioredis@6.0.0",
  "postgres@3.4.9",
];
/** The entry points that need an optional peer, and which. */
export const NEEDS_PEER = {
  "./hamustro": "@bufbuild/protobuf",
  "./receiver/redis": "ioredis",
  "./receiver/postgres": "postgres",
};
/** Where .ci/run installs Bun, workerd and esbuild (git-ignored). */
export const TOOLS = join(ROOT, ".tools", "runtimes", "node_modules");

/**
 * Runs a command; resolves its exit code and output (never rejects on a non-zero exit).
 * Killed after `timeoutMs`, so every test stops by itself; `signal` stops it earlier.
 */
export function run(command, args, { cwd, input, timeoutMs = 120_000, env, signal } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["pipe", "pipe", "pipe"],
      signal,
      killSignal: "SIGTERM",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      if (error.name === "AbortError") return; // stopped on purpose: "close" follows
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

/** Runs a command and fails with its output unless it exits 0; resolves its stdout. */
export async function runOk(command, args, options) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `'${command} ${args.join(" ")}' exited with ${result.code ?? result.signal}\n` +
        `${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

let tarball;
/** Packs npm/ once (`npm pack`, as `npm publish` would); resolves the tarball's path. */
export function packedTarball() {
  return tarball ??= (async () => {
    // IDEMTRACK_NPM_DIR: another build to check (e.g. an older commit's npm/, to compare).
    const npmDir = process.env.IDEMTRACK_NPM_DIR ?? join(ROOT, "npm");
    if (!existsSync(join(npmDir, "package.json"))) {
      throw new Error("npm/ is missing: run `deno task build:npm` first");
    }
    const destination = await mkdtemp(join(tmpdir(), "idemtrack-pack-"));
    const [packed] = JSON.parse(
      await runOk("npm", ["pack", "--json", "--pack-destination", destination], { cwd: npmDir }),
    );
    return { path: join(destination, packed.filename), manifest: packed };
  })();
}

const projects = [];
/**
 * A fresh ESM project in a temporary folder with the packed package and `extra` packages
 * installed from the registry.
 */
export async function createProject(name, extra = []) {
  const { path } = await packedTarball();
  const dir = await mkdtemp(join(tmpdir(), `idemtrack-${name}-`));
  projects.push(dir);
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: `idemtrack-${name}`, private: true, type: "module" }, null, 2),
  );
  await runOk("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", path, ...extra], {
    cwd: dir,
  });
  return dir;
}

/** Removes the temporary projects and the tarball. */
export async function removeProjects() {
  for (const dir of projects.splice(0)) await rm(dir, { recursive: true, force: true });
  if (tarball) await rm(dirname((await tarball).path), { recursive: true, force: true });
}

/** Bytes of the files under a folder. */
export async function folderBytes(dir) {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

/** Package names installed in a project's node_modules (scoped ones as `@scope/name`). */
export async function installedPackages(dir) {
  const modules = join(dir, "node_modules");
  const names = [];
  for (const entry of await readdir(modules)) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@")) {
      for (const scoped of await readdir(join(modules, entry))) names.push(`${entry}/${scoped}`);
    } else names.push(entry);
  }
  return names.sort();
}

/** Writes a file in a project (creating folders); resolves its path. */
export async function writeProjectFile(dir, name, text) {
  const path = join(dir, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  return path;
}

/**
 * A tool .ci/run installs into .tools/runtimes (a name in node_modules/.bin, or a path under
 * node_modules): its path, or `undefined` (with a visible notice) where it is missing — an
 * error under CI=true, where .ci/run must have installed it.
 */
export function tool(name, t) {
  const path = join(TOOLS, name.includes("/") ? name : join(".bin", name));
  if (existsSync(path)) return path;
  const notice = `${name} is not installed in ${TOOLS} (.ci/run installs it)`;
  if (process.env.CI === "true") throw new Error(notice);
  t.diagnostic(`SKIPPED: ${notice}`);
  t.skip(notice);
  return undefined;
}

/**
 * Runs every `js` code block of the installed package's README with a runtime (`node`, `bun`)
 * in a project, as a user would copy it: a block that calls `require()` as CommonJS (`.cjs`),
 * the others as ES modules. Fails with the block and its output when one exits non-zero.
 */
export async function runReadmeExamples(runtime, project) {
  const readme = await readFile(join(project, "node_modules", PACKAGE, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]);
  if (blocks.length < 3) {
    throw new Error(`the README has ${blocks.length} js examples, expected 3+`);
  }
  for (const [i, code] of blocks.entries()) {
    const name = `readme_${i}.${/\brequire\(/.test(code) ? "cjs" : "mjs"}`;
    await writeProjectFile(project, name, code);
    const result = await run(runtime, [name], { cwd: project, timeoutMs: 30_000 });
    if (result.code !== 0) {
      throw new Error(
        `README example ${i + 1} exited with ${result.code ?? result.signal} under ${runtime}:\n` +
          `${code}\n${result.stdout}\n${result.stderr}`,
      );
    }
  }
}
