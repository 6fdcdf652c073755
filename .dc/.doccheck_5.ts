import { Client } from "../mod.ts";
import { callbackSink, createReceiver } from "../src/receiver/mod.ts";
import { skalinProfile } from "../src/profiles/skalin.ts";
import { skalinRoute } from "../src/profiles/skalin_route.ts";

const receiver = createReceiver({
  routes: [skalinRoute({ clientIds: ["2bb91c92dr779103"] })],
  sink: callbackSink((events) => console.log(events.map((e) => e.event))),
});
const server = Deno.serve({ hostname: "127.0.0.1", port: 0 }, receiver);
const client = new Client({
  profile: skalinProfile({
    clientId: "2bb91c92dr779103",
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
  }),
  exitHook: false,
});
client.track("export_pdf", {}, { userId: "u1" });
await client.close();
await server.shutdown();
await receiver.close();

export {};
