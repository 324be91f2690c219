// Builds the prepared store (server/store/format.ts) from what a backtester wrote.
//
// Inputs (inputs/): dataset folders, files, globs and hive-partitioned folders of Parquet and
// Arrow IPC (file and stream format). Parquet is read by DuckDB (parquet.ts); Arrow IPC is read
// with apache-arrow in record batches and appended into DuckDB (arrow-ipc/). Columns are matched by
// name (mapping.ts: canonical names, common aliases, or the dataset description's columns) and
// checked for type (table-input.ts, column-types.ts). Symbols and run ids may be strings or
// integers; timestamps may be naive (taken as UTC, or as the description's `timezone`) or zoned
// (converted to UTC) (expressions.ts); the store's meta table says which, per column.
//
// The dataset description (description.ts: `tickscope.json` beside the data, or --mapping FILE)
// is read here, for every caller alike (CLI, control server, benchmark).
//
// Every input is checked before anything is built, and every failure is a PrepareError that names
// the file (and the column where it helps): unreadable or truncated files, non-Parquet files,
// files of one table with different schemas, a required column missing, a column of the wrong
// type. Bad rows (null or duplicate keys, NaN or infinite values: checks.ts) are all refused in
// one error, or dropped under onBadRows "drop" and listed in the store (data-quality.ts).
//
// This module is the entry: the store is keyed by a fingerprint of its inputs and description, built
// (build.ts) in a temporary file next to its final path and published with rename, so a reader
// sees either no store or a complete one. A lock file (lock.ts) makes two preparations of the
// same dataset at once do the work once: the second waits (showing the first one's progress) and
// then finds the store. An existing store of the current format version is reused; one of another
// version is rebuilt.
//
// Runs added to a prepared dataset (grow-dataset.ts, add-runs.ts): a dataset is also listed by a
// manifest of its segments (segment-manifest.ts, server/store/segments.ts). When no store was built from exactly
// these files, new runs' files beside the ones the manifest lists become a delta segment joined to
// the dataset, and the result's storePath is the manifest; anything else (a file changed or gone,
// rows of a run the dataset has) is the full preparation above, and the progress line says why.
//
// Memory: DuckDB's memory_limit (default a quarter of the machine, memory.ts) with spilling to a
// temp folder beside the stores.

import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../../shared/errors.js';
import { MetaKey, STORE_FORMAT_VERSION } from '../store/format.js';
import { unpackFolder } from './archives/index.js';
import { buildStore } from './build.js';
import { diskFullError } from './disk-full.js';
import { PrepareError } from './errors.js';
import { resolveInputs, stampPath, TABLE_KINDS, type DataFile, type ResolvedInputs } from './inputs/index.js';
import { statedBenchmarkPath } from './benchmark.js';
import { readProgress, tryLock, type HeldLock, type LockHolder, readHolder } from './lock.js';
import { readDataQuality } from './data-quality.js';
import { canonicalDescription, DESCRIPTION_FILE, descriptionFolder, locateDescription, type DatasetDescription, type LocatedDescription } from './description.js';
import { progressSharedThrough, type PrepareProgress } from './progress.js';
import type { PrepareOptions, PrepareResult } from './outcome.js';
import { baseManifestFor, prepareFromManifest } from './grow-dataset.js';
import { removeIfEmpty, removeLeftover, removeStaleTemporaries, temporaryBeside } from './temporaries.js';
import { sweepStaleBuilds } from './stale-builds.js';
import { readCurrentStoreMeta } from './store-dir.js';
import { addMarketClose } from './add-runs.js';
import { datasetKey, manifestPath } from './segment-manifest.js';

export type { PrepareProgress } from './progress.js';
export type { PrepareOptions, PrepareResult, PrepareSettings } from './outcome.js';

/**
 * The size and modification time of the file a description's `benchmark` names, when it names one
 * that exists (a symbol of the dataset names none): a rewritten benchmark file is a new store, as a
 * rewritten input is.
 */
async function statedBenchmarkFile(description: DatasetDescription, descriptionPath: string): Promise<DataFileStamp | null> {
  if (description.benchmark === undefined) return null;
  const file = statedBenchmarkPath(description.benchmark, descriptionPath);
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    // Not a file: the benchmark is a symbol (checked at build, which says so if it is neither).
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw new PrepareError(`benchmark file ${file} (from ${descriptionPath}) cannot be read: ${errorMessage(err)}`, { cause: err });
  });
  return info?.isFile() ? { path: file, size: info.size, mtimeMs: info.mtimeMs } : null;
}

/** What the fingerprint takes of a file: a file rewritten in place changes its size or time. */
type DataFileStamp = Pick<DataFile, 'path' | 'size' | 'mtimeMs'>;

function fingerprintOf(r: ResolvedInputs, description: DatasetDescription, benchmarkFile: DataFileStamp | null): string {
  const h = createHash('sha256');
  h.update(`tickscope-store v${STORE_FORMAT_VERSION}\n`);
  if (Object.keys(description).length) h.update(`description ${canonicalDescription(description)}\n`);
  // Paths relative to the input when there is one folder input, so a moved dataset keeps its store.
  const base = r.inputs.length === 1 ? r.inputs[0]! : null;
  for (const kind of TABLE_KINDS) {
    const src = r.sources[kind];
    if (!src) continue;
    for (const f of src.files) {
      const stamped = stampPath(f);
      const p = base && stamped.startsWith(`${base}${path.sep}`) ? path.relative(base, stamped) : stamped;
      h.update(`${kind}\t${p}\t${f.size}\t${f.mtimeMs}\n`);
    }
  }
  for (const f of [...(r.benchmark ?? []), ...(benchmarkFile ? [benchmarkFile] : [])]) {
    const p = base && f.path.startsWith(`${base}${path.sep}`) ? path.relative(base, f.path) : f.path;
    h.update(`benchmark\t${p}\t${f.size}\t${f.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

export async function prepareDataset(opts: PrepareOptions): Promise<PrepareResult> {
  // Where zip archives' JSON documents are unpacked (archives/), made only when there are any.
  const unpackTo = unpackFolder();
  try {
    return await prepareUnchecked(opts, unpackTo);
  } catch (err) {
    // A full disk shows up wherever something was being written (a commit, a spill, the lock);
    // it is said as what it is, with the folder, not as a failure to read an input (disk-full.ts).
    const storeDir = path.resolve(opts.storeDir);
    const inputs = (typeof opts.input === 'string' ? [opts.input] : [...opts.input]).map((p) => path.resolve(p)).join(', ');
    const spillDir = opts.tempDir ? path.resolve(opts.tempDir) : path.join(storeDir, '.tmp');
    throw (await diskFullError(err, { inputs, storeDir, spillDir })) ?? (await withDescriptionPath(err, opts));
  } finally {
    await rm(unpackTo, { recursive: true, force: true });
  }
}

/**
 * A PrepareError, told where the dataset description is: most of what a user fixes without
 * touching the files (a column name, the time zone, bad rows) is written there.
 */
async function withDescriptionPath(err: unknown, opts: PrepareOptions): Promise<unknown> {
  if (!(err instanceof PrepareError)) return err;
  const inputs = typeof opts.input === 'string' ? [opts.input] : [...opts.input];
  const file = opts.mappingFile ? path.resolve(opts.mappingFile) : path.join(await descriptionFolder(inputs), DESCRIPTION_FILE);
  if (err.message.includes(file)) return err;
  const exists = await stat(file).then(() => true, () => false);
  return err.withLine(`(the dataset description is ${file}${exists ? '' : ', not written yet'})`);
}

async function prepareUnchecked(opts: PrepareOptions, unpackTo: string): Promise<PrepareResult> {
  const emit = opts.onProgress ?? (() => {});
  const inputs = (typeof opts.input === 'string' ? [opts.input] : [...opts.input]).map((p) => path.resolve(p));
  emit({ phase: 'checking inputs', fraction: 0, rows: null, totalRows: null, etaSeconds: null });
  const described = await locateDescription({
    inputs,
    ...(opts.mappingFile ? { mappingFile: opts.mappingFile } : {}),
    ...(opts.description ? { description: opts.description } : {}),
    ...(opts.onBadRows ? { onBadRows: opts.onBadRows } : {}),
  });
  const resolved = await resolveInputs(inputs, { unpackTo });
  const unread = resolved.archives ?? [];
  const withUnreadArchives = (result: PrepareResult): PrepareResult => (unread.length ? { ...result, unreadArchives: unread } : result);
  const benchmarkFile = await statedBenchmarkFile(described.description, described.path);
  const fingerprint = fingerprintOf(resolved, described.description, benchmarkFile);
  const storeDir = path.resolve(opts.storeDir);
  await mkdir(storeDir, { recursive: true });
  // Leftovers of killed preparations of any dataset: stale locks, temporaries (stale-builds.ts).
  const swept = await sweepStaleBuilds(storeDir, opts.tempDir ? [path.resolve(opts.tempDir)] : []);
  if (swept.removed.length || swept.failed.length) {
    const failed = swept.failed.length ? `; could not remove ${swept.failed.join('; ')}` : '';
    emit({ phase: `removed ${swept.removed.length} leftover(s) of killed preparations${failed}`, fraction: 0, rows: null, totalRows: null, etaSeconds: null });
  }
  const storePath = path.join(storeDir, `${fingerprint}.duckdb`);
  const lockPath = path.join(storeDir, `${fingerprint}.lock`);
  const progressPath = path.join(storeDir, `${fingerprint}.progress.json`);
  const waitStarted = Date.now();
  let waited = false;
  const manifestFile = manifestPath(storeDir, datasetKey(resolved, described.description, benchmarkFile));

  // Not prepared with exactly these files: a dataset prepared before, with new runs' files, gets a
  // delta segment instead of a full preparation (grow-dataset.ts).
  if (!(await readCurrentStoreMeta(storePath))) {
    const grown = await prepareFromManifest({ opts, resolved, described, fingerprint, storeDir, manifestFile, emit });
    if (grown) return withUnreadArchives(grown);
  }

  for (;;) {
    const current = await readCurrentStoreMeta(storePath);
    if (current) {
      await baseManifestFor(manifestFile, storePath, resolved);
      emit({ phase: 'done', fraction: 1, rows: null, totalRows: null, etaSeconds: 0 });
      const note = current.get(MetaKey.timezoneNote);
      const dataQuality = await readDataQuality(storePath);
      return withUnreadArchives({ storePath, fingerprint, reused: true, descriptionPath: described.path, dataQuality, ...(waited ? { waited } : {}), ...(note ? { timezoneNote: note } : {}) });
    }
    const lock = await tryLock(lockPath, progressPath);
    if (lock) {
      try {
        // The holder before us may have published while we looked.
        if (await readCurrentStoreMeta(storePath)) continue;
        await removeStaleTemporaries(storeDir, fingerprint);
        const built = await buildAndPublish(opts, resolved, described, fingerprint, storeDir, storePath, lock, emit);
        // The store built whole is the base of the runs added later.
        await baseManifestFor(manifestFile, storePath, resolved);
        return withUnreadArchives({ ...built, ...(waited ? { waited } : {}) });
      } finally {
        await lock.release();
      }
    }
    // Somebody else is preparing this dataset: show their progress until they are done.
    waited = true;
    if (opts.lockTimeoutMs !== undefined && Date.now() - waitStarted > opts.lockTimeoutMs) {
      const holder = await readHolder(lockPath);
      throw new PrepareError(`preparing ${inputs.join(', ')}: another preparation of this dataset (pid ${holder?.pid ?? '?'}) is still running after ${Math.round(opts.lockTimeoutMs / 1000)} s`);
    }
    const theirs = await readProgress<PrepareProgress>(progressPath);
    const holder: LockHolder | null = await readHolder(lockPath);
    emit({
      phase: `waiting for pid ${holder?.pid ?? '?'}: ${theirs?.phase ?? 'starting'}`,
      fraction: theirs?.fraction ?? 0,
      rows: theirs?.rows ?? null,
      totalRows: theirs?.totalRows ?? null,
      etaSeconds: theirs?.etaSeconds ?? null,
    });
    await sleep(250);
  }
}

async function buildAndPublish(
  opts: PrepareOptions,
  resolved: ResolvedInputs,
  described: LocatedDescription,
  fingerprint: string,
  storeDir: string,
  storePath: string,
  lock: HeldLock,
  emit: (p: PrepareProgress) => void,
): Promise<PrepareResult> {
  const progress = progressSharedThrough(lock, emit);
  const tmp = temporaryBeside(storePath);
  // A folder of this build's own inside the spill folder, also under --temp-dir: the whole of
  // tempDir is removed below, and it used to be --temp-dir itself (with whatever else was in it).
  const tempDir = path.join(opts.tempDir ? path.resolve(opts.tempDir) : path.join(storeDir, '.tmp'), path.basename(tmp));
  await mkdir(tempDir, { recursive: true });
  let result: Awaited<ReturnType<typeof buildStore>>;
  try {
    result = await buildStore({ file: tmp, resolved, described, fingerprint, tempDir, memoryLimit: opts.memoryLimit, threads: opts.threads }, progress);
    await addMarketClose(tmp, opts.memoryLimit, tempDir);
    progress.begin('publishing', 0, null, storePath);
    await rm(`${tmp}.wal`, { force: true });
    // A stale WAL next to the final path would be replayed against the new file: drop it first.
    await rm(`${storePath}.wal`, { force: true });
    await rename(tmp, storePath);
  } catch (err) {
    await removeLeftover(tmp);
    await removeLeftover(`${tmp}.wal`);
    throw err;
  } finally {
    await removeLeftover(tempDir, { recursive: true });
    if (!opts.tempDir) await removeIfEmpty(path.dirname(tempDir));
  }
  emit({ phase: 'done', fraction: 1, rows: null, totalRows: null, etaSeconds: 0 });
  return {
    storePath,
    fingerprint,
    reused: false,
    timezoneNote: result.note,
    rows: result.rows,
    descriptionPath: described.path,
    dataQuality: result.quality.entries,
  };
}
