// One preparation per dataset at a time, across processes: an exclusive lock file next to the
// store (`<fingerprint>.lock`, created with O_EXCL). The holder refreshes its mtime every few
// seconds and writes its progress beside it (`<fingerprint>.progress.json`), so a second
// `prepare` of the same dataset waits, shows the first one's progress, and then finds the store
// already there. A lock whose holder is gone (its pid is dead on this host, or it stopped
// refreshing) is taken over.

import { hostname } from 'node:os';
import { open, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { pidAlive } from '../os/processes.js';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

export interface HeldLock {
  release(): Promise<void>;
  /** Writes the holder's progress for waiters to read (throttled by the caller). */
  writeProgress(p: unknown): Promise<void>;
}

const HEARTBEAT_MS = 5_000;
/** A lock not refreshed for this long is stale even if its pid looks alive (pid reuse, other host). */
export const STALE_MS = 60_000;

export async function readHolder(lockPath: string): Promise<LockHolder | null> {
  try {
    return JSON.parse(await readFile(lockPath, 'utf8')) as LockHolder;
  } catch {
    // No lock file (released meanwhile), or one still being written: no holder to name yet.
    return null;
  }
}

/** Whether the lock at lockPath is stale: its holder is gone. Also used by stale-builds.ts. */
export async function isStale(lockPath: string): Promise<boolean> {
  const st = await stat(lockPath).catch(() => null);
  if (!st) return false; // gone: not stale, just free
  const holder = await readHolder(lockPath);
  if (!holder) return Date.now() - st.mtimeMs > 5_000; // being written, or garbage
  if (holder.host === hostname() && !pidAlive(holder.pid)) return true;
  return Date.now() - st.mtimeMs > STALE_MS;
}

/** Tries once to take the lock. Returns null when a live holder has it. */
export async function tryLock(lockPath: string, progressPath: string): Promise<HeldLock | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(lockPath, 'wx');
      const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
      await fh.writeFile(JSON.stringify(holder));
      await fh.close();
      const timer = setInterval(() => {
        const now = new Date();
        // A missed heartbeat is made up by the next one; only a minute of them makes the lock stale.
        utimes(lockPath, now, now).catch(() => {});
      }, HEARTBEAT_MS);
      timer.unref();
      let released = false;
      // Progress writes are chained, and release waits for the last one, so that no write can
      // land after the progress file was removed.
      let writes: Promise<void> = Promise.resolve();
      return {
        async release() {
          if (released) return;
          released = true;
          clearInterval(timer);
          await writes;
          // Either file may be gone already (a waiter took the lock over as stale); a lock file
          // that cannot be removed goes stale and is taken over.
          await unlink(progressPath).catch(() => {});
          await unlink(lockPath).catch(() => {});
        },
        writeProgress(p: unknown) {
          if (released) return writes;
          const tmp = `${progressPath}.${process.pid}`;
          writes = writes
            .then(async () => {
              if (released) return;
              await writeFile(tmp, JSON.stringify(p));
              await rename(tmp, progressPath);
            })
            // Progress for waiters is best effort: a failed write leaves them a step behind, and
            // its temporary file is removed if it was written at all.
            .catch(() => unlink(tmp).catch(() => {}));
          return writes;
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!(await isStale(lockPath))) return null;
      // Take over a stale lock: rename it away first so two takers cannot both delete a fresh one.
      const aside = `${lockPath}.stale-${process.pid}`;
      try {
        await rename(lockPath, aside);
        await unlink(aside);
      } catch {
        // somebody else took it over first; try again
      }
    }
  }
  return null;
}

export async function readProgress<T>(progressPath: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(progressPath, 'utf8')) as T;
  } catch {
    // Not written yet (or already removed): there is no progress to show.
    return null;
  }
}
