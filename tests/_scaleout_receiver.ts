// One receiver process of the scale-out tests: JSON route, Redis dedupe store, PostgreSQL sink,
// served on 127.0.0.1:$PORT. Prints "ready" once it listens. Killed with SIGKILL by the tests.
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
  port: Number(env("SCALEOUT_PORT")),
  onListen: () => console.log("ready"),
  onError: () => new Response(null, { status: 500 }),
}, receiver);
