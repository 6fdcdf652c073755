/**
 * How the vendor routes read credentials: Basic-auth user names (Segment,
 * RudderStack, Mixpanel's project secret) and keys in bodies or query
 * strings (PostHog, Amplitude, Mixpanel's token), each looked up in constant
 * time per configured key.
 *
 * @module
 */
import { timingSafeEqual } from "../../_util/timing_safe_equal.ts";

/**
 * The tenant of a presented key, comparing it with every configured key in
 * constant time (so timing tells nothing about how much of a key matched).
 */
export function tenantOfKey(
  keys: Readonly<Record<string, string>>,
  presented: unknown,
): string | undefined {
  if (typeof presented !== "string" || presented === "") return undefined;
  let tenant: string | undefined;
  for (const [key, owner] of Object.entries(keys)) {
    if (timingSafeEqual(key, presented) && tenant === undefined) tenant = owner;
  }
  return tenant;
}

/** The user name and password of an `Authorization: Basic` header, or `undefined`. */
export function basicAuth(request: Request): { user: string; password: string } | undefined {
  const header = request.headers.get("authorization") ?? "";
  if (!/^basic /i.test(header)) return undefined;
  try {
    const decoded = new TextDecoder().decode(
      Uint8Array.from(atob(header.slice(6).trim()), (char) => char.charCodeAt(0)),
    );
    const colon = decoded.indexOf(":");
    return colon < 0
      ? { user: decoded, password: "" }
      : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  } catch {
    return undefined;
  }
}
