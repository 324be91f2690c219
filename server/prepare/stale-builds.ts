// What a killed preparation leaves in the store folder, removed when the next one starts.
//
// A build writes `<fingerprint>.duckdb.tmp-<pid>-<random>` (and its `.wal`) beside the final
// store, spills to `.tmp/<same name>/`, and holds `<fingerprint>.lock` with
// `<fingerprint>.progress.json`. A SIGKILL (the OOM killer, a crash in DuckDB, kill -9 of the CLI)
// runs no cleanup, and the next preparation of the same dataset used to be the only one to remove
// them: ~100 MB of temporaries and a lock stayed until then, for any dataset nobody prepared
// again. Every preparation (so every start of the server, which prepares its datasets) now sweeps
// the whole folder first.
//
// What is removed, and why it is safe with other preparations running:
// - a lock whose holder is gone (lock.ts: its pid is dead on this host, or it stopped refreshing
//   for STALE_MS), with its progress file;
// - a temporary (file or spill folder) whose fingerprint has no live lock and whose pid, read
//   from its name, is not alive here. A build takes the lock before it creates a temporary and
//   removes its temporaries before it lets go of the lock, so a live build's temporaries have a
//   live lock. A pid that is alive, even if reused by another program, keeps them (the next
//   sweep gets them).
import { readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { pidAlive } from '../os/processes.js';
import { isStale } from './lock.js';

/** `<fingerprint>.duckdb.tmp-<pid>-<random>` (`<fingerprint>.delta.duckdb...` for a delta of added
 * runs, add-runs.ts), optionally `.wal`: a build's store or its spill folder. */
const TEMPORARY = /^([0-9a-f]{16})(?:\.delta)?\.duckdb\.tmp-(\d+)-[0-9a-z]+(\.wal)?$/;
const LOCK = /^([0-9a-f]{16})\.lock$/;
/** A progress file, or lock.ts's temporary for writing one (`.progress.json.<pid>`). */
const PROGRESS = /^([0-9a-f]{16})\.progress\.json(?:\.(\d+))?$/;

export interface SweepReport {
  /** Paths removed: stale locks, their progress files, temporaries. */
  removed: string[];
  /** Paths that could not be removed, with why; the preparation goes on regardless. */
  failed: string[];
}

/**
 * Removes the leftovers of dead preparations from `storeDir`, its `.tmp` spill folder and any
 * other spill folder given (`--temp-dir`). Never throws: what it cannot remove is reported.
 */
export async function sweepStaleBuilds(storeDir: string, spillDirs: readonly string[] = []): Promise<SweepReport> {
  const report: SweepReport = { removed: [], failed: [] };
  const remove = async (file: string, how: () => Promise<unknown>) => {
    try {
      await how();
      report.removed.push(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') report.failed.push(`${file}: ${errorMessage(error)}`);
    }
  };
  const names = await listOrEmpty(storeDir, report);

  // Locks first: a fingerprint whose lock is live keeps everything it has.
  const liveLocks = new Set<string>();
  for (const name of names) {
    const lock = LOCK.exec(name);
    if (!lock) continue;
    const lockPath = path.join(storeDir, name);
    if (!(await isStale(lockPath))) {
      liveLocks.add(lock[1]!);
      continue;
    }
    // As lock.ts takes one over: renamed aside first, so two sweepers cannot both remove a lock
    // that a third process has just taken.
    const aside = `${lockPath}.stale-${process.pid}`;
    await remove(lockPath, async () => {
      await rename(lockPath, aside);
      await unlink(aside);
    });
  }
  const deadBuild = (fingerprint: string, pid: string | undefined) => !liveLocks.has(fingerprint) && (pid === undefined || !alive(pid));

  for (const name of names) {
    const progress = PROGRESS.exec(name);
    if (progress && deadBuild(progress[1]!, progress[2])) await remove(path.join(storeDir, name), () => unlink(path.join(storeDir, name)));
    const temporary = TEMPORARY.exec(name);
    if (temporary && deadBuild(temporary[1]!, temporary[2])) await remove(path.join(storeDir, name), () => rm(path.join(storeDir, name), { force: false }));
  }
  const defaultSpill = path.join(storeDir, '.tmp');
  for (const dir of [defaultSpill, ...spillDirs.filter((d) => path.resolve(d) !== defaultSpill)]) {
    for (const name of await listOrEmpty(dir, report)) {
      const temporary = TEMPORARY.exec(name);
      if (temporary && deadBuild(temporary[1]!, temporary[2])) await remove(path.join(dir, name), () => rm(path.join(dir, name), { recursive: true }));
    }
  }
  // The default spill folder is the sweeper's own; an empty one goes (a --temp-dir stays).
  await rmdir(defaultSpill).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT' && error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') report.failed.push(`${defaultSpill}: ${errorMessage(error)}`);
  });
  return report;
}

function alive(pid: string): boolean {
  return pidAlive(Number(pid));
}

async function listOrEmpty(dir: string, report: SweepReport): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') report.failed.push(`${dir}: ${errorMessage(error)}`);
    return [];
  }
}
