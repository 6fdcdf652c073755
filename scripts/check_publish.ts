/**
 * Runs `deno publish --dry-run` (offline: no JSR account or network needed)
 * and checks the file list: the package ships the library only (`mod.ts`,
 * `src/`, `wasm/`, the docs, `deno.json`), every entry point of `exports` is
 * in it, and no test, benchmark, script or lock file is.
 *
 * Run with `deno run --allow-read --allow-run scripts/check_publish.ts`;
 * exits 1 on a problem.
 *
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { readDenoJson, ROOT, runDeno } from "./_deno.ts";

const SHIPPED = [
  /^mod\.ts$/,
  /^src\//,
  /^wasm\//,
  /^docs\/[^/]+\.md$/,
  /^README\.md$/,
  /^CHANGELOG\.md$/,
  /^LICENSE$/,
  /^deno\.json$/,
];

const { success, output } = await runDeno(["publish", "--dry-run", "--allow-dirty"]);
if (!success) {
  console.error(output);
  console.error("check_publish: deno publish --dry-run failed");
  Deno.exit(1);
}

const files = [...output.matchAll(/^\s+(file:\/\/\S+)/gm)].map((match) =>
  relative(ROOT, fileURLToPath(match[1]!))
);
const denoJson = await readDenoJson();
const problems = [
  ...files.filter((file) => !SHIPPED.some((pattern) => pattern.test(file)))
    .map((file) => `ships ${file}, which is not part of the library`),
  ...Object.entries(denoJson.exports)
    .filter(([, entry]) => !files.includes(relative(ROOT, `${ROOT}${entry}`)))
    .map(([subpath, entry]) => `does not ship ${entry}, the entry point of '${subpath}'`),
];
if (files.length === 0) problems.push("found no file list in the dry run's output");
if (problems.length > 0) {
  console.error(`check_publish: the package\n  ${problems.join("\n  ")}`);
  Deno.exit(1);
}
console.log(
  `check_publish: ${files.length} files, the library only, all ${
    Object.keys(denoJson.exports).length
  } entry points`,
);
