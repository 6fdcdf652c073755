import * as fs from "node:fs";
import process from "node:process";
import { StorageError } from "../../../errors/storage_error.ts";

/** A lock file younger than this with no pid in it is being written by its owner. */
const EMPTY_LOCK_GRACE_MS = 5_000;

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** `true` when a process with this pid exists (signal 0 only checks). */
function processAlive(pid: number, driver: string, lockPath: string): boolean {
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
        `(${error instanceof Error ? error.message : String(error)}); in Deno grant --allow-run`,
      { cause: error },
    );
  }
}

/**
 * Takes `lockPath` for this process: created with `O_EXCL` holding our pid. A
 * lock whose pid is dead is stale (a crashed owner) and is taken over; a live
 * one is a `StorageError` naming the owner.
 */
export function acquireLock(lockPath: string, driver: string): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lockPath, "wx");
      try {
        fs.writeSync(fd, `${process.pid}\n`);
      } finally {
        fs.closeSync(fd);
      }
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
    const pid = Number.parseInt(text.trim(), 10);
    if (Number.isInteger(pid) && pid > 0) {
      if (processAlive(pid, driver, lockPath)) {
        throw new StorageError(
          driver,
          `store is locked by process ${pid} (lock file '${lockPath}'); ` +
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
  try {
    if (fs.readFileSync(lockPath, "utf8").trim() === String(process.pid)) fs.unlinkSync(lockPath);
  } catch {
    // Already gone: nothing to release.
  }
}
