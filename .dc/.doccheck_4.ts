import { Client } from "../mod.ts";
import { getfluxlyProfile } from "../src/profiles/getfluxly.ts";

const client = new Client({
  profile: getfluxlyProfile({ token: Deno.env.get("GETFLUXLY_SECRET_KEY")! }),
});
client.track("order_paid", { total: 42 }, { userId: "u1", anonymousId: "anon-1" });
client.alias("u1", "anon-1"); // POST /v1/identify/alias, previous_id: "anon-1"
await client.close();

export {};
