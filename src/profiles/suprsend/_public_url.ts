/** Host names that never resolve to a public address. */
const PRIVATE_NAME = /(?:^|\.)(?:localhost|local|internal|intranet|lan|home\.arpa)$/i;

/** IPv4 ranges that are not publicly routable, as `[first, last]` 32-bit values. */
const PRIVATE_IPV4: readonly (readonly [number, number])[] = [
  [0x00000000, 0x00ffffff], // 0/8 "this network"
  [0x0a000000, 0x0affffff], // 10/8
  [0x64400000, 0x647fffff], // 100.64/10 shared (CGNAT)
  [0x7f000000, 0x7fffffff], // 127/8 loopback
  [0xa9fe0000, 0xa9feffff], // 169.254/16 link-local
  [0xac100000, 0xac1fffff], // 172.16/12
  [0xc0a80000, 0xc0a8ffff], // 192.168/16
  [0xe0000000, 0xffffffff], // multicast and reserved
];

function ipv4Value(host: string): number | undefined {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return undefined;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/**
 * Why a URL cannot be a publicly accessible attachment, or undefined when it
 * may be: SuprSend fetches attachment URLs itself, and the seed fails the
 * event ("404 not found", no workflow) when it cannot. Only what is visible
 * in the URL is judged (no lookup is made): the scheme must be http(s) and
 * the host a public name or address, not `localhost`, a single label, a
 * `.local`/`.internal` name, or a loopback, private, link-local or shared
 * address.
 */
export function nonPublicUrlReason(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not an absolute URL (local file paths cannot be attached)";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `uses ${url.protocol} (only public http(s) URLs can be attached)`;
  }
  // WHATWG URL parsing normalises IPv4 forms (0x7f.1, 2130706433) to dotted quads.
  const host = url.hostname.toLowerCase();
  if (host.startsWith("[")) {
    const v6 = host.slice(1, -1);
    const privateV6 = v6 === "::1" || v6 === "::" || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6) ||
      v6.startsWith("::ffff:");
    return privateV6 ? "has a loopback, private or link-local address" : undefined;
  }
  const ipv4 = ipv4Value(host);
  if (ipv4 !== undefined) {
    return PRIVATE_IPV4.some(([first, last]) => ipv4 >= first && ipv4 <= last)
      ? "has a loopback, private or link-local address"
      : undefined;
  }
  if (!host.includes(".") || PRIVATE_NAME.test(host)) return "has a host that is not public";
  return undefined;
}
