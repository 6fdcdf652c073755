type Listener = (event?: Event) => void;

interface NodeProcess {
  on(event: "beforeExit", listener: Listener): unknown;
  off(event: "beforeExit", listener: Listener): unknown;
}

/**
 * Runs `drain` when the process is about to exit because its event loop ran
 * dry (Deno's `beforeunload`, Node's `beforeExit`): idemtrack's timers are
 * unref'd, so a process that is done with its own work would otherwise exit
 * with events still queued. A ref'd timer keeps the process alive for at most
 * `timeoutMs` while `drain` runs; `onTimeout` reports what was left.
 *
 * `drain` returns `undefined` when there is nothing to do. After a drain that
 * ran out of time, the hook does not try again. Returns the unregister function.
 */
export function registerExitHook(
  drain: () => Promise<unknown> | undefined,
  timeoutMs: number,
  onTimeout: () => void,
): () => void {
  let running = false;
  let expired = false;
  const listener: Listener = (event) => {
    if (running || expired) return;
    const work = drain();
    if (work === undefined) return;
    running = true;
    event?.preventDefault();
    const keepAlive = setTimeout(() => {
      expired = true;
      onTimeout();
    }, timeoutMs);
    work.catch(() => {}).finally(() => {
      clearTimeout(keepAlive);
      running = false;
    });
  };
  const deno = (globalThis as { Deno?: unknown }).Deno;
  const process = (globalThis as { process?: NodeProcess }).process;
  if (deno === undefined && typeof process?.on === "function") {
    process.on("beforeExit", listener);
    return () => process.off("beforeExit", listener);
  }
  if (typeof globalThis.addEventListener === "function") {
    globalThis.addEventListener("beforeunload", listener);
    return () => globalThis.removeEventListener("beforeunload", listener);
  }
  return () => {};
}
