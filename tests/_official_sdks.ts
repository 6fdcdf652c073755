/**
 * The services' official SDKs from npm (pinned in tests/_sdk/package.json and
 * its lock), installed with `npm ci` into a cache folder outside the
 * repository the first time a test needs them, and run under Node as child
 * processes, so their own HTTP code talks to the routes over loopback.
 *
 * Without node/npm or the registry, the tests that need them are skipped
 * with a notice; under `CI=true` that is an error.
 */
import { createHash } from "node:crypto";

const SDK_DIR = new URL("./_sdk/", import.meta.url);

async function run(command: string, args: string[], cwd?: string): Promise<Deno.CommandOutput> {
  return await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
}

function cacheRoot(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? Deno.cwd();
  return `${xdg ?? `${home}/.cache`}/idemtrack-official-sdks`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function install(): Promise<string> {
  const manifest = await Deno.readTextFile(new URL("package.json", SDK_DIR));
  const lock = await Deno.readTextFile(new URL("package-lock.json", SDK_DIR));
  const digest = createHash("sha256").update(manifest).update(lock).digest("hex").slice(0, 16);
  const target = `${cacheRoot()}/${digest}`;
  // Deno answers a "node" command itself when there is no Node: the SDKs must run on Node.
  const node = await run("node", [
    "-e",
    "process.stdout.write(process.versions.deno ? '' : 'node')",
  ])
    .catch(() => undefined);
  if (node === undefined || new TextDecoder().decode(node.stdout) !== "node") {
    throw new Error("node is not on PATH");
  }
  if (await exists(`${target}/node_modules/.installed`)) return `${target}/node_modules`;
  // Installed beside, then renamed into place: concurrent test files never see half an install.
  await Deno.mkdir(cacheRoot(), { recursive: true });
  const staging = await Deno.makeTempDir({ dir: cacheRoot(), prefix: "staging-" });
  await Deno.writeTextFile(`${staging}/package.json`, manifest);
  await Deno.writeTextFile(`${staging}/package-lock.json`, lock);
  const npm = await run("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], staging)
    .catch((error) => ({ success: false, stderr: new TextEncoder().encode(String(error)) }));
  if (!npm.success) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw new Error(`npm ci failed: ${new TextDecoder().decode(npm.stderr).slice(-800)}`);
  }
  await Deno.writeTextFile(`${staging}/node_modules/.installed`, "");
  try {
    await Deno.rename(staging, target);
  } catch {
    // Another test process installed it first.
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return `${target}/node_modules`;
}

/**
 * The `node_modules` folder holding the official SDKs, or undefined (with a
 * printed notice) when they cannot be installed here.
 *
 * @throws {Error} under `CI=true` when they cannot be installed.
 */
export async function officialSdks(): Promise<string | undefined> {
  try {
    return await install();
  } catch (error) {
    if (Deno.env.get("CI") === "true") throw error;
    console.warn(
      `NOTICE: the official SDK tests are skipped: ${(error as Error).message} ` +
        "(they run wherever node and the npm registry are available, and must under CI=true)",
    );
    return undefined;
  }
}

/** Runs one of tests/_sdk/*.cjs under Node with the SDKs on its path; returns its JSON output. */
export async function runSdkDriver(
  nodeModules: string,
  driver: string,
  input: unknown,
): Promise<unknown> {
  const child = new Deno.Command("node", {
    args: [new URL(driver, SDK_DIR).pathname],
    env: { NODE_PATH: nodeModules },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  const output = await child.output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${driver} failed: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}
