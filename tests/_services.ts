// Redis and PostgreSQL for the tests: the shared servers named by IDEMTRACK_REDIS_URL and
// IDEMTRACK_POSTGRES_URL (`eval "$(scripts/services.sh start)"`), and private servers that a
// test may halt and restart (scripts/services.sh redis|postgres …). Without them a test is
// skipped with a notice on a developer's machine, and fails under CI=true.
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("../scripts/services.sh", import.meta.url));
const IN_CI = Deno.env.get("CI") === "true";

export type Service = "redis" | "postgres";

const ENV: Record<Service, string> = {
  redis: "IDEMTRACK_REDIS_URL",
  postgres: "IDEMTRACK_POSTGRES_URL",
};

const noticed = new Set<string>();

/**
 * The shared server's URL, or undefined (after a notice) when it is not
 * configured outside CI; under CI=true a missing server is an error.
 */
export function serviceUrl(service: Service): string | undefined {
  const url = Deno.env.get(ENV[service]);
  if (url !== undefined && url !== "") return url;
  if (IN_CI) {
    throw new Error(`${ENV[service]} is not set: .ci/run must start the servers`);
  }
  if (!noticed.has(service)) {
    noticed.add(service);
    console.warn(
      `%cSKIPPED: tests that need ${service} (set ${
        ENV[service]
      }: eval "$(scripts/services.sh start)")`,
      "color: yellow",
    );
  }
  return undefined;
}

let available: boolean | undefined;

/** Whether private servers can be started here (binaries present); else as for serviceUrl. */
export async function canStartServers(): Promise<boolean> {
  if (available === undefined) {
    const { code } = await new Deno.Command("bash", { args: [SCRIPT, "available"] }).output();
    available = code === 0;
  }
  if (available) return true;
  if (IN_CI) throw new Error("redis-server or PostgreSQL is missing: .ci/run must install them");
  if (!noticed.has("servers")) {
    noticed.add("servers");
    console.warn(
      "%cSKIPPED: tests that restart Redis or PostgreSQL (run scripts/services.sh install)",
      "color: yellow",
    );
  }
  return false;
}

async function services(...args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("bash", {
    args: [SCRIPT, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`services.sh ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
}

/**
 * A free port below the ephemeral range (32768 and up on Linux): a server halted and started
 * again on it must not find it taken by another test's outgoing connection meanwhile.
 */
function freePort(): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error("no free port found between 20000 and 32000");
}

/** A private server: halted as by a crash, started again on the same port with the same data. */
export interface PrivateServer extends AsyncDisposable {
  readonly url: string;
  halt(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a private Redis or PostgreSQL server on a free loopback port. */
export async function startServer(service: Service): Promise<PrivateServer> {
  const parent = await Deno.makeTempDir({ prefix: `idemtrack-${service}-` });
  // PostgreSQL runs as its own user when the tests run as root: it must reach the folder.
  await Deno.chmod(parent, 0o755);
  const dir = `${parent}/server`;
  const port = String(freePort());
  const url = service === "redis"
    ? `redis://127.0.0.1:${port}`
    : `postgres://postgres@127.0.0.1:${port}/postgres`;
  const server: PrivateServer = {
    url,
    halt: () => services(service, "halt", dir, port),
    start: () => services(service, "start", dir, port),
    async stop() {
      await services(service, "stop", dir, port);
      await Deno.remove(parent, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]: () => server.stop(),
  };
  await server.start();
  return server;
}

/** A unique name for a test's keys or table. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}
