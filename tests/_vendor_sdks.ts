// The vendors' official SDKs (pinned with the services' in tests/_sdk/package.json and its lock,
// installed by tests/_official_sdks.ts), run under Node as child processes: their own HTTP code,
// against an idemtrack receiver on loopback.
import { dirname } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { officialSdks } from "./_official_sdks.ts";

/** The vendors the child script drives. */
export type SdkVendor = "segment" | "rudderstack" | "posthog" | "amplitude" | "mixpanel";

const CHILD = fromFileUrl(new URL("./_vendor_sdk_child.mjs", import.meta.url));

// The folder whose node_modules holds the SDKs, once installed.
let sdkDir: string | undefined;

/**
 * Installs the SDKs if they are missing (once per cache). Returns why they
 * cannot run (no Node, npm or registry), or `undefined` when they can; under
 * `CI=true` that throws instead, so CI never passes by skipping.
 */
export async function ensureVendorSdks(): Promise<string | undefined> {
  const nodeModules = await officialSdks();
  if (nodeModules === undefined) return "the official SDKs cannot be installed here";
  sdkDir = dirname(nodeModules);
  return undefined;
}

/** What the child reported. */
export interface SdkRun {
  readonly vendor: SdkVendor;
  readonly sent: number;
  readonly failed: number;
  readonly ms: number;
  /** CPU time of the Node process (user + system), ms. */
  readonly cpuMs: number;
  /** Peak resident set size of the Node process, MB. */
  readonly peakRssMb: number;
}

/**
 * Runs one SDK under Node against `origin`, sending `count` events; with
 * `fixedIds` the application sets each event's vendor id (and time) from its
 * number, so two runs send the same events.
 */
export async function runSdk(
  vendor: SdkVendor,
  origin: string,
  count: number,
  flushAt = 20,
  fixedIds = false,
): Promise<SdkRun> {
  if (sdkDir === undefined) throw new Error("runSdk() before ensureVendorSdks() found the SDKs");
  const child = new Deno.Command("node", {
    args: [CHILD],
    env: {
      VENDOR: vendor,
      ORIGIN: origin,
      COUNT: String(count),
      FLUSH_AT: String(flushAt),
      FIXED_IDS: fixedIds ? "1" : "0",
      SDK_DIR: sdkDir ?? "",
    },
    stdout: "piped",
    stderr: "piped",
  });
  const output = await child.output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(
      `${vendor} SDK child failed (${output.code}): ${
        new TextDecoder().decode(output.stderr).slice(-2000)
      }`,
    );
  }
  return JSON.parse(stdout.split("\n").at(-1)!) as SdkRun;
}
