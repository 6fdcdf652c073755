// The public surface, entry point by entry point, against a committed snapshot
// (tests/fixtures/exports.json): adding, removing or renaming an export is a
// decision to review (and a CHANGELOG line when it breaks users), never an accident.
// After an intended change: deno test --allow-all tests/exports_test.ts -- --update
import assert from "node:assert/strict";
import { maskSource } from "./_module_graph.ts";

const root = new URL("../", import.meta.url);
const snapshotUrl = new URL("fixtures/exports.json", import.meta.url);

/** Names an entry point exports: values (seen at run time) and types only (seen by `deno doc`). */
interface Surface {
  values: string[];
  types: string[];
}

const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))) as {
  exports: Record<string, string>;
};

async function typeNames(entries: string[]): Promise<Map<string, string[]>> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...entries],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  const doc = JSON.parse(new TextDecoder().decode(stdout)) as {
    nodes: Record<string, { symbols: { name: string }[] }>;
  };
  const names = new Map<string, string[]>();
  for (const [specifier, node] of Object.entries(doc.nodes)) {
    names.set(new URL(specifier).href, node.symbols.map((symbol) => symbol.name));
  }
  return names;
}

async function surfaces(): Promise<Record<string, Surface>> {
  const subpaths = Object.keys(denoJson.exports).sort();
  const documented = await typeNames(subpaths.map((subpath) => denoJson.exports[subpath]!));
  const result: Record<string, Surface> = {};
  for (const subpath of subpaths) {
    const url = new URL(denoJson.exports[subpath]!, root).href;
    const values = Object.keys(await import(url)).sort();
    const all = documented.get(url);
    assert.ok(all, `deno doc did not document ${subpath} (${url})`);
    const types = [...new Set(all.filter((name) => !values.includes(name)))].sort();
    result[subpath] = { values, types };
  }
  return result;
}

if (Deno.args.includes("--update")) {
  await Deno.writeTextFile(snapshotUrl, JSON.stringify(await surfaces(), null, 2) + "\n");
  console.log(`exports_test: wrote ${snapshotUrl.pathname}`);
}

Deno.test("every entry point exports exactly the names in tests/fixtures/exports.json", async () => {
  const snapshot = JSON.parse(await Deno.readTextFile(snapshotUrl)) as Record<string, Surface>;
  const actual = await surfaces();
  const problems: string[] = [];
  for (const subpath of new Set([...Object.keys(snapshot), ...Object.keys(actual)])) {
    const want = snapshot[subpath];
    const got = actual[subpath];
    if (!want) problems.push(`${subpath}: a new entry point`);
    else if (!got) problems.push(`${subpath}: entry point removed`);
    else {
      for (const kind of ["values", "types"] as const) {
        const added = got[kind].filter((name) => !want[kind].includes(name));
        const removed = want[kind].filter((name) => !got[kind].includes(name));
        if (added.length > 0) problems.push(`${subpath}: ${kind} added: ${added.join(", ")}`);
        if (removed.length > 0) problems.push(`${subpath}: ${kind} removed: ${removed.join(", ")}`);
      }
    }
  }
  assert.ok(
    problems.length === 0,
    `The public surface changed:\n  ${problems.join("\n  ")}\n` +
      "If this is intended, list breaking changes in CHANGELOG.md and update the snapshot:\n" +
      "  deno test --allow-all tests/exports_test.ts -- --update",
  );
});

Deno.test("the package root stays a short list of what an application needs", async () => {
  const { values, types } = (await surfaces())["."]!;
  for (
    const internal of [
      "Pipeline",
      "planRetry",
      "INITIAL_RETRY_STATE",
      "guardFor",
      "errorNames",
      "preview",
    ]
  ) {
    assert.ok(!values.includes(internal), `${internal} is exported from the root`);
  }
  for (const internal of ["LiveQueue", "Environment"]) {
    assert.ok(![...values, ...types].includes(internal), `${internal} is exported from the root`);
  }
});

Deno.test("no entry point re-exports a whole module (export *): every export list is explicit", async () => {
  const offenders: string[] = [];
  for (const entry of new Set(Object.values(denoJson.exports))) {
    const code = maskSource(await Deno.readTextFile(new URL(entry, root)));
    if (/\bexport\s*\*/.test(code)) offenders.push(entry);
  }
  assert.deepEqual(offenders, []);
});
