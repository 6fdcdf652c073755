// Child process for file_storage_test.ts. Usage:
//   _file_storage_child.ts hold <path>                 open the store, print "open", wait for stdin
//   _file_storage_child.ts write <path> <durability> <syncEvery>
//      append records 0,1,2,… forever; after every `syncEvery` appends await sync() and print
//      the highest index it covers. The parent kills it with SIGKILL.
//   _file_storage_child.ts burst <path> <records> <batchSize>
//      (interval durability, 1 h interval) append records 0..records-1 in one call, save a batch
//      of the first batchSize, print "saved" once saveBatch() resolved, then wait to be killed.
import { FileStorage } from "../src/drivers/storage/file/file_storage.ts";
import type { Durability } from "../src/drivers/storage/_options.ts";
import { makeRecord } from "./_storage_conformance.ts";

const [mode, path, durability = "everyWrite", syncEvery = "1"] = Deno.args;
const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(`${line}\n`));

if (mode === "burst") {
  const [records, batchSize] = [Number(Deno.args[2]), Number(Deno.args[3])];
  const storage = new FileStorage(path!, { durability: "interval", syncIntervalMs: 3_600_000 });
  await storage.open();
  storage.append(Array.from({ length: records }, (_, i) => makeRecord(i)));
  const recordIds = Array.from({ length: batchSize }, (_, i) => `rec-${i}`);
  await storage.saveBatch({ id: "batch-1", stream: "", recordIds, attempt: 0, createdAt: 1 });
  print("saved");
  // The backlog stays unwritten (its timer is an hour away) until the parent kills us.
  setInterval(() => {}, 1000);
  await new Promise(() => {});
}

const storage = new FileStorage(path!, { durability: durability as Durability });
await storage.open();
if (mode === "hold") {
  print("open");
  for await (const _ of Deno.stdin.readable) { /* wait until the parent closes stdin */ }
  await storage.close();
} else {
  const every = Number(syncEvery);
  for (let i = 0;; i++) {
    storage.append([makeRecord(i)]);
    if ((i + 1) % every === 0) {
      await storage.sync();
      print(String(i));
    }
  }
}
