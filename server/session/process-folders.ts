// Folders a session process keeps under the OS temp folder (TMPDIR): a download's file while it
// is written and sent (download.ts), and each DuckDB instance's spill folder (store.ts). Each is
// named after its process, tickscope-<kind>-<pid>-<random>, so that the folders of a process that
// was killed are found and removed when the next session process starts.
import { readdirSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pidAlive } from '../os/processes.js';

export type ProcessFolderKind = 'download' | 'spill';

const OF_PROCESS = /^tickscope-(?:download|spill)-(\d+)-/;

/** A new folder of this process under the OS temp folder. */
export function makeProcessFolder(kind: ProcessFolderKind): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `tickscope-${kind}-${process.pid}-`));
}

/** Removes the folders of session processes that are gone; run when a session process starts. */
export async function removeStaleProcessFolders(): Promise<void> {
  const dir = tmpdir();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(OF_PROCESS.exec(name)?.[1]);
    if (Number.isNaN(pid) || pid === process.pid || pidAlive(pid)) continue;
    await rm(path.join(dir, name), { recursive: true, force: true });
  }
}

/**
 * Removes this process's folders; run as it exits. A warm process's store, opened ahead of a tab
 * and never assigned, is not closed on the way out, and its spill folder would wait for the next
 * session process to start.
 */
export function removeOwnProcessFolders(): void {
  const dir = tmpdir();
  for (const name of readdirSync(dir)) {
    if (Number(OF_PROCESS.exec(name)?.[1]) === process.pid) rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}
