// Child process for hamustro_tracker_test.ts. Usage:
//   _hamustro_tracker_child.ts track <queue.log> <collectorUrl> <secret> <run>
//      tracks events {run, i} forever; after every 5 it awaits tracker.sync() and prints
//      the highest i whose persistence is acknowledged. The parent kills it with SIGKILL.
//   _hamustro_tracker_child.ts finish <queue.log> <collectorUrl> <secret>
//      opens the same store (restored payloads go out), flushes, closes, prints "done".
import { ClientTracker } from "../src/hamustro/client_tracker.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";

const [mode, path, collectorUrl, secret, run] = Deno.args;
const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(`${line}\n`));

const tracker = new ClientTracker({
  collectorUrl: collectorUrl!,
  sharedSecretKey: secret!,
  deviceId: "crash-device",
  clientId: "crash-client",
  systemVersion: "1.0",
  productVersion: "1.0",
  env: "TESTING",
  storage: new FileStorage(path!),
  queueSize: 7,
  exitHook: false,
  onError: (error) => console.error(`child: ${error.message}`),
});
await tracker.ready;
if (mode === "finish") {
  await tracker.flush();
  await tracker.close();
  print("done");
} else {
  for (let i = 0; i < 1_000_000; i++) {
    tracker.trackEvent("crash", { run: run!, i: String(i) });
    if ((i + 1) % 5 === 0) {
      await tracker.sync();
      print(String(i));
    }
  }
}
