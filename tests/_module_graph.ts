// The import graph of the repository's own TypeScript, read from source text (not from `deno info`,
// which drops `import type` and cannot say which edge is type-only), for the architecture tests.
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** `runtime`: a static import or re-export of values; `type`: erased at run time; `dynamic`: `import("…")`. */
export type ImportKind = "runtime" | "type" | "dynamic";

/** One import of a local file, both ends as repository-relative paths (`src/pipeline/pipeline.ts`). */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: ImportKind;
}

/** The repository root, as a path. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/**
 * The source with comments and the contents of strings and templates blanked out (newlines kept), so
 * that offsets still match the source: code in a comment or a string is never read as an import.
 */
export function maskSource(source: string): string {
  const blank = (text: string) => text.replace(/[^\n]/g, " ");
  let out = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      out += c + blank(source.slice(i + 1, j)) + (j < source.length ? c : "");
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

// `import x from`, `import type { A } from`, `import * as ns from`, `import x, { a } from`,
// `export { a, type B } from`, `export type { A } from`, `export * from`, `export * as ns from`.
const CLAUSE = String
  .raw`(type\s+)?(\*(?:\s+as\s+[\w$]+)?|\{[^}]*\}|[\w$]+(?:\s*,\s*(?:\{[^}]*\}|\*\s+as\s+[\w$]+))?)`;
const STATIC = new RegExp(
  String.raw`\b(import|export)\s+${CLAUSE}\s*from\s*["']([^"']*)["']`,
  "dg",
);
const SIDE_EFFECT = /\bimport\s*["']([^"']*)["']/dg;
const DYNAMIC = /(\btypeof\s+)?\bimport\s*\(\s*["']([^"']*)["']\s*\)/dg;

/** The specifiers a module imports, each with how. */
export function parseImports(source: string): { specifier: string; kind: ImportKind }[] {
  const code = maskSource(source);
  // The pattern matched the masked code; the specifier is read back from the source at the same offsets.
  const specifierAt = (match: RegExpMatchArray, group: number) => {
    const [start, end] = match.indices![group]!;
    return source.slice(start, end);
  };
  const found: { specifier: string; kind: ImportKind }[] = [];
  for (const match of code.matchAll(STATIC)) {
    const [, , typeKeyword, clause] = match;
    const names = clause!.startsWith("{")
      ? clause!.slice(1, -1).split(",").map((name) => name.trim()).filter((name) => name !== "")
      : [];
    const typeOnly = typeKeyword !== undefined ||
      (names.length > 0 && names.every((name) => name.startsWith("type ")));
    found.push({ specifier: specifierAt(match, 4), kind: typeOnly ? "type" : "runtime" });
  }
  for (const match of code.matchAll(SIDE_EFFECT)) {
    found.push({ specifier: specifierAt(match, 1), kind: "runtime" });
  }
  for (const match of code.matchAll(DYNAMIC)) {
    found.push({ specifier: specifierAt(match, 2), kind: match[1] ? "type" : "dynamic" });
  }
  return found;
}

async function* typescriptFiles(folder: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(join(ROOT, folder))) {
    const path = join(folder, entry.name);
    if (entry.isDirectory) yield* typescriptFiles(path);
    else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}

/** Every import between local files of `mod.ts`, `src/` and `wasm/` (npm, `node:` and URL imports left out). */
export async function importGraph(): Promise<ImportEdge[]> {
  const files = ["mod.ts"];
  for (const folder of ["src", "wasm"]) {
    for await (const file of typescriptFiles(folder)) files.push(file);
  }
  const edges: ImportEdge[] = [];
  for (const from of files.sort()) {
    for (const { specifier, kind } of parseImports(await Deno.readTextFile(join(ROOT, from)))) {
      if (!specifier.startsWith("./") && !specifier.startsWith("../")) continue;
      const to = relative(ROOT, join(ROOT, normalize(join(dirname(from), specifier))));
      edges.push({ from, to, kind });
    }
  }
  return edges;
}

/** The import cycles of a graph: its strongly connected components of more than one file, or a file importing itself. */
export function cycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    if (!next.has(from)) next.set(from, new Set());
    if (!next.has(to)) next.set(to, new Set());
    next.get(from)!.add(to);
  }
  // Tarjan's algorithm, iterative, so a deep graph cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let counter = 0;
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: [string, Iterator<string>][] = [[start, next.get(start)!.values()]];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const [node, children] = work[work.length - 1]!;
      const step = children.next();
      if (!step.done) {
        const child = step.value;
        if (!index.has(child)) {
          index.set(child, counter);
          low.set(child, counter++);
          stack.push(child);
          onStack.add(child);
          work.push([child, next.get(child)!.values()]);
        } else if (onStack.has(child)) {
          low.set(node, Math.min(low.get(node)!, index.get(child)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0])!, low.get(node)!));
      if (low.get(node) === index.get(node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== node);
        if (component.length > 1 || next.get(node)!.has(node)) found.push(component.sort());
      }
    }
  }
  return found;
}
