/**
 * The ranges the reference collector skips as private (`bfaludi/remoteip`
 * `PrivateIPv4AddressRanges`): 10/8, 172.16/12, 192.168/16, as
 * `[first, last]` 32-bit values. Loopback and link-local are not in it.
 */
const PRIVATE_IPV4_RANGES: readonly (readonly [number, number])[] = [
  [0x0a000000, 0x0affffff],
  [0xac100000, 0xac1fffff],
  [0xc0a80000, 0xc0a8ffff],
];

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
/** An IPv4 address in IPv6 notation, which Go's `net.IP.To4` also takes as IPv4. */
const MAPPED_PREFIX = /^(?:0{0,4}:){5}ffff:/i;
const MAPPED_SHORT_PREFIX = /^::ffff:/i;

/** The 32-bit value of an IPv4 address (dotted quad, or IPv4-mapped IPv6), else undefined. */
function ipv4Value(text: string): number | undefined {
  const dotted = text.replace(MAPPED_SHORT_PREFIX, "").replace(MAPPED_PREFIX, "");
  const match = DOTTED_QUAD.exec(dotted);
  if (match === null) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(match[i]);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/**
 * The first public IPv4 address of a comma-separated list, normalised
 * (`::ffff:1.2.3.4` → `1.2.3.4`), or undefined. IPv6 addresses, text that is
 * no address and the private ranges (10/8, 172.16/12, 192.168/16) are
 * skipped, as the reference collector's `remoteip.GetFirstIPv4Address` does.
 *
 * @example Usage
 * ```ts
 * import { firstPublicIpv4 } from "./_client_address.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(firstPublicIpv4(" 10.38.135.210 ,  68.111.195.103,  "), "68.111.195.103");
 * assert.equal(firstPublicIpv4("192.168.0.1"), undefined);
 * ```
 */
export function firstPublicIpv4(addresses: string): string | undefined {
  for (const part of addresses.split(",")) {
    const value = ipv4Value(part.trim());
    if (value === undefined) continue;
    if (PRIVATE_IPV4_RANGES.some(([first, last]) => value >= first && value <= last)) continue;
    return formatIpv4(value);
  }
  return undefined;
}

/**
 * The client's address as the reference collector finds it for a payload
 * without `ip` (`remoteip.GetIPv4Address`): the first public IPv4 address of
 * `X-Forwarded-For`, else of `X-Real-Ip`; never the socket's address (the
 * reference tries `RemoteAddr` last, but its `host:port` form never parses,
 * so a direct connection leaves `ip` empty).
 *
 * @example Usage
 * ```ts
 * import { forwardedClientIpv4 } from "./_client_address.ts";
 * import assert from "node:assert/strict";
 *
 * const headers = new Headers({ "X-Forwarded-For": "192.168.0.1", "X-Real-Ip": "192.142.0.1" });
 * assert.equal(forwardedClientIpv4(headers), "192.142.0.1");
 * assert.equal(forwardedClientIpv4(new Headers()), undefined);
 * ```
 */
export function forwardedClientIpv4(headers: Headers): string | undefined {
  for (const name of ["x-forwarded-for", "x-real-ip"]) {
    const value = headers.get(name);
    if (value === null) continue;
    const address = firstPublicIpv4(value);
    if (address !== undefined) return address;
  }
  return undefined;
}
