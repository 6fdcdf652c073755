/**
 * Shared by the `check_*` scripts: the repository root, its `deno.json`, and
 * a `deno` subcommand run there with its output as plain text.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The fields of `deno.json` the scripts read. */
export interface DenoJson {
  exports: Record<string, string>;
  lint?: { exclude?: string[] };
}

/** The repository root, as a path ending in `/`. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** The repository's `deno.json`. */
export async function readDenoJson(): Promise<DenoJson> {
  return JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as DenoJson;
}

/** Runs `deno <args>` in the repository root; its stdout and stderr together, without colours. */
export async function runDeno(args: string[]): Promise<{ success: boolean; output: string }> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { success, output: decoder.decode(stdout) + decoder.decode(stderr) };
}
