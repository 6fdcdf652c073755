// Child process for worker_transport_test.ts: sends `count` bodies of `mb` MB, one at a time,
// through workerTransport() to `url`, and prints how far the process's peak RSS rose meanwhile
// (MB, from /proc/self/status), so that bodies the worker keeps after sending them show.
//   _worker_body_child.ts <url> <count> <mb>
import { workerTransport } from "../src/drivers/transport/worker_transport.ts";

const [url, count, mb] = Deno.args;

function peakRssMb(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(status.match(/VmHWM:\s+(\d+)/)![1]) / 1024;
}

const transport = workerTransport({ concurrency: 1 });
const send = (bytes: number) =>
  transport({ url: url!, method: "POST", headers: {}, body: new Uint8Array(bytes).fill(0x61) });
// The worker started and fetch warmed up before the baseline.
await send(1024);
const before = peakRssMb();
for (let i = 0; i < Number(count); i++) {
  const response = await send(Number(mb) * 1024 * 1024);
  if (response.status !== 200) throw new Error(`status ${response.status}`);
}
console.log(JSON.stringify({ grewMb: peakRssMb() - before }));
transport.close?.();
