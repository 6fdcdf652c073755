import { Client } from "../mod.ts";
import { saasquatchProfile } from "../src/profiles/saasquatch.ts";

const client = new Client({
  profile: saasquatchProfile({ tenantAlias: "test_abc", apiKey: Deno.env.get("SAASQUATCH_KEY")! }),
});
client.track("purchase", { revenue: 1000, currency: "USD", order_id: "ref1234" }, {
  userId: "u1",
  context: { accountId: "a1" },
});
await client.close();

export {};
