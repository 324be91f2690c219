// Builds the prepared store (server/store/format.ts) from what a backtester wrote.
//
// Inputs (inputs.ts): dataset folders, files, globs and hive-partitioned folders of Parquet and
// Arrow IPC (file and stream format). Parquet is read by DuckDB (parquet.ts); Arrow IPC is read
// with apache-arrow in record batches and appended into DuckDB (arrow.ts). Columns are matched by
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
// Memory: DuckDB's memory_limit (default a quarter of the machine, memory.ts) with spilling to a
// temp folder beside the stores.

import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { MetaKey, STORE_FORMAT_VERSION } from '../store/format.js';
import { buildStore } from './build.js';
import { diskFullError } from './disk-full.js';
import { PrepareError } from './errors.js';
import { resolveInputs, TABLE_KINDS, type ResolvedInputs } from './inputs.js';
import { readProgress, tryLock, type HeldLock, type LockHolder, readHolder } from './lock.js';
import { readDataQuality, type DataQualityEntry } from './data-quality.js';
import { canonicalDescription, DESCRIPTION_FILE, descriptionFolder, locateDescription, type BadRowPolicy, type DatasetDescription, type LocatedDescription } from './description.js';
import { Progress, type PrepareProgress } from './progress.js';
import { sweepStaleBuilds } from './stale-builds.js';
import { readCurrentStoreMeta } from './store-dir.js';

export type { PrepareProgress } from './progress.js';

/** What to prepare, and how: the options that can be sent to a preparation child process. */
export interface PrepareSettings {
  /** Dataset folder(s), files or globs. */
  input: string | readonly string[];
  storeDir: string;
  /** Memory budget of the whole preparation process (default: defaultMemoryLimit(), a quarter of
   * the machine). DuckDB gets most of it (duckdbMemoryLimit) and spills beyond. */
  memoryLimit?: string;
  /** DuckDB threads (default: DuckDB's, the number of cores). */
  threads?: number;
  /** The dataset description given in code; wins over the `tickscope.json` beside the data. */
  description?: DatasetDescription;
  /** `--mapping FILE`: a description file read instead of the one beside the data. Wins over `description`. */
  mappingFile?: string;
  /** `--on-bad-rows`: wins over the description's `onBadRows`. */
  onBadRows?: BadRowPolicy;
  /** Where DuckDB spills; default <storeDir>/.tmp/<build>. */
  tempDir?: string;
}

export interface PrepareOptions extends PrepareSettings {
  onProgress?: (p: PrepareProgress) => void;
  /** Give up waiting for another preparation of the same dataset after this long (default: never). */
  lockTimeoutMs?: number;
}

export interface PrepareResult {
  storePath: string;
  fingerprint: string;
  reused: boolean;
  /** True when another process prepared it while this one waited. */
  waited?: boolean;
  /** How timestamps were normalised to UTC (also in the store's meta table). */
  timezoneNote?: string;
  /** Input rows read (bars + trades) when built here. */
  rows?: number;
  /** The description file used, or where `tickscope.json` would be read from. */
  descriptionPath: string;
  /** What preparation dropped or found (the store's data_quality table). */
  dataQuality: DataQualityEntry[];
}

function fingerprintOf(r: ResolvedInputs, description: DatasetDescription): string {
  const h = createHash('sha256');
  h.update(`tickscope-store v${STORE_FORMAT_VERSION}\n`);
  if (Object.keys(description).length) h.update(`description ${canonicalDescription(description)}\n`);
  // Paths relative to the input when there is one folder input, so a moved dataset keeps its store.
  const base = r.inputs.length === 1 ? r.inputs[0]! : null;
  for (const kind of TABLE_KINDS) {
    const src = r.sources[kind];
    if (!src) continue;
    for (const f of src.files) {
      const p = base && f.path.startsWith(`${base}${path.sep}`) ? path.relative(base, f.path) : f.path;
      h.update(`${kind}\t${p}\t${f.size}\t${f.mtimeMs}\n`);
    }
  }
  for (const f of r.benchmark ?? []) {
    const p = base && f.path.startsWith(`${base}${path.sep}`) ? path.relative(base, f.path) : f.path;
    h.update(`benchmark\t${p}\t${f.size}\t${f.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function prepareDataset(opts: PrepareOptions): Promise<PrepareResult> {
  try {
    return await prepareUnchecked(opts);
  } catch (err) {
    // A full disk shows up wherever something was being written (a commit, a spill, the lock);
    // it is said as what it is, with the folder, not as a failure to read an input (disk-full.ts).
    const storeDir = path.resolve(opts.storeDir);
    const inputs = (typeof opts.input === 'string' ? [opts.input] : [...opts.input]).map((p) => path.resolve(p)).join(', ');
    const spillDir = opts.tempDir ? path.resolve(opts.tempDir) : path.join(storeDir, '.tmp');
    throw (await diskFullError(err, { inputs, storeDir, spillDir })) ?? (await withDescriptionPath(err, opts));
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
  return new PrepareError(`${err.message}\n(the dataset description is ${file}${exists ? '' : ', not written yet'})`, { cause: err });
}

async function prepareUnchecked(opts: PrepareOptions): Promise<PrepareResult> {
  const emit = opts.onProgress ?? (() => {});
  const inputs = (typeof opts.input === 'string' ? [opts.input] : [...opts.input]).map((p) => path.resolve(p));
  emit({ phase: 'checking inputs', fraction: 0, rows: null, totalRows: null, etaSeconds: null });
  const described = await locateDescription({
    inputs,
    ...(opts.mappingFile ? { mappingFile: opts.mappingFile } : {}),
    ...(opts.description ? { description: opts.description } : {}),
    ...(opts.onBadRows ? { onBadRows: opts.onBadRows } : {}),
  });
  const resolved = await resolveInputs(inputs);
  const fingerprint = fingerprintOf(resolved, described.description);
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

  for (;;) {
    const current = await readCurrentStoreMeta(storePath);
    if (current) {
      emit({ phase: 'done', fraction: 1, rows: null, totalRows: null, etaSeconds: 0 });
      const note = current.get(MetaKey.timezoneNote);
      const dataQuality = await readDataQuality(storePath);
      return { storePath, fingerprint, reused: true, descriptionPath: described.path, dataQuality, ...(waited ? { waited } : {}), ...(note ? { timezoneNote: note } : {}) };
    }
    const lock = await tryLock(lockPath, progressPath);
    if (lock) {
      try {
        // The holder before us may have published while we looked.
        if (await readCurrentStoreMeta(storePath)) continue;
        await removeStaleTemporaries(storeDir, fingerprint);
        return { ...(await buildAndPublish(opts, resolved, described, fingerprint, storeDir, storePath, lock, emit)), ...(waited ? { waited } : {}) };
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

/** A temporary file or folder of a build of this fingerprint, in the store folder or its spill folder. */
function isTemporaryOf(fingerprint: string, name: string): boolean {
  return name.startsWith(`${fingerprint}.duckdb.tmp-`);
}

/**
 * Removes what a build left behind, ignoring failures: a cleanup must not hide the build's own
 * result or error, and what stays is removed by the next build of the same dataset.
 */
async function removeLeftover(target: string, options: { recursive?: boolean } = {}): Promise<void> {
  await rm(target, { force: true, ...options }).catch(() => {});
}

/** Removes a folder if it is empty; one still in use by another build stays. */
async function removeIfEmpty(folder: string): Promise<void> {
  await rmdir(folder).catch(() => {});
}

/** The names in a folder; none when it does not exist (or cannot be listed: nothing to clean). */
async function namesIn(folder: string): Promise<string[]> {
  return readdir(folder).catch(() => []);
}

async function removeStaleTemporaries(storeDir: string, fingerprint: string): Promise<void> {
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
  let lastWrite = 0;
  const progress = new Progress((p) => {
    emit(p);
    const now = Date.now();
    if (now - lastWrite > 500) {
      lastWrite = now;
      // For processes waiting on the lock: a write that fails only leaves their view a step behind.
      void lock.writeProgress(p).catch(() => {});
    }
  });
  const tmp = `${storePath}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  // A folder of this build's own inside the spill folder, also under --temp-dir: the whole of
  // tempDir is removed below, and it used to be --temp-dir itself (with whatever else was in it).
  const tempDir = path.join(opts.tempDir ? path.resolve(opts.tempDir) : path.join(storeDir, '.tmp'), path.basename(tmp));
  await mkdir(tempDir, { recursive: true });
  let result: Awaited<ReturnType<typeof buildStore>>;
  try {
    result = await buildStore({ file: tmp, resolved, described, fingerprint, tempDir, memoryLimit: opts.memoryLimit, threads: opts.threads }, progress);
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
