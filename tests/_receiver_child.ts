// A receiver in its own process, so tests can read its peak RSS (/proc/<pid>/status VmHWM).
// argv[0]: JSON { maxBodyBytes? }. Prints its base URL, then serves until killed.
import { createReceiver } from "../src/receiver/receiver.ts";
import { callbackSink } from "../src/receiver/sink.ts";

const config = JSON.parse(Deno.args[0] ?? "{}") as { maxBodyBytes?: number };
const receiver = createReceiver({
  sink: callbackSink(() => {}),
  maxBodyBytes: config.maxBodyBytes,
  onError: (error) => console.error("child receiver:", error),
});
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, receiver);
console.log(`http://127.0.0.1:${server.addr.port}`);
