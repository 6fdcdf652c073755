/**
 * What the Hamustro seed asks a tracker to fill in by itself: the device's
 * current time zone, its IPv4 address and its country. Each lookup returns
 * undefined where the runtime cannot tell (then the field is left out).
 *
 * @module
 */

/**
 * The time zone the runtime is in now (IANA name from `Intl`), or
 * undefined.
 *
 * @example Usage
 * ```ts
 * import { currentTimezone } from "./device.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(typeof (currentTimezone() ?? ""), "string");
 * ```
 */
export function currentTimezone(): string | undefined {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
  } catch {
    return undefined;
  }
}

interface NetworkInterfaceInfo {
  readonly family: string | number;
  readonly address: string;
  readonly internal?: boolean;
}

type InterfaceLister = () => readonly NetworkInterfaceInfo[];

interface DenoLike {
  networkInterfaces?: () => NetworkInterfaceInfo[];
  permissions?: { querySync?: (descriptor: { name: "sys"; kind: string }) => { state: string } };
}

/**
 * `Deno.networkInterfaces` when `--allow-sys=networkInterfaces` was granted
 * (checked first, so a library never triggers a permission prompt), or
 * Node's `os.networkInterfaces`, flattened.
 */
function interfaceLister(): InterfaceLister | undefined {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (typeof deno?.networkInterfaces === "function") {
    const state = deno.permissions?.querySync?.({ name: "sys", kind: "networkInterfaces" }).state;
    return state === "granted" ? deno.networkInterfaces : undefined;
  }
  const process = (globalThis as {
    process?: { getBuiltinModule?: (name: string) => unknown };
  }).process;
  const os = process?.getBuiltinModule?.("node:os") as
    | { networkInterfaces?: () => Record<string, NetworkInterfaceInfo[] | undefined> }
    | undefined;
  const list = os?.networkInterfaces;
  if (typeof list !== "function") return undefined;
  return () => Object.values(list()).flatMap((infos) => infos ?? []);
}

const LOOPBACK = /^127\./;

/**
 * The device's IPv4 address: the first non-internal IPv4 address of its
 * network interfaces (Deno: only with `--allow-sys=networkInterfaces`
 * granted, never prompting for it; Node: `os.networkInterfaces()`), or
 * undefined (browsers, no permission, no network). Behind NAT this is the local address; a collector keeps a
 * payload's own `ip`.
 *
 * @example Usage
 * ```ts
 * import { deviceIpv4 } from "./device.ts";
 * import assert from "node:assert/strict";
 *
 * const ip = deviceIpv4();
 * assert.ok(ip === undefined || /^\d+\.\d+\.\d+\.\d+$/.test(ip));
 * ```
 */
export function deviceIpv4(): string | undefined {
  try {
    const list = interfaceLister();
    if (list === undefined) return undefined;
    for (const info of list()) {
      const ipv4 = info.family === "IPv4" || info.family === 4;
      if (ipv4 && !info.internal && !LOOPBACK.test(info.address)) return info.address;
    }
  } catch {
    // No permission or no interfaces: the field is left out.
  }
  return undefined;
}

/**
 * The country of a locale: its region subtag, else the likely region of its
 * language by CLDR's likely-subtags data (`Intl.Locale#maximize`: `hu` →
 * `HU`, `en` → `US`), or undefined.
 *
 * @example Usage
 * ```ts
 * import { localeCountry } from "./device.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(localeCountry("de-AT"), "AT");
 * assert.equal(localeCountry("hu"), "HU");
 * assert.equal(localeCountry("not a locale"), undefined);
 * ```
 */
export function localeCountry(locale: string): string | undefined {
  try {
    return new Intl.Locale(locale).maximize().region;
  } catch {
    return undefined;
  }
}

/**
 * The device's country, from its locale (`navigator.language`, else the
 * runtime's default `Intl` locale) by {@linkcode localeCountry}. No network
 * lookup is made.
 *
 * @example Usage
 * ```ts
 * import { deviceCountry } from "./device.ts";
 * import assert from "node:assert/strict";
 *
 * const country = deviceCountry();
 * assert.ok(country === undefined || /^[A-Z]{2}$|^\d{3}$/.test(country));
 * ```
 */
export function deviceCountry(): string | undefined {
  const navigatorLanguage = (globalThis as { navigator?: { language?: unknown } }).navigator
    ?.language;
  const locale = typeof navigatorLanguage === "string" && navigatorLanguage !== ""
    ? navigatorLanguage
    : Intl.DateTimeFormat().resolvedOptions().locale;
  return localeCountry(locale);
}
