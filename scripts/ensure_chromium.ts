/**
 * Makes sure headless Chromium is there for tests/browser_storage_test.ts, so
 * `deno task test` needs no set-up on a fresh machine of this project's kind
 * (Debian, root): installs Debian's `chromium` with apt-get when it is
 * missing. Elsewhere it only says what to install; the browser test then
 * fails with the same advice rather than being skipped.
 *
 * @module
 */
async function run(command: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, { args, stdout: "null", stderr: "inherit" })
      .output();
    return success;
  } catch {
    return false;
  }
}

const found = async () =>
  await run("sh", ["-c", "command -v chromium || command -v chromium-browser"]);

if (!await found()) {
  const root = Deno.uid?.() === 0;
  const apt = await run("sh", ["-c", "command -v apt-get"]);
  if (root && apt) {
    console.error("ensure_chromium: installing Debian's chromium for the browser-storage tests…");
    const install = await run("sh", [
      "-c",
      "export DEBIAN_FRONTEND=noninteractive; apt-get update >/dev/null && " +
      "apt-get install -y --no-install-recommends chromium >/dev/null",
    ]);
    if (!install || !await found()) {
      console.error("ensure_chromium: apt-get could not install chromium");
    }
  } else {
    console.error(
      "ensure_chromium: chromium is not installed; install Debian's `chromium` (or any Chromium on PATH) " +
        "for tests/browser_storage_test.ts",
    );
  }
}
