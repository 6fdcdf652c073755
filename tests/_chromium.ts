// Headless Chromium (Debian's `chromium`, installed by .ci/run) for tests that drive a real page.

/** The Chromium binary on PATH, or an error saying how to install it. */
export async function findChromium(): Promise<string> {
  const { stdout, success } = await new Deno.Command("sh", {
    args: ["-c", "command -v chromium || command -v chromium-browser"],
    stdout: "piped",
  }).output();
  const path = new TextDecoder().decode(stdout).trim().split("\n")[0];
  if (!success || !path) {
    throw new Error("chromium is not installed: run `apt-get install -y chromium` (.ci/run does)");
  }
  return path;
}

/** Pids of processes whose command line mentions `marker` (Chromium's helpers included). */
async function pidsWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(marker)) pids.push(Number(entry.name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * Opens `url` in headless Chromium with a throw-away profile and waits for
 * `until` (what the page reports back), at most `timeoutMs`; then stops
 * Chromium and every helper process it started.
 */
export async function withChromiumPage<T>(
  url: string,
  until: Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  const chromium = await findChromium();
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-chromium-" });
  const browser = new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${dir}`,
      url,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      until,
      browser.status.then((status): never => {
        throw new Error(`chromium exited early with code ${status.code}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer from the page within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    try {
      browser.kill("SIGTERM");
    } catch {
      // already exited
    }
    const stopped = await Promise.race([
      browser.status.then(() => true),
      new Promise<false>((done) => setTimeout(() => done(false), 5_000)),
    ]);
    if (!stopped) browser.kill("SIGKILL");
    await browser.status;
    for (let i = 0; i < 50 && (await pidsWith(dir)).length > 0; i++) {
      await new Promise((done) => setTimeout(done, 100));
    }
    for (const pid of await pidsWith(dir)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
}
