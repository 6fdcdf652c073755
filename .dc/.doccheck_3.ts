import { Client } from "../mod.ts";
import { skalinProfile } from "../src/profiles/skalin.ts";

const client = new Client({ profile: skalinProfile({ clientId: "2bb91c92dr779103" }) });
const context = { email: "ann@example.com", customerId: "customer1234" };
client.identify("u1", {}, { context });
client.track("export_pdf", {}, { userId: "u1", context });
await client.close();

export {};
