// idemtrack's vendor profiles and routes set up alike for the vendor tests,
// the child process and the bench: the credentials each route accepts.
import type { Profile } from "../src/ports/profile.ts";
import type { Route } from "../src/receiver/route.ts";
import { segmentProfile } from "../src/profiles/segment/profile.ts";
import { segmentRoute } from "../src/profiles/segment/route.ts";
import { rudderstackProfile } from "../src/profiles/rudderstack/profile.ts";
import { rudderstackRoute } from "../src/profiles/rudderstack/route.ts";
import { posthogProfile } from "../src/profiles/posthog/profile.ts";
import { posthogRoute } from "../src/profiles/posthog/route.ts";
import { amplitudeProfile } from "../src/profiles/amplitude/profile.ts";
import { amplitudeRoutes } from "../src/profiles/amplitude/route.ts";
import { mixpanelProfile } from "../src/profiles/mixpanel/profile.ts";
import { mixpanelRoutes } from "../src/profiles/mixpanel/route.ts";

/** A vendor as the tests drive it through idemtrack's Client. */
export interface VendorSetup {
  readonly name: string;
  profile(origin: string): Profile;
  routes(): Route[];
  /** The vendor's de-duplication id of a stored event. */
  vendorId(event: Record<string, unknown>): string;
  /** The event's `n` property as stored. */
  nOf(event: Record<string, unknown>): number;
}

const propertyN = (event: Record<string, unknown>) =>
  (event.properties as Record<string, number>).n!;

export const VENDORS: Readonly<Record<string, VendorSetup>> = {
  segment: {
    name: "segment",
    profile: (origin) => segmentProfile({ writeKey: "wk_segment", baseUrl: origin }),
    routes: () => [segmentRoute({ writeKeys: { wk_segment: "acme" } })],
    vendorId: (event) => event.messageId as string,
    nOf: propertyN,
  },
  rudderstack: {
    name: "rudderstack",
    profile: (origin) => rudderstackProfile({ writeKey: "wk_rudder", dataPlaneUrl: origin }),
    routes: () => [rudderstackRoute({ writeKeys: { wk_rudder: "acme" } })],
    vendorId: (event) => event.messageId as string,
    nOf: propertyN,
  },
  posthog: {
    name: "posthog",
    profile: (origin) => posthogProfile({ apiKey: "phc_test", baseUrl: origin }),
    routes: () => [posthogRoute({ apiKeys: { phc_test: "acme" } })],
    vendorId: (event) => event.uuid as string,
    nOf: propertyN,
  },
  amplitude: {
    name: "amplitude",
    profile: (origin) => amplitudeProfile({ apiKey: "amp_key", baseUrl: origin }),
    routes: () => amplitudeRoutes({ apiKeys: { amp_key: "acme" } }),
    vendorId: (event) => event.insert_id as string,
    nOf: (event) => (event.event_properties as Record<string, number>).n!,
  },
  mixpanel: {
    name: "mixpanel",
    profile: (origin) =>
      mixpanelProfile({ projectToken: "mp_token", apiSecret: "mp_secret", baseUrl: origin }),
    routes: () =>
      mixpanelRoutes({ projectTokens: { mp_token: "acme" }, importSecrets: { mp_secret: "acme" } }),
    vendorId: (event) => (event.properties as Record<string, string>).$insert_id!,
    nOf: propertyN,
  },
};
