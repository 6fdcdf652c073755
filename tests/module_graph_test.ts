import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { cycles, type ImportEdge, importGraph, parseImports, ROOT } from "./_module_graph.ts";

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
  specifiers.filter((specifier) =>
    /hash-wasm|@noble\/hashes|@bufbuild\/protobuf|\/wasm\//.test(specifier)
  );

Deno.test("the package root loads neither the WASM hashers nor protobuf-es", async () => {
  // Instantiating hash-wasm's hashers costs ~8 MB of RSS a Client alone never uses.
  assert.deepEqual(heavy(await moduleGraph("../mod.ts")), []);
});

const databaseClients = (specifiers: string[]) =>
  specifiers.flatMap((specifier) => /^npm:\/?(ioredis|postgres)@/.exec(specifier)?.[1] ?? []);

Deno.test("the root and ./receiver load neither the Redis nor the PostgreSQL client", async () => {
  for (const entry of ["../mod.ts", "../src/receiver/mod.ts"]) {
    assert.deepEqual(databaseClients(await moduleGraph(entry)), [], entry);
  }
});

Deno.test("./receiver/redis loads only ioredis, ./receiver/postgres only postgres", async () => {
  const redis = await moduleGraph("../src/receiver/redis_dedupe_store.ts");
  assert.deepEqual(databaseClients(redis), ["ioredis"]);
  assert.deepEqual(databaseClients(await moduleGraph("../src/receiver/postgres/mod.ts")), [
    "postgres",
  ]);
});

Deno.test("./hash and ./hamustro load the WASM hashers they need", async () => {
  for (const entry of ["../src/hash/mod.ts", "../src/hamustro/mod.ts"]) {
    assert.ok(heavy(await moduleGraph(entry)).some((s) => s.includes("hash-wasm")), entry);
  }
});

// The architecture, checked on the import graph read from source text (tests/_module_graph.ts).
// Layers and who may import whom: README's architecture section; an arrow reads "may import":
// _util ← errors ← ports ← event, kit ← pipeline ← facades (client.ts, Hamustro's tracker) ← mod.ts;
// the event controls (src/controls/) sit beside the engine: the client imports them, the engine never.

const graph = await importGraph();

/** The files deno.json exports: entry points, which re-export and sit above every layer. */
const ENTRY_FILES: ReadonlySet<string> = new Set(
  Object.values(
    (JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url))) as {
      exports: Record<string, string>;
    }).exports,
  ).map((path) => path.replace(/^\.\//, "")),
);

/** Layer of a repository path: the folder under src/ (event.ts and idempotency_key.ts are `event`). */
function layerOf(path: string): string {
  if (path === "mod.ts" || (path.endsWith("/mod.ts") && ENTRY_FILES.has(path))) return "root";
  if (path.startsWith("wasm/")) return "wasm";
  if (path === "src/client.ts") return "client";
  if (path === "src/event.ts" || path === "src/idempotency_key.ts") return "event";
  return path.split("/")[1]!;
}

/** What each layer may import besides itself; `root` (an entry point's mod.ts) may import anything. */
const ALLOWED: Record<string, readonly string[]> = {
  _util: [],
  errors: ["_util"],
  ports: ["_util", "errors", "event"],
  event: ["_util", "errors", "ports"],
  kit: ["_util", "errors", "ports", "event"],
  hash: ["_util", "errors", "event", "wasm"],
  pipeline: ["_util", "errors", "ports", "event", "kit"],
  controls: ["_util", "errors", "ports", "event"],
  drivers: ["_util", "errors", "ports", "kit", "wasm", "event:type"],
  receiver: ["_util", "errors", "ports", "event", "kit", "wasm"],
  profiles: ["_util", "errors", "ports", "event", "kit", "wasm", "receiver:route"],
  hamustro: [
    "_util",
    "errors",
    "ports",
    "event",
    "kit",
    "pipeline",
    "drivers",
    "receiver",
    "hash",
    "wasm",
  ],
  client: [
    "_util",
    "errors",
    "ports",
    "event",
    "kit",
    "pipeline",
    "controls",
    "drivers",
    "profiles",
  ],
  wasm: [],
};

/** The receiver's files a profile's route may use: the route contract and the helpers for routes. */
const RECEIVER_ROUTE_FILES = [
  "src/receiver/route.ts",
  "src/receiver/http.ts",
  "src/receiver/rate_limiter.ts",
];

function directionProblem(edge: ImportEdge): string | undefined {
  const from = layerOf(edge.from);
  const to = layerOf(edge.to);
  if (from === to || from === "root") return undefined;
  const allowed = ALLOWED[from];
  if (allowed === undefined) return `${edge.from} is in no known layer (add '${from}' to ALLOWED)`;
  if (allowed.includes(to)) return undefined;
  if (allowed.includes(`${to}:type`) && edge.kind === "type") return undefined;
  if (allowed.includes(`${to}:route`) && RECEIVER_ROUTE_FILES.includes(edge.to)) return undefined;
  return `${edge.from} imports ${edge.to} (${edge.kind}): ${from} may import ${
    allowed.join(", ") || "nothing"
  }`;
}

/** The folder a private path is visible in: the parent of its first `_name` (a `_file.ts` or a `_folder/`). */
function privateScope(path: string): string | undefined {
  const parts = path.split("/");
  const first = parts.findIndex((part) => part.startsWith("_"));
  return first === -1 ? undefined : parts.slice(0, first).join("/");
}

function privacyProblem(edge: ImportEdge): string | undefined {
  const scope = privateScope(edge.to);
  if (scope === undefined || edge.from.startsWith(`${scope}/`) || scope === "") return undefined;
  return `${edge.from} imports ${edge.to}, private to ${scope}/`;
}

/**
 * Breaks of the rules allowed for now. Each entry must still occur: the test fails once it is
 * gone, so the list only shrinks (it is empty: keep it so).
 */
const KNOWN_ENGINE_PROBLEMS: readonly string[] = [];

function check(problems: string[], what: string): void {
  const unexpected = problems.filter((problem) => !KNOWN_ENGINE_PROBLEMS.includes(problem));
  assert.deepEqual(unexpected, [], `${what}:\n  ${unexpected.join("\n  ")}`);
}

Deno.test("the source has no runtime import cycle", () => {
  const runtime = graph.filter((edge) => edge.kind === "runtime");
  check(
    cycles(runtime).map((cycle) => `runtime cycle: ${cycle.join(" → ")}`),
    "Runtime import cycles",
  );
});

Deno.test("the delivery engine (src/pipeline/) has no import cycle, not even through types", () => {
  const engine = graph.filter((edge) =>
    edge.kind !== "dynamic" && edge.from.startsWith("src/pipeline/") &&
    edge.to.startsWith("src/pipeline/")
  );
  check(
    cycles(engine).map((cycle) => `engine cycle: ${cycle.join(" → ")}`),
    "Engine import cycles",
  );
});

Deno.test("a private _file.ts or _folder/ is imported only from its own folder and below", () => {
  check(graph.map(privacyProblem).filter((problem) => problem !== undefined), "Private imports");
});

Deno.test("imports follow the layers: ports, kit, engine, drivers, profiles, receiver, facades", () => {
  check(graph.map(directionProblem).filter((problem) => problem !== undefined), "Layer breaks");
});

Deno.test("stale allowances for the engine's rewrite are removed", () => {
  const all = new Set([
    ...cycles(graph.filter((edge) => edge.kind === "runtime")).map((c) =>
      `runtime cycle: ${c.join(" → ")}`
    ),
    ...cycles(
      graph.filter((edge) =>
        edge.kind !== "dynamic" && edge.from.startsWith("src/pipeline/") &&
        edge.to.startsWith("src/pipeline/")
      ),
    ).map((c) => `engine cycle: ${c.join(" → ")}`),
    ...graph.map(privacyProblem),
    ...graph.map(directionProblem),
  ]);
  const stale = KNOWN_ENGINE_PROBLEMS.filter((problem) => !all.has(problem));
  assert.deepEqual(stale, [], "These no longer occur: remove them from KNOWN_ENGINE_PROBLEMS");
});

Deno.test("the source-text import graph agrees with deno info on every entry point's modules", async () => {
  const denoJson = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as {
    exports: Record<string, string>;
  };
  const local = (specifier: string) => relative(ROOT, fromFileUrl(specifier));
  const deno = new Map<string, string>();
  for (const entry of new Set(Object.values(denoJson.exports))) {
    const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", join(ROOT, entry)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    const info = JSON.parse(new TextDecoder().decode(stdout)) as {
      modules: {
        specifier: string;
        dependencies?: {
          code?: { specifier: string };
          type?: { specifier: string };
          isDynamic?: boolean;
        }[];
      }[];
    };
    for (const module of info.modules) {
      if (!module.specifier.startsWith("file:")) continue;
      for (const dependency of module.dependencies ?? []) {
        const target = dependency.code?.specifier ?? dependency.type?.specifier;
        if (!target?.startsWith("file:")) continue;
        const kind = dependency.isDynamic ? "dynamic" : dependency.code ? "runtime" : "type";
        deno.set(`${local(module.specifier)} → ${local(target)}`, kind);
      }
    }
  }
  const ours = new Map<string, string>();
  const rank = { runtime: 2, dynamic: 1, type: 0 };
  for (const edge of graph) {
    const key = `${edge.from} → ${edge.to}`;
    const known = ours.get(key) as keyof typeof rank | undefined;
    if (known === undefined || rank[edge.kind] > rank[known]) ours.set(key, edge.kind);
  }
  const disagreements = [...deno].filter(([key, kind]) => ours.get(key) !== kind)
    .map(([key, kind]) =>
      `${key}: deno info says ${kind}, the parser ${ours.get(key) ?? "nothing"}`
    );
  assert.deepEqual(disagreements, []);
});

Deno.test("the import parser tells runtime, type-only and dynamic imports apart, ignoring comments", () => {
  const source = [
    'import { a, type B } from "./runtime.ts";',
    'import type { C } from "./type_keyword.ts";',
    'import { type D, type E } from "./all_types.ts";',
    'export { f } from "./re_export.ts";',
    'export type { G } from "./type_re_export.ts";',
    'export * from "./star.ts";',
    'import "./side_effect.ts";',
    'const lazy = () => import("./dynamic.ts");',
    'type H = typeof import("./typeof.ts");',
    '// import { x } from "./line_comment.ts";',
    '/** import { y } from "./block_comment.ts"; */',
    "const text = \"import { z } from './in_string.ts'\";",
  ].join("\n");
  assert.deepEqual(
    parseImports(source).map(({ specifier, kind }) => `${specifier} ${kind}`).sort(),
    [
      "./all_types.ts type",
      "./dynamic.ts dynamic",
      "./re_export.ts runtime",
      "./runtime.ts runtime",
      "./side_effect.ts runtime",
      "./star.ts runtime",
      "./type_keyword.ts type",
      "./type_re_export.ts type",
      "./typeof.ts type",
    ],
  );
});

Deno.test("the rules catch a cycle, a private import from outside and an import against the layers", () => {
  const edge = (from: string, to: string, kind: ImportEdge["kind"] = "runtime"): ImportEdge => ({
    from,
    to,
    kind,
  });
  assert.deepEqual(cycles([edge("a.ts", "b.ts"), edge("b.ts", "c.ts"), edge("c.ts", "a.ts")]), [[
    "a.ts",
    "b.ts",
    "c.ts",
  ]]);
  assert.deepEqual(cycles([edge("a.ts", "b.ts"), edge("b.ts", "c.ts"), edge("a.ts", "c.ts")]), []);

  assert.ok(privacyProblem(edge("src/profiles/json/profile.ts", "src/receiver/_body.ts")));
  assert.ok(privacyProblem(edge("mod.ts", "src/_util/utf8.ts")));
  assert.ok(privacyProblem(edge("src/pipeline.ts", "src/pipeline/_queue/queue.ts")));
  assert.equal(
    privacyProblem(edge("src/receiver/receiver.ts", "src/receiver/_body.ts")),
    undefined,
  );
  assert.equal(
    privacyProblem(edge("src/pipeline/queue/x.ts", "src/pipeline/_journal.ts")),
    undefined,
  );
  assert.equal(privacyProblem(edge("src/hamustro/codec.ts", "src/_util/utf8.ts")), undefined);

  assert.ok(directionProblem(edge("src/receiver/receiver.ts", "src/pipeline/pipeline.ts", "type")));
  assert.ok(directionProblem(edge("src/profiles/skalin/profile.ts", "src/pipeline/options.ts")));
  assert.ok(
    directionProblem(edge("src/drivers/storage/memory_storage.ts", "src/pipeline/pipeline.ts")),
  );
  assert.ok(directionProblem(edge("src/drivers/storage/memory_storage.ts", "src/event.ts")));
  assert.ok(directionProblem(edge("src/profiles/skalin/route.ts", "src/receiver/receiver.ts")));
  assert.ok(
    directionProblem(edge("src/ports/storage.ts", "src/drivers/storage/memory_storage.ts")),
  );
  assert.equal(
    directionProblem(edge("src/drivers/storage/memory_storage.ts", "src/event.ts", "type")),
    undefined,
  );
  assert.equal(
    directionProblem(edge("src/profiles/skalin/route.ts", "src/receiver/route.ts")),
    undefined,
  );
  assert.equal(directionProblem(edge("src/client.ts", "src/pipeline/pipeline.ts")), undefined);
  assert.equal(directionProblem(edge("src/client.ts", "src/controls/controls.ts")), undefined);
  assert.ok(directionProblem(edge("src/pipeline/pipeline.ts", "src/controls/controls.ts", "type")));
  assert.ok(directionProblem(edge("src/controls/controls.ts", "src/pipeline/pipeline.ts", "type")));
});

/**
 * The delivery engine's own layers, lowest first: a file imports only files
 * of its own layer or lower ones. `queue/` holds the memory layout (nothing
 * below it knows it); `pipeline.ts` only orchestrates.
 */
const ENGINE_LAYERS: readonly (readonly string[])[] = [
  ["types.ts", "options.ts", "_waiter.ts", "_entry.ts", "_batch.ts", "_redact.ts"],
  ["queue/"],
  ["_journal.ts", "_ledger.ts", "_restore.ts", "_overflow.ts"],
  ["_batcher.ts", "_sender.ts"],
  ["pipeline.ts"],
];

function engineLayerOf(path: string): number {
  const file = path.slice("src/pipeline/".length);
  const layer = ENGINE_LAYERS.findIndex((names) =>
    names.some((name) => name.endsWith("/") ? file.startsWith(name) : file === name)
  );
  assert.ok(layer >= 0, `${path} is in no layer of the engine: add it to ENGINE_LAYERS`);
  return layer;
}

Deno.test("engine imports flow one way, from orchestration down to the vocabulary, type-only ones too", () => {
  const engine = graph.filter((edge) =>
    edge.from.startsWith("src/pipeline/") && edge.to.startsWith("src/pipeline/")
  );
  assert.ok(engine.length >= 20, `${engine.length} imports inside the engine`);
  const upward = engine
    .filter((edge) => engineLayerOf(edge.to) > engineLayerOf(edge.from))
    .map((edge) => `${edge.from} → ${edge.to} (${edge.kind})`);
  assert.deepEqual(upward, []);
});
