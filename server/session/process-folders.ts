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

/** Set once the process has removed its folders on the way out: a folder made after that would be left. */
let removedOwn = false;

/**
 * A new folder of this process under the OS temp folder. One whose creation ends after the process
 * removed its folders (a warm process ended while it opened its store) is removed at once, and the
 * caller gets an error instead of a folder nobody would remove.
 */
export async function makeProcessFolder(kind: ProcessFolderKind): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), `tickscope-${kind}-${process.pid}-`));
  if (removedOwn) {
    rmSync(folder, { recursive: true, force: true });
    throw new Error(`the ${kind} folder ${folder} was made while the session process was exiting; it is removed`);
  }
  return folder;
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
  removedOwn = true;
  const dir = tmpdir();
  for (const name of readdirSync(dir)) {
    if (Number(OF_PROCESS.exec(name)?.[1]) === process.pid) rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}
