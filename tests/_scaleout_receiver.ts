// One receiver process of the scale-out tests: JSON route, Redis dedupe store, PostgreSQL sink,
// served on a free loopback port. Prints "ready <port>" once it listens (a port of its own at
// every start: one chosen for it could be taken by another test's connection while it was dead).
// Killed with SIGKILL by the tests.
import { PostgresSink } from "../src/receiver/postgres/mod.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { RedisDedupeStore } from "../src/receiver/redis_dedupe_store.ts";

function env(name: string): string {
  const value = Deno.env.get(name);
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

// A receiver may be restarted while Redis is away: it waits for it, up to 10 s.
async function connectStore(url: string): Promise<RedisDedupeStore> {
  for (let attempt = 0;; attempt++) {
    try {
      return await RedisDedupeStore.connect(url);
    } catch (error) {
      if (attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const store = await connectStore(env("SCALEOUT_REDIS_URL"));
const sink = await PostgresSink.connect(env("SCALEOUT_POSTGRES_URL"), {
  table: env("SCALEOUT_TABLE"),
});
const receiver = createReceiver({
  store,
  sink,
  leaseMs: Number(env("SCALEOUT_LEASE_MS")),
  onError: () => {},
});
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`ready ${port}`),
  onError: () => new Response(null, { status: 500 }),
}, receiver);
