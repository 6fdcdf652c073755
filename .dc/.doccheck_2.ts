import { Client } from "../mod.ts";
import { suprsendProfile } from "../src/profiles/suprsend.ts";

const client = new Client({
  profile: suprsendProfile({
    workspaceKey: "ws_key",
    workspaceSecret: Deno.env.get("SS_SECRET")!,
  }),
});
client.track("product_purchased", { first_name: "User", spend_amount: "$10" }, {
  userId: "0f8f74",
  tenantId: "default",
  attachments: [{ url: "https://example.com/invoice.pdf" }],
});
await client.close();

export {};
