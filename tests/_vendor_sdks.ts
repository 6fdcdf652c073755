// The vendors' official SDKs, installed from npm at exact versions into the
// git-ignored .tools/vendors, and run under Node as child processes (their
// own HTTP code, against an idemtrack receiver on loopback).
import { fileURLToPath as fromFileUrl } from "node:url";

/** Exact versions the tests and benches drive. */
export const VENDOR_SDKS: Readonly<Record<string, string>> = Object.freeze({
  "@segment/analytics-node": "3.1.0",
  "@rudderstack/rudder-sdk-node": "3.0.13",
  "posthog-node": "5.70.0",
  "@amplitude/analytics-node": "1.5.73",
  mixpanel: "0.24.0",
});

/** The vendors the child script drives. */
export type SdkVendor = "segment" | "rudderstack" | "posthog" | "amplitude" | "mixpanel";

export const SDK_DIR = fromFileUrl(new URL("../.tools/vendors", import.meta.url));
const CHILD = fromFileUrl(new URL("./_vendor_sdk_child.mjs", import.meta.url));

async function installedVersion(name: string): Promise<string | undefined> {
  try {
    const text = await Deno.readTextFile(`${SDK_DIR}/node_modules/${name}/package.json`);
    return (JSON.parse(text) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

async function commandWorks(command: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}

let ready: Promise<string | undefined> | undefined;

/**
 * Installs the SDKs if they are missing (once per process). Returns why they
 * cannot run (no Node or npm), or `undefined` when they can; under `CI=true`
 * a missing tool throws instead, so CI never passes by skipping.
 */
export function ensureVendorSdks(): Promise<string | undefined> {
  ready ??= (async () => {
    // Deno answers a "node" command itself on some machines: the SDKs must run on Node.
    const isNode = ["-e", "process.exit(process.versions.deno ? 1 : 0)"];
    if (!await commandWorks("node", isNode)) return need("Node is not on PATH");
    const missing = [];
    for (const [name, version] of Object.entries(VENDOR_SDKS)) {
      if (await installedVersion(name) !== version) missing.push(`${name}@${version}`);
    }
    if (missing.length === 0) return undefined;
    if (!await commandWorks("npm", ["--version"])) return need("npm is not on PATH");
    await Deno.mkdir(SDK_DIR, { recursive: true });
    const install = await new Deno.Command("npm", {
      args: [
        "install",
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--prefix",
        SDK_DIR,
        ...Object.entries(VENDOR_SDKS).map(([name, version]) => `${name}@${version}`),
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!install.success) {
      return need(`npm install failed: ${new TextDecoder().decode(install.stderr).slice(0, 500)}`);
    }
    return undefined;
  })();
  return ready;
}

function need(reason: string): string {
  if (Deno.env.get("CI") === "true") throw new Error(`vendor SDK tests need ${reason}`);
  console.warn(`SKIPPED vendor SDK tests: ${reason}`);
  return reason;
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
  const child = new Deno.Command("node", {
    args: [CHILD],
    env: {
      VENDOR: vendor,
      ORIGIN: origin,
      COUNT: String(count),
      FLUSH_AT: String(flushAt),
      FIXED_IDS: fixedIds ? "1" : "0",
      SDK_DIR,
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
