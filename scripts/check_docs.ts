/**
 * Runs `deno doc --lint` over every entry point of `deno.json`'s `exports`
 * together (a type exported by one entry point is public for the others, as
 * on JSR): every exported symbol documented, explicit types on exports, no
 * public signature naming an unexported type. Diagnostics inside the folders
 * `deno.json` keeps out of `lint` (generated code, documented by its source
 * schema) are not counted.
 *
 * Run with `deno run --allow-read --allow-run scripts/check_docs.ts`; exits 1
 * on any diagnostic.
 *
 * @module
 */
import { join } from "node:path";
import { readDenoJson, ROOT, runDeno } from "./_deno.ts";

const denoJson = await readDenoJson();
const entries = [...new Set(Object.values(denoJson.exports))];
const excluded = (denoJson.lint?.exclude ?? []).map((path) => join(ROOT, path));
const { output } = await runDeno(["doc", "--lint", ...entries]);

// A diagnostic is a block starting `error[rule]: …` whose `--> path:line:col` line says where.
const diagnostics = output.split(/\n(?=error\[)/).filter((block) => block.startsWith("error["));
const counted = diagnostics.filter((block) => {
  const where = /-->\s+(\S+):\d+:\d+/.exec(block)?.[1];
  return where === undefined || !excluded.some((folder) => where.startsWith(folder));
});
if (counted.length > 0) {
  console.error(counted.join("\n").trimEnd());
  console.error(
    `\ncheck_docs: ${counted.length} documentation lint error(s) across ${entries.length} entry points ` +
      "(document every exported symbol and give exported constants an explicit type).",
  );
  Deno.exit(1);
}
console.log(
  `check_docs: deno doc --lint is clean on ${entries.length} entry points` +
    (diagnostics.length > 0 ? ` (${diagnostics.length} in generated code not counted)` : ""),
);
