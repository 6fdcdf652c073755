/** What a registered hook does; see {@linkcode registerExitHook}. */
interface Hook {
  /** Starts delivering what is left; `undefined` when there is nothing to do. */
  readonly drain: () => Promise<unknown> | undefined;
  /** Sends what is left at once, for a page being hidden (it may never run again). */
  readonly hide: () => void;
  readonly timeoutMs: number;
  readonly onTimeout: () => void;
  /** The drain under way, if any. */
  running: Promise<void> | undefined;
  /** A drain ran out of time: the hook does not try again. */
  expired: boolean;
}

/** The process signals that end a program by default, with their numbers (exit code 128 + n). */
const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type SignalName = keyof typeof SIGNALS;

interface NodeProcess {
  pid: number;
  on(event: string, listener: (value: unknown) => void): unknown;
  off(event: string, listener: (value: unknown) => void): unknown;
  listenerCount(event: string): number;
  exit(code: number): never;
}

interface DenoNamespace {
  addSignalListener(signal: SignalName, listener: () => void): void;
  removeSignalListener(signal: SignalName, listener: () => void): void;
  exit(code: number): never;
}

interface BrowserDocument {
  visibilityState: string;
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

const hooks = new Set<Hook>();
let uninstall: (() => void) | undefined;
let exiting = false;

/**
 * Runs a hook's drain unless it runs already or ran out of time, holding the
 * process alive for at most its `timeoutMs` with a ref'd timer (idemtrack's
 * own timers are unref'd). Resolves when the drain settled or the time ran out.
 */
function runDrain(hook: Hook): Promise<void> | undefined {
  if (hook.running !== undefined) return hook.running;
  if (hook.expired) return undefined;
  const work = hook.drain();
  if (work === undefined) return undefined;
  let keepAlive: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<void>((resolve) => {
    keepAlive = setTimeout(() => {
      hook.expired = true;
      hook.onTimeout();
      resolve();
    }, hook.timeoutMs);
  });
  const settled = work.then(() => {}, () => {});
  hook.running = Promise.race([settled, expired]).finally(() => {
    clearTimeout(keepAlive);
    hook.running = undefined;
  });
  return hook.running;
}

/** Drains every hook; `undefined` when none had anything to do. */
function drainAll(): Promise<void> | undefined {
  const running = [...hooks].map(runDrain).filter((drain) => drain !== undefined);
  return running.length === 0 ? undefined : Promise.all(running).then(() => {});
}

/**
 * A terminating signal: drain every hook within its deadline, then end the
 * process as the signal would have (exit code 128 + its number). A second
 * signal while draining ends it at once. `exit` is left undefined where
 * another listener took over what the signal does (Node).
 */
function onSignal(signal: SignalName, exit: ((code: number) => void) | undefined): void {
  const code = 128 + SIGNALS[signal];
  if (exiting) {
    exit?.(code);
    return;
  }
  exiting = exit !== undefined;
  const draining = drainAll();
  if (draining === undefined) exit?.(code);
  else draining.then(() => exit?.(code));
}

/** Node and Bun: `beforeExit` (the loop ran dry) and the terminating signals. */
function installNode(process: NodeProcess): () => void {
  const beforeExit = () => void drainAll();
  const listeners = Object.keys(SIGNALS).map((name) => {
    const signal = name as SignalName;
    const listener = () =>
      // Only this listener: the signal's default (ending the process) is ours to keep.
      onSignal(
        signal,
        process.listenerCount(signal) === 1 ? (code) => process.exit(code) : undefined,
      );
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  process.on("beforeExit", beforeExit);
  return () => {
    process.off("beforeExit", beforeExit);
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}

/** Deno: `beforeunload` (the loop ran dry; cancelable, so it can wait) and the terminating signals. */
function installDeno(deno: DenoNamespace): () => void {
  const beforeUnload = (event: Event) => {
    if (drainAll() !== undefined) event.preventDefault();
  };
  const listeners: Array<[SignalName, () => void]> = [];
  for (const name of Object.keys(SIGNALS)) {
    const signal = name as SignalName;
    const listener = () => onSignal(signal, (code) => deno.exit(code));
    try {
      deno.addSignalListener(signal, listener);
      listeners.push([signal, listener]);
    } catch {
      // Not a signal of this platform (SIGTERM on Windows).
    }
  }
  globalThis.addEventListener("beforeunload", beforeUnload);
  return () => {
    globalThis.removeEventListener("beforeunload", beforeUnload);
    for (const [signal, listener] of listeners) deno.removeSignalListener(signal, listener);
  };
}

/**
 * Browsers: `pagehide` and `visibilitychange` to hidden, the last moments a
 * page is sure to run (a hidden tab may be discarded without another event).
 * Never `beforeunload`: cancelling it asks the user whether to leave.
 */
function installBrowser(document: BrowserDocument): () => void {
  const hide = () => {
    for (const hook of hooks) hook.hide();
  };
  const visibility = () => {
    if (document.visibilityState === "hidden") hide();
  };
  globalThis.addEventListener("pagehide", hide);
  document.addEventListener("visibilitychange", visibility);
  return () => {
    globalThis.removeEventListener("pagehide", hide);
    document.removeEventListener("visibilitychange", visibility);
  };
}

function install(): (() => void) | undefined {
  const global = globalThis as {
    Deno?: Partial<DenoNamespace>;
    document?: Partial<BrowserDocument>;
    process?: Partial<NodeProcess>;
  };
  if (typeof global.Deno?.addSignalListener === "function") {
    return installDeno(global.Deno as DenoNamespace);
  }
  if (typeof global.document?.addEventListener === "function") {
    return installBrowser(global.document as BrowserDocument);
  }
  if (typeof global.process?.on === "function" && typeof global.process.exit === "function") {
    return installNode(global.process as NodeProcess);
  }
  return undefined;
}

/**
 * Delivers what is left when a program ends without `close()`; idemtrack's
 * timers are unref'd, so the process would otherwise exit with events queued.
 *
 * - The event loop ran dry (Deno `beforeunload`, Node/Bun `beforeExit`):
 *   `drain` runs while a ref'd timer keeps the process alive for at most
 *   `timeoutMs`; then the process ends as it would have.
 * - SIGTERM or SIGINT: the same, then the process exits with the signal's
 *   conventional code (128 + its number; a second signal exits at once). On
 *   Node, a program with its own listener for the signal keeps deciding what
 *   the signal does: the hook only drains.
 * - A page being hidden (`pagehide`, `visibilitychange` to hidden): `hide`
 *   runs (it must start its sends at once: the page may not run again). No
 *   `beforeunload` prompt, ever.
 *
 * `Deno.exit()`, `process.exit()` and SIGKILL end the process without a
 * chance to wait: only durable storage keeps what was queued (docs/lifecycle.md).
 *
 * `drain` returns `undefined` when there is nothing to do; `onTimeout` reports
 * what a drain left when its time ran out, and the hook does not try again.
 * Every pipeline of a process shares one listener per event. Returns the
 * unregister function.
 *
 * @example Usage
 * ```ts
 * import { registerExitHook } from "./exit_hook.ts";
 * import assert from "node:assert/strict";
 *
 * let queued = 3;
 * const unregister = registerExitHook(
 *   () => queued === 0 ? undefined : Promise.resolve().then(() => queued = 0),
 *   5000,
 *   () => console.error(`${queued} events undelivered at exit`),
 * );
 * unregister();
 * assert.equal(queued, 3);
 * ```
 */
export function registerExitHook(
  drain: () => Promise<unknown> | undefined,
  timeoutMs: number,
  onTimeout: () => void,
  hide: () => void = () => void drain()?.catch(() => {}),
): () => void {
  const hook: Hook = { drain, hide, timeoutMs, onTimeout, running: undefined, expired: false };
  hooks.add(hook);
  if (hooks.size === 1) uninstall = install();
  return () => {
    if (!hooks.delete(hook) || hooks.size > 0) return;
    uninstall?.();
    uninstall = undefined;
  };
}
