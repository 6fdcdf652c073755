import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { StorageError } from "../../../errors/storage_error.ts";
import { errorMessage } from "../../../_util/error_message.ts";

/** A lock file younger than this with nothing readable in it is being written by its owner. */
const EMPTY_LOCK_GRACE_MS = 5_000;

/**
 * Who holds a lock. A pid alone is not enough: pids are reused (a container
 * restarts as pid 1 every time), so the owner is also named by its start
 * time (Linux: `/proc/<pid>/stat`), its host and boot, and a random token
 * unique to one open store.
 */
interface LockOwner {
  readonly pid: number;
  /** Start time of the process, clock ticks after boot (Linux); `undefined` elsewhere. */
  readonly start?: string;
  readonly host?: string;
  /** Linux's boot id: a lock from an earlier boot has a dead owner. */
  readonly boot?: string;
  readonly token?: string;
}

/** Tokens of the locks this process holds, by lock path. */
const held = new Map<string, string>();

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

type PermissionDescriptor = { name: "read"; path: string } | { name: "sys"; kind: "hostname" };

/**
 * Whether this may be used without asking: Deno at a terminal prompts for a
 * permission not granted, and the lock's extra checks are not worth a prompt.
 */
function granted(descriptor: PermissionDescriptor): boolean {
  const deno = (globalThis as {
    Deno?: { permissions?: { querySync?(descriptor: PermissionDescriptor): { state: string } } };
  }).Deno;
  const query = deno?.permissions?.querySync;
  return query === undefined || query.call(deno!.permissions, descriptor).state === "granted";
}

function readOptional(path: string): string | undefined {
  if (!granted({ name: "read", path })) return undefined;
  try {
    return fs.readFileSync(path, "utf8");
  } catch {
    return undefined; // not Linux, or not permitted (Deno without --allow-read there)
  }
}

/**
 * `/proc/<pid>/stat`: whether the process runs (a zombie has ended) and when
 * it started. `undefined` where `/proc` cannot tell (not Linux).
 */
function procStat(pid: number): { alive: boolean; start?: string } | undefined {
  if (readOptional("/proc/self/stat") === undefined) return undefined;
  const stat = readOptional(`/proc/${pid}/stat`);
  if (stat === undefined) return { alive: false };
  // Fields after the command name (which may hold spaces and parentheses): state is the 3rd
  // field of the whole line, start time the 22nd.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { alive: fields[0] !== "Z" && fields[0] !== "X", start: fields[19] };
}

function hostName(): string | undefined {
  if (!granted({ name: "sys", kind: "hostname" })) return undefined;
  try {
    return os.hostname();
  } catch {
    return undefined; // Deno without --allow-sys=hostname
  }
}

function self(token: string): LockOwner {
  return {
    pid: process.pid,
    start: procStat(process.pid)?.start,
    host: hostName(),
    boot: readOptional("/proc/sys/kernel/random/boot_id")?.trim(),
    token,
  };
}

/** A lock's owner; a bare pid is the format of earlier versions. `undefined`: unreadable. */
function parseOwner(text: string): LockOwner | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const owner = JSON.parse(trimmed) as LockOwner;
    return Number.isInteger(owner.pid) && owner.pid > 0 ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** `true` when a process with this pid exists (signal 0 only checks). */
function signalAlive(pid: number, driver: string, lockPath: string): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true; // alive, owned by another user
    throw new StorageError(
      driver,
      `'${lockPath}' is held by process ${pid} and its liveness cannot be checked ` +
        `(${errorMessage(error)}); in Deno grant --allow-run`,
      { cause: error },
    );
  }
}

/**
 * Whether the lock's owner is still running: `false` when it is provably
 * gone (its pid is dead or belongs to a process started at another time, an
 * earlier boot of this host, or this very process in an earlier life).
 * `undefined` on another host, where nothing can be checked.
 */
function ownerAlive(
  owner: LockOwner,
  me: LockOwner,
  lockPath: string,
  driver: string,
): boolean | undefined {
  const sameHost = owner.host === undefined || me.host === undefined || owner.host === me.host;
  if (!sameHost) return undefined;
  if (owner.boot !== undefined && me.boot !== undefined && owner.boot !== me.boot) return false;
  if (owner.pid === me.pid) {
    // Ours only if this process holds it now (a second store on the same path); otherwise an
    // earlier process that had our pid (a restarted container's pid 1) left it.
    const ours = held.get(path.resolve(lockPath));
    return ours !== undefined && ours === owner.token;
  }
  const stat = procStat(owner.pid);
  if (stat === undefined) return signalAlive(owner.pid, driver, lockPath);
  if (!stat.alive) return false;
  return owner.start === undefined || stat.start === undefined || owner.start === stat.start;
}

/**
 * Takes `lockPath` for this process: created with `O_EXCL` holding its
 * owner's identity ({@linkcode LockOwner}). A lock whose owner is gone is
 * stale (a crashed or killed owner) and is taken over; a live one is a
 * `StorageError` naming the owner.
 */
export function acquireLock(lockPath: string, driver: string): void {
  const token = crypto.randomUUID();
  const me = self(token);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lockPath, "wx");
      try {
        fs.writeSync(fd, `${JSON.stringify(me)}\n`);
      } finally {
        fs.closeSync(fd);
      }
      held.set(path.resolve(lockPath), token);
      return;
    } catch (error) {
      if (errorCode(error) !== "EEXIST") {
        throw new StorageError(driver, `cannot create lock file '${lockPath}': ${String(error)}`, {
          cause: error,
        });
      }
    }
    let text: string;
    let mtimeMs: number;
    try {
      text = fs.readFileSync(lockPath, "utf8");
      mtimeMs = fs.statSync(lockPath).mtimeMs;
    } catch (error) {
      if (errorCode(error) === "ENOENT") continue; // released meanwhile
      throw new StorageError(driver, `cannot read lock file '${lockPath}': ${String(error)}`, {
        cause: error,
      });
    }
    const owner = parseOwner(text);
    if (owner !== undefined) {
      const alive = ownerAlive(owner, me, lockPath, driver);
      if (alive !== false) {
        const where = alive === undefined
          ? ` on host '${owner.host}' (which this host cannot check: delete the lock file if that process is gone)`
          : owner.pid === me.pid
          ? " (this process, through another FileStorage)"
          : "";
        throw new StorageError(
          driver,
          `store is locked by process ${owner.pid}${where} (lock file '${lockPath}'); ` +
            `close the other storage first (two writers would corrupt the store)`,
        );
      }
    } else if (Date.now() - mtimeMs < EMPTY_LOCK_GRACE_MS) {
      throw new StorageError(driver, `store is being locked by another process ('${lockPath}')`);
    }
    // Stale: its owner died without releasing it.
    try {
      fs.unlinkSync(lockPath);
    } catch (error) {
      if (errorCode(error) !== "ENOENT") {
        throw new StorageError(driver, `cannot remove stale lock '${lockPath}': ${String(error)}`, {
          cause: error,
        });
      }
    }
  }
  throw new StorageError(driver, `cannot take lock '${lockPath}': it keeps changing hands`);
}

/** Removes our lock (only if it is still ours). */
export function releaseLock(lockPath: string): void {
  const token = held.get(path.resolve(lockPath));
  if (token === undefined) return;
  held.delete(path.resolve(lockPath));
  try {
    if (parseOwner(fs.readFileSync(lockPath, "utf8"))?.token === token) fs.unlinkSync(lockPath);
  } catch {
    // Already gone: nothing to release.
  }
}
