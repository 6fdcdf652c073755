// Child process for hamustro_device_test.ts: a tracker with the default ip, country and
// timezone tracks one event to <collectorUrl> and closes. Usage:
//   _hamustro_device_child.ts <collectorUrl> <secret>
import { ClientTracker } from "../src/hamustro/client_tracker.ts";
import { currentTimezone, deviceCountry, deviceIpv4 } from "../src/hamustro/device.ts";

const [collectorUrl, secret] = Deno.args;
const tracker = new ClientTracker({
  collectorUrl: collectorUrl!,
  sharedSecretKey: secret!,
  deviceId: "device-child",
  clientId: "c1",
  systemVersion: "1.0",
  productVersion: "1.0",
  env: "TESTING",
  queueSize: 1,
  exitHook: false,
});
await tracker.ready;
tracker.trackEvent("App.Open");
await tracker.close({ timeoutMs: 5_000 });
// What the runtime itself says, for the parent to compare with what was sent.
console.log(JSON.stringify({
  timezone: currentTimezone(),
  country: deviceCountry(),
  ip: deviceIpv4() ?? null,
}));
