// node:assert/strict for the browser bundle (import_map.json points
// node:assert/strict here): the npm port of Node's assert module.
import "./process_shim.ts";
// Test-only, browser-only dependency: pinned here rather than in deno.json.
// deno-lint-ignore no-import-prefix
import assert from "npm:assert@2.1.0";

export default assert.strict;
