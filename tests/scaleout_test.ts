// Scale-out, proved with real processes: three receiver processes share one Redis and one
// PostgreSQL table; a client sends round-robin to them through fault proxies (30 % faults,
// answers lost after commit among them); receivers are SIGKILLed mid-request and restarted;
// Redis is killed and restarted (forgetting every key). Every tracked event must be in the
// table exactly once, counted with SQL.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { Client } from "../src/client.ts";
import { fetchTransport } from "../src/drivers/transport/fetch_transport.ts";
import { seededRandom } from "./_random.ts";
import {
  canStartServers,
  type PrivateServer,
  serviceUrl,
  startServer,
  uniqueName,
} from "./_services.ts";

const CHILD = fileURLToPath(new URL("./_scaleout_receiver.ts", import.meta.url));
const EVENTS = 3_000;
const LEASE_MS = 1_500;

/** One receiver process, restartable (on a new port). */
class ReceiverProcess {
  port = 0;
  readonly #env: Record<string, string>;
  #child: Deno.ChildProcess | undefined;
  #starting: Promise<void> | undefined;
  kills = 0;

  constructor(env: Record<string, string>) {
    this.#env = env;
  }

  start(): Promise<void> {
    this.#starting ??= (async () => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--quiet", CHILD],
        env: this.#env,
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      let ready: RegExpExecArray | null = null;
      while ((ready = /ready (\d+)\n/.exec(text)) === null) {
        const { value, done } = await reader.read();
        if (done) throw new Error("a receiver exited before listening");
        text += value;
      }
      this.port = Number(ready[1]);
      reader.releaseLock();
      child.stdout.cancel().catch(() => {});
      this.#child = child;
    })().finally(() => this.#starting = undefined);
    return this.#starting;
  }

  /** SIGKILL: no shutdown, no release of claims, whatever it was doing. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    this.kills++;
    child.kill("SIGKILL");
    await child.status;
  }

  async stop(): Promise<void> {
    await this.#starting?.catch(() => {});
    await this.kill();
  }
}

type Fault = "500" | "reset" | "500-after" | "kill";

const brokenBody = () =>
  new Response(
    new ReadableStream({ start: (c) => c.error(new Error("injected connection reset")) }),
  );

const postgresUrl = serviceUrl("postgres");
const ignore = postgresUrl === undefined || !(await canStartServers());

Deno.test({
  name:
    "three receivers on one Redis and one PostgreSQL, under faults, kills and a Redis restart, store every tracked event exactly once",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const table = uniqueName("scaleout");
    const sql = postgres(postgresUrl!, { onnotice: () => {} });
    let redis: PrivateServer | undefined;
    const receivers: ReceiverProcess[] = [];
    const proxies: Deno.HttpServer[] = [];
    // Restarts run beside the requests; their failures are collected and fail the test at the end.
    const background: Promise<unknown>[] = [];
    const backgroundErrors: unknown[] = [];
    const beside = (work: Promise<unknown>) =>
      void background.push(work.catch((error) => backgroundErrors.push(error)));
    try {
      redis = await startServer("redis");
      const env = {
        SCALEOUT_REDIS_URL: redis.url,
        SCALEOUT_POSTGRES_URL: postgresUrl!,
        SCALEOUT_TABLE: table,
        SCALEOUT_LEASE_MS: String(LEASE_MS),
      };
      for (let i = 0; i < 3; i++) receivers.push(new ReceiverProcess(env));
      await Promise.all(receivers.map((receiver) => receiver.start()));

      // The fault plan over all proxied requests: 30 % faults, a kill every few requests,
      // one Redis restart.
      const random = seededRandom(20261207);
      const counts: Record<Fault | "redis-restart", number> = {
        "500": 0,
        reset: 0,
        "500-after": 0,
        kill: 0,
        "redis-restart": 0,
      };
      let requests = 0;
      const faultOf = (index: number): Fault | undefined => {
        if (index % 9 === 4) return "kill";
        const draw = random();
        if (draw < 0.1) return "500";
        if (draw < 0.2) return "reset";
        if (draw < 0.3) return "500-after";
        return undefined;
      };
      const restartRedis = async () => {
        counts["redis-restart"]++;
        await redis!.halt();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await redis!.start();
      };

      const proxyFor = (receiver: ReceiverProcess) =>
        Deno.serve({
          hostname: "127.0.0.1",
          port: 0,
          onListen: () => {},
          onError: () => new Response(null, { status: 502 }),
        }, async (request) => {
          const index = requests++;
          const body = new Uint8Array(await request.arrayBuffer());
          const fault = faultOf(index);
          if (fault !== undefined) counts[fault]++;
          if (index === 14) beside(restartRedis());
          if (fault === "500") return new Response("injected", { status: 500 });
          // Read whole here, so a receiver killed mid-answer is seen as unreachable.
          const forwarded = fetch(`http://127.0.0.1:${receiver.port}/v1/events/batch`, {
            method: "POST",
            headers: request.headers,
            body,
          }).then(async (answer) =>
            new Response(await answer.arrayBuffer(), {
              status: answer.status,
              headers: answer.headers,
            })
          ).catch(() => undefined);
          if (fault === "kill") {
            // Mid-request: before the claim, between claim and write, or after the commit.
            await new Promise((resolve) => setTimeout(resolve, random() * 15));
            await receiver.kill();
            beside(new Promise((resolve) => setTimeout(resolve, 100)).then(() => receiver.start()));
          }
          const response = await forwarded;
          if (response === undefined) return new Response("receiver unreachable", { status: 502 });
          if (fault === "500-after") return new Response("answer lost", { status: 500 });
          if (fault === "reset") return brokenBody();
          return response;
        });
      for (const receiver of receivers) proxies.push(proxyFor(receiver));

      let next = 0;
      const roundRobin = (url: string | URL, init?: RequestInit) => {
        const { port } = proxies[next++ % proxies.length]!.addr as Deno.NetAddr;
        const target = new URL(url);
        target.port = String(port);
        return fetch(target, init);
      };
      const client = new Client({
        endpoint: `http://127.0.0.1:${(proxies[0]!.addr as Deno.NetAddr).port}`,
        transport: fetchTransport(roundRobin),
        flushAt: 100,
        maxBatchEvents: 100,
        retry: { backoffBaseMs: 20, backoffCapMs: 400, maxRetries: 1_000 },
        timeoutMs: 5_000,
      });
      const tracked = new Set<string>();
      for (let i = 0; i < EVENTS; i++) {
        tracked.add(client.track("order_paid", { n: i }, { userId: `user-${i % 97}` }));
      }
      // Bounded: a key that never comes free would otherwise keep the client retrying.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        client.flush(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`not delivered within 90 s: ${JSON.stringify(client.stats())}`)),
            90_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      await client.close();
      await Promise.all(background);
      assert.deepEqual(backgroundErrors, []);

      assert.equal(result.status, "success", JSON.stringify(result.failedRecords.slice(0, 3)));
      assert.equal(client.stats().failed, 0);
      assert.equal(client.stats().dropped, 0);
      const [row] = await sql.unsafe(
        `select count(*)::int as events, count(distinct key)::int as keys from ${table}`,
      );
      assert.deepEqual({ ...row }, { events: EVENTS, keys: EVENTS }, "each event exactly once");
      const stored = new Set((await sql.unsafe(`select key from ${table}`)).map((r) => r.key));
      assert.deepEqual(stored, tracked, "no event lost");
      // The faults happened: answers lost after commit, kills, a Redis restart.
      assert.ok(counts.reset + counts["500-after"] >= 5, JSON.stringify(counts));
      assert.ok(counts.kill >= 3 && counts["redis-restart"] === 1, JSON.stringify(counts));
      assert.ok(receivers.reduce((n, r) => n + r.kills, 0) >= 3);
      console.log(
        `scale-out: ${EVENTS} events in ${requests} requests, faults ${JSON.stringify(counts)}, ` +
          `client retried ${client.stats().retried}, duplicates answered ${client.stats().duplicates}`,
      );
    } finally {
      await Promise.allSettled(background);
      for (const proxy of proxies) await proxy.shutdown();
      for (const receiver of receivers) await receiver.stop();
      await redis?.stop();
      await sql.unsafe(`drop table if exists ${table}`).catch(() => {});
      await sql.end();
    }
  },
});
