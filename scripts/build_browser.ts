/**
 * Builds the ESM bundle for browsers with esbuild (from npm, through npx):
 * `idemtrack.js` (the root entry point: `Client`, the JSON profile, the
 * fetch transport) and `storage_browser.js` (`BrowserStorage`), sharing
 * their common code in a chunk. Output: `dist/browser/`, or the folder given
 * as the first argument.
 *
 * Run with `deno task build:browser`; `.ci/run` builds it and
 * tests/browser_lifecycle_test.ts and tests/browser_controls_test.ts drive it
 * in headless Chromium.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Pinned: the bundle is a release artifact. */
export const ESBUILD = "esbuild@0.28.2";

/** Bundle entry names and the modules they are built from. */
export const BROWSER_ENTRIES: Readonly<Record<string, string>> = Object.freeze({
  idemtrack: "mod.ts",
  storage_browser: "src/drivers/storage/browser/browser_storage.ts",
});

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Bundles {@linkcode BROWSER_ENTRIES} into `outDir`; rejects with esbuild's output if it fails. */
export async function buildBrowserBundle(outDir: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("npx", {
    args: [
      "-y",
      ESBUILD,
      ...Object.entries(BROWSER_ENTRIES).map(([name, path]) => `${name}=${join(root, path)}`),
      "--bundle",
      "--format=esm",
      "--platform=browser",
      "--target=es2022",
      "--splitting",
      "--sourcemap",
      "--log-level=warning",
      `--outdir=${outDir}`,
    ],
    cwd: root,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`esbuild failed to bundle for browsers:\n${new TextDecoder().decode(stderr)}`);
  }
}

if (import.meta.main) {
  const outDir = resolve(Deno.args[0] ?? join(root, "dist/browser"));
  await buildBrowserBundle(outDir);
  console.log(`build:browser: ${Object.keys(BROWSER_ENTRIES).join(".js, ")}.js in ${outDir}`);
}
