/**
 * A pathname pattern such as `/api/v1/:tenant/graphql`: literal segments and
 * `:name` segments that match one non-empty segment. Parameters come back as
 * they appear in the URL (still percent-encoded), as `URLPattern` gives them.
 * `URLPattern` itself is not used because Node 20 lacks it.
 */
export interface PathPattern {
  /** The parameters of a matching pathname, or `null`. */
  match(pathname: string): Record<string, string> | null;
}

const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)$/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Compiles a pathname pattern.
 *
 * @example Usage
 * ```ts
 * import { compilePathPattern } from "./_path_pattern.ts";
 * import assert from "node:assert/strict";
 *
 * const pattern = compilePathPattern("/api/v1/:tenant/graphql");
 * assert.deepEqual(pattern.match("/api/v1/test_abc/graphql"), { tenant: "test_abc" });
 * assert.equal(pattern.match("/api/v1/graphql"), null);
 * ```
 */
export function compilePathPattern(path: string): PathPattern {
  const names: string[] = [];
  const source = path.split("/").map((segment) => {
    const param = PARAM.exec(segment);
    if (param === null) return escapeRegExp(segment);
    names.push(param[1]!);
    return "([^/]+)";
  }).join("/");
  const regexp = new RegExp(`^${source}$`);
  return {
    match(pathname: string): Record<string, string> | null {
      const found = regexp.exec(pathname);
      if (found === null) return null;
      const params: Record<string, string> = {};
      names.forEach((name, index) => params[name] = found[index + 1]!);
      return params;
    },
  };
}
