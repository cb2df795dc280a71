import { linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** The process that holds a data folder, as written in its lock file. */
export interface LockHolder {
  pid: number;
  hostname: string;
  command: string;
  startedAt: string;
}

/** Raised when another live process holds the data folder. */
export class DataDirLockedError extends Error {
  constructor(
    readonly directory: string,
    readonly holder: LockHolder,
  ) {
    super(
      `data folder ${directory} is in use by process ${holder.pid} on ${holder.hostname} ` +
        `(${holder.command}, started ${holder.startedAt}); stop it or set MINDWEAVE_DATA_DIR ` +
        `to another folder`,
    );
    this.name = 'DataDirLockedError';
  }
}

/** An acquired data folder lock. */
export interface DataDirLock {
  readonly path: string;
  release(): void;
}

const LOCK_FILE = 'mindweave.lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number') return undefined;
    return {
      pid: parsed.pid,
      hostname: String(parsed.hostname ?? 'unknown host'),
      command: String(parsed.command ?? 'unknown command'),
      startedAt: String(parsed.startedAt ?? 'unknown time'),
    };
  } catch {
    return undefined;
  }
}

/**
 * Takes the exclusive lock on a data folder, so that no two processes open the same embedded
 * database files. A lock left by a dead process on this host is taken over, and so is a lock
 * file that cannot be parsed.
 */
export function acquireDataDirLock(directory: string, command: string): DataDirLock {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, LOCK_FILE);
  const holder: LockHolder = {
    pid: process.pid,
    hostname: hostname(),
    command,
    startedAt: new Date().toISOString(),
  };

  // The holder is written to a private file first and then hard-linked into place, so the
  // lock file appears atomically with its content: a reader never sees a half-written lock.
  const pending = `${path}.${process.pid}`;
  writeFileSync(pending, JSON.stringify(holder), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(pending, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const current = readHolder(path);
        const foreignHost = current !== undefined && current.hostname !== holder.hostname;
        if (current !== undefined && (foreignHost || isAlive(current.pid))) {
          throw new DataDirLockedError(directory, current);
        }
        // NOTE: two processes that find the same stale lock at the same instant can both remove
        // it; the window is a few microseconds after a crash, and only on one host.
        rmSync(path, { force: true });
        continue;
      }
      return {
        path,
        release() {
          if (readHolder(path)?.pid === process.pid) unlinkSync(path);
        },
      };
    }
  } finally {
    rmSync(pending, { force: true });
  }
  throw new Error(`could not lock data folder ${directory}: the lock file keeps reappearing`);
}
