// Child process for client_crash_test.ts: a real Client over a FileStorage, which the
// parent kills with SIGKILL. Usage:
//   _client_crash_child.ts track <path> <url> <durability> <prefix> <count>
//      tracks events 0..count-1 (key `<prefix>-<i>`, properties {seq: i}) in chunks and prints
//        "T <i> <ms>"  after track() accepted every event up to i, ms after the store opened,
//        "A <i>"  once every event up to i is acknowledged as persisted: storage.sync() resolved
//                 (everyWrite: after each chunk; interval: every syncIntervalMs, as its timer does),
//        "closed" after close() delivered everything (if it lives that long).
//   _client_crash_child.ts finish <path> <url> <durability>
//      opens the same store in a new process, delivers what it holds (close()) and prints the
//      summary and stats as JSON.
import { Client } from "../src/client.ts";
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import type { Durability } from "../src/drivers/storage/_options.ts";

export const CHUNK = 100;
export const SYNC_INTERVAL_MS = 100;

/** The idempotency key of event `i` of a run. */
export const eventKey = (prefix: string, i: number): string =>
  `${prefix}-${String(i).padStart(6, "0")}`;

const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(`${line}\n`));
const macrotask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function track(
  path: string,
  url: string,
  durability: Durability,
  prefix: string,
  count: number,
): Promise<void> {
  const storage = new FileStorage(path, { durability, syncIntervalMs: SYNC_INTERVAL_MS });
  const client = new Client({ endpoint: url, storage, exitHook: false });
  await client.flush(); // opens the store, so that every later track() is journaled at once
  const start = performance.now();
  let tracked = -1;
  let acked = -1;
  const acknowledge = async () => {
    // Called at a macrotask boundary: the client has handed every tracked event to storage.
    const upTo = tracked;
    await storage.sync();
    if (upTo > acked) {
      acked = upTo;
      print(`A ${upTo}`);
    }
  };
  const timer = durability === "interval"
    ? setInterval(() => acknowledge().catch((e) => console.error(e)), SYNC_INTERVAL_MS)
    : undefined;
  for (let i = 0; i < count;) {
    const end = Math.min(count, i + CHUNK);
    for (; i < end; i++) {
      client.track("crash_test", { seq: i }, {
        userId: `user-${i % 100}`,
        idempotencyKey: eventKey(prefix, i),
      });
    }
    tracked = end - 1;
    print(`T ${tracked} ${Math.round(performance.now() - start)}`);
    await macrotask();
    if (durability === "everyWrite") await acknowledge();
  }
  clearInterval(timer);
  await acknowledge();
  const summary = await client.close();
  print(`closed ${JSON.stringify(summary)}`);
}

async function finish(path: string, url: string, durability: Durability): Promise<void> {
  const storage = new FileStorage(path, { durability, syncIntervalMs: SYNC_INTERVAL_MS });
  const errors: string[] = [];
  const client = new Client({
    endpoint: url,
    storage,
    exitHook: false,
    onError: (error) => errors.push(error.message),
  });
  await client.flush();
  const restored = client.stats().tracked;
  const summary = await client.close({ timeoutMs: 30_000 });
  print(JSON.stringify({ restored, summary, errors }));
}

if (import.meta.main) {
  const [mode, path, url, durability, prefix, count] = Deno.args;
  if (mode === "track") {
    await track(path!, url!, durability as Durability, prefix!, Number(count));
  } else {
    await finish(path!, url!, durability as Durability);
  }
}
