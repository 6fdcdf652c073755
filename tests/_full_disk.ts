// A real full disk for storage tests: a tiny tmpfs mounted for the test (root only, as on CI).

async function run(command: string, ...args: string[]): Promise<boolean> {
  const { success } = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
    .output();
  return success;
}

/**
 * A tmpfs of `bytes` mounted on a new folder, unmounted and removed at disposal. Where it cannot
 * be mounted (not root) it says so and returns `undefined` (the test then skips), except under
 * `CI=true`, where it throws.
 */
export async function tinyDisk(
  bytes: number,
): Promise<(AsyncDisposable & { dir: string }) | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "idemtrack-full-disk-" });
  if (!await run("mount", "-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir)) {
    await Deno.remove(dir);
    if (Deno.env.get("CI") === "true") throw new Error("cannot mount a tmpfs (root needed)");
    console.warn(
      "SKIPPED: cannot mount a tmpfs here (root needed): the full-disk test did not run",
    );
    return undefined;
  }
  return {
    dir,
    [Symbol.asyncDispose]: async () => {
      await run("umount", "--lazy", dir); // lazy: a failed test may hold files open
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Fills the file system holding `dir` with one file; resolves with its path. */
export async function fill(dir: string): Promise<string> {
  const path = `${dir}/filler`;
  const file = await Deno.open(path, { write: true, create: true });
  const block = new Uint8Array(4096);
  try {
    for (;;) await file.write(block);
  } catch (error) {
    if (!String(error).includes("No space left")) throw error;
  } finally {
    file.close();
  }
  return path;
}
