// A full disk, said as what it is. During a preparation it surfaces wherever something happened to
// be written: DuckDB committing the store's WAL ("Could not write file ...: No space left on
// device"), DuckDB spilling, the lock or progress file (Node's ENOSPC). The pipeline then took it
// for what it was doing: "bars in <input>: cannot be read", an error about the input, which sent
// people checking a file that was fine. This finds a full disk (or quota) anywhere in an error's
// cause chain and reports it with the folder that is full and what is free there.
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { PrepareError } from './errors.js';

const DISK_FULL = /No space left on device|Disk quota exceeded|\bENOSPC\b|\bEDQUOT\b/i;

/**
 * The error in `err`'s cause chain that says the disk is full, or null. PrepareErrors are skipped:
 * their text quotes the input (a column could be named "No space left on device"); what they
 * wrap is DuckDB's or Node's own error.
 */
export function diskFullCause(err: unknown): Error | null {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    if (e instanceof PrepareError) continue;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || DISK_FULL.test(e.message)) return e;
  }
  return null;
}

export interface PreparationFolders {
  /** The inputs, for the message. */
  inputs: string;
  storeDir: string;
  /** Where DuckDB spills (--temp-dir, default <storeDir>/.tmp). */
  spillDir: string;
}

/** A PrepareError naming the full folder when `err` is a full disk; null otherwise. */
export async function diskFullError(err: unknown, folders: PreparationFolders): Promise<PrepareError | null> {
  const cause = diskFullCause(err);
  if (!cause) return null;
  const written = writtenPath(cause);
  const inside = (dir: string) => written !== null && (written === dir || written.startsWith(`${dir}${path.sep}`));
  // The spill folder is usually inside the store folder: the more specific one wins.
  const folder = inside(folders.spillDir)
    ? `the spill folder ${folders.spillDir} (--temp-dir)`
    : inside(folders.storeDir)
      ? `the store folder ${folders.storeDir}`
      : written !== null
        ? `the folder ${path.dirname(written)}`
        : `the store folder ${folders.storeDir} or the spill folder ${folders.spillDir}`;
  const dir = inside(folders.spillDir) ? folders.spillDir : inside(folders.storeDir) || written === null ? folders.storeDir : path.dirname(written);
  const free = await freeSpace(dir);
  return new PrepareError(
    `preparing ${folders.inputs}: the disk is full: no space left on device in ${folder}${free}${written ? ` while writing ${written}` : ''}; ` +
      `free space there or prepare into another folder (--out, --temp-dir); nothing was published (${errorMessage(cause)})`,
    { cause: err },
  );
}

/** The file being written, from Node's error or DuckDB's `Could not write file "..."`. */
function writtenPath(cause: Error): string | null {
  const nodePath = (cause as NodeJS.ErrnoException).path;
  if (typeof nodePath === 'string') return path.resolve(nodePath);
  const quoted = /"(\/[^"]+)"/.exec(cause.message);
  return quoted ? path.resolve(quoted[1]!) : null;
}

async function freeSpace(dir: string): Promise<string> {
  try {
    const fs = await statfs(dir);
    const mib = (blocks: number) => `${Math.round((blocks * fs.bsize) / 2 ** 20)} MiB`;
    // Measured after this build's temporaries were removed: what a retry would start with.
    return ` (${mib(fs.bavail)} free of ${mib(fs.blocks)} once this build's temporaries were removed)`;
  } catch (error) {
    return ` (free space unknown: ${errorMessage(error)})`;
  }
}
