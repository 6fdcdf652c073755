import { Client } from "../mod.ts";
import { saasquatchProfile } from "../src/profiles/saasquatch.ts";

const client = new Client({ profile: saasquatchProfile({ tenantAlias: "test_abc", apiKey: "k" }) });

export {};
