// What a build leaves behind while it runs (its temporary store file, its spill folder), removed
// when it ends or by the next build of the same dataset, which holds its lock.
import { readdir, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where a file is written before it is renamed to `final`: beside it, named by this process and a
 * random part (`<final>.tmp-<pid>-<random>`), which stale-builds.ts reads back to tell a killed
 * build's leftovers from a running one's.
 */
export function temporaryBeside(final: string): string {
  return `${final}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** A temporary file or folder of a build of this fingerprint, in the store folder or its spill folder. */
function isTemporaryOf(fingerprint: string, name: string): boolean {
  return name.startsWith(`${fingerprint}.duckdb.tmp-`);
}

/**
 * Removes what a build left behind, ignoring failures: a cleanup must not hide the build's own
 * result or error, and what stays is removed by the next build of the same dataset.
 */
export async function removeLeftover(target: string, options: { recursive?: boolean } = {}): Promise<void> {
  await rm(target, { force: true, ...options }).catch(() => {});
}

/** Removes a folder if it is empty; one still in use by another build stays. */
export async function removeIfEmpty(folder: string): Promise<void> {
  await rmdir(folder).catch(() => {});
}

/** The names in a folder; none when it does not exist (or cannot be listed: nothing to clean). */
async function namesIn(folder: string): Promise<string[]> {
  return readdir(folder).catch(() => []);
}

export async function removeStaleTemporaries(storeDir: string, fingerprint: string): Promise<void> {
  // Holding the lock, any temporary of this fingerprint belongs to a dead or finished build.
  for (const name of await namesIn(storeDir)) {
    if (isTemporaryOf(fingerprint, name)) await removeLeftover(path.join(storeDir, name));
  }
  const spill = path.join(storeDir, '.tmp');
  for (const name of await namesIn(spill)) {
    if (isTemporaryOf(fingerprint, name)) await removeLeftover(path.join(spill, name), { recursive: true });
  }
  await removeIfEmpty(spill);
}
