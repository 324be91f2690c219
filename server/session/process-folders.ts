// Folders a session process keeps under the OS temp folder (TMPDIR): a download's file while it
// is written and sent (download.ts), and each DuckDB instance's spill folder (store.ts). Each is
// named after its process, tickscope-<kind>-<pid>-<random>, so that the folders of a process that
// was killed are found and removed when the next session process starts.
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
