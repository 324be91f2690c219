// A dataset prepared before, from its manifest of segments (segment-manifest.ts,
// server/store/segments.ts): as it is when no file was added, or grown by a delta segment of the
// added runs (add-runs.ts); null when it must be prepared whole, and the progress line says why.
// And the manifest of a store built whole, which runs added later start from.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { MetaKey, STORE_FORMAT_VERSION, StoreTable } from '../store/format.js';
import { MANIFEST_VERSION, type SegmentFile, type SegmentManifest } from '../store/segments.js';
import { buildDelta, compareWithManifest, DELTA_SUFFIX, deltaStorePath, FullRebuildNeeded, publishDelta, removeDeltaLeftovers } from './add-runs.js';
import { readDataQuality } from './data-quality.js';
import type { LocatedDescription } from './description.js';
import { PrepareError } from './errors.js';
import type { ResolvedInputs } from './inputs/index.js';
import { readProgress, tryLock, type HeldLock } from './lock.js';
import type { PrepareOptions, PrepareResult } from './outcome.js';
import { progressSharedThrough, type PrepareProgress } from './progress.js';
import { inputStamps, readManifest, segmentStorePaths, writeManifest } from './segment-manifest.js';
import { readCurrentStoreMeta } from './store-dir.js';
import { removeIfEmpty, removeLeftover, temporaryBeside } from './temporaries.js';

/** The runs whose bars or trades a published store holds. */
async function runsOf(storePath: string): Promise<string[]> {
  const instance = await DuckDBInstance.create(storePath, { access_mode: 'READ_ONLY' });
  try {
    const con = await instance.connect();
    try {
      const r = await con.runAndReadAll(`SELECT DISTINCT run_id FROM (SELECT run_id FROM ${StoreTable.bars} UNION ALL SELECT run_id FROM ${StoreTable.trades}) ORDER BY run_id`);
      return r.getRows().map(([id]) => String(id));
    } finally {
      con.closeSync();
    }
  } catch (err) {
    throw new PrepareError(`the runs of the prepared store ${storePath} cannot be read: ${errorMessage(err)}`, { cause: err });
  } finally {
    instance.closeSync();
  }
}

/**
 * Makes the manifest list `storePath` alone, when it does not already: runs added later start
 * from it. The deltas the manifest listed are removed (nothing else reads them; a session that
 * has one open keeps reading it until it closes). Stores built whole stay for `tickscope stores`.
 */
export async function baseManifestFor(manifestFile: string, storePath: string, resolved: ResolvedInputs): Promise<void> {
  const manifest = await readManifest(manifestFile);
  if (manifest?.segments.length === 1 && manifest.segments[0]!.store === path.basename(storePath)) return;
  await writeManifest(manifestFile, { manifestVersion: MANIFEST_VERSION, formatVersion: STORE_FORMAT_VERSION, segments: [{ store: path.basename(storePath), files: inputStamps(resolved), runs: await runsOf(storePath) }] });
  for (const old of manifest ? segmentStorePaths(manifestFile, manifest) : []) {
    if (old.endsWith(DELTA_SUFFIX)) await removeDeltaLeftovers(old);
  }
}

export interface GrowContext {
  opts: PrepareOptions;
  resolved: ResolvedInputs;
  described: LocatedDescription;
  fingerprint: string;
  storeDir: string;
  manifestFile: string;
  emit: (p: PrepareProgress) => void;
}

/**
 * The dataset from its manifest: as it is when no file was added, or with a delta of the added
 * runs (add-runs.ts). Null when it must be prepared whole (the progress line says why).
 */
export async function prepareFromManifest(c: GrowContext): Promise<PrepareResult | null> {
  const lockPath = `${c.manifestFile}.lock`;
  const progressPath = `${c.manifestFile}.progress.json`;
  for (;;) {
    const manifest = await readManifest(c.manifestFile);
    if (!manifest) return null;
    const stores = segmentStorePaths(c.manifestFile, manifest);
    for (const store of stores) {
      if (!(await readCurrentStoreMeta(store))) {
        c.emit({ phase: `preparing the whole dataset: the prepared segment ${store} is missing or unreadable`, fraction: 0, rows: null, totalRows: null, etaSeconds: null });
        return null;
      }
    }
    const growth = compareWithManifest(manifest, inputStamps(c.resolved));
    if (growth.kind === 'rebuild') {
      c.emit({ phase: `preparing the whole dataset: ${growth.reason}`, fraction: 0, rows: null, totalRows: null, etaSeconds: null });
      return null;
    }
    if (growth.kind === 'same') {
      c.emit({ phase: 'done', fraction: 1, rows: null, totalRows: null, etaSeconds: 0 });
      const dataQuality = (await Promise.all(stores.map((s) => readDataQuality(s)))).flat();
      const note = (await readCurrentStoreMeta(stores[0]!))?.get(MetaKey.timezoneNote);
      return {
        storePath: stores.length === 1 ? stores[0]! : c.manifestFile,
        fingerprint: c.fingerprint,
        reused: true,
        segments: stores.length,
        descriptionPath: c.described.path,
        dataQuality,
        ...(note ? { timezoneNote: note } : {}),
      };
    }
    const lock = await tryLock(lockPath, progressPath);
    if (!lock) {
      const theirs = await readProgress<PrepareProgress>(progressPath);
      c.emit({ phase: `waiting for another preparation adding runs: ${theirs?.phase ?? 'starting'}`, fraction: theirs?.fraction ?? 0, rows: null, totalRows: null, etaSeconds: null });
      await sleep(250);
      continue;
    }
    try {
      // Another process may have added the same runs while this one waited.
      const now = await readManifest(c.manifestFile);
      if (JSON.stringify(now) !== JSON.stringify(manifest)) continue;
      return await addRuns(c, manifest, stores, growth.added, lock);
    } catch (err) {
      if (!(err instanceof FullRebuildNeeded)) throw err;
      c.emit({ phase: `preparing the whole dataset: ${err.message}`, fraction: 0, rows: null, totalRows: null, etaSeconds: null });
      return null;
    } finally {
      await lock.release();
    }
  }
}

async function addRuns(c: GrowContext, manifest: SegmentManifest, stores: readonly string[], added: SegmentFile[], lock: HeldLock): Promise<PrepareResult> {
  const progress = progressSharedThrough(lock, c.emit);
  progress.begin(`adding ${added.length} new file(s) to the prepared dataset`, 0, null);
  const final = deltaStorePath(c.storeDir, c.fingerprint);
  const tmp = temporaryBeside(final);
  const tempDir = path.join(c.opts.tempDir ? path.resolve(c.opts.tempDir) : path.join(c.storeDir, '.tmp'), path.basename(tmp));
  await mkdir(tempDir, { recursive: true });
  let delta: Awaited<ReturnType<typeof buildDelta>>;
  try {
    delta = await buildDelta(
      {
        file: tmp,
        resolved: c.resolved,
        added,
        described: c.described,
        fingerprint: c.fingerprint,
        segments: stores.map((store, i) => ({ store, runs: manifest.segments[i]!.runs })),
        tempDir,
        ...(c.opts.memoryLimit ? { memoryLimit: c.opts.memoryLimit } : {}),
        ...(c.opts.threads ? { threads: c.opts.threads } : {}),
      },
      progress,
    );
    progress.begin('publishing', 0, null, final);
    await publishDelta(tmp, final);
  } catch (err) {
    await removeDeltaLeftovers(tmp);
    throw err;
  } finally {
    await removeLeftover(tempDir, { recursive: true });
    if (!c.opts.tempDir) await removeIfEmpty(path.dirname(tempDir));
  }
  await writeManifest(c.manifestFile, { ...manifest, segments: [...manifest.segments, { store: path.basename(final), files: added, runs: delta.runs }] });
  c.emit({ phase: 'done', fraction: 1, rows: null, totalRows: null, etaSeconds: 0 });
  const dataQuality = (await Promise.all([...stores, final].map((s) => readDataQuality(s)))).flat();
  return {
    storePath: c.manifestFile,
    fingerprint: c.fingerprint,
    reused: false,
    rows: delta.rows,
    segments: stores.length + 1,
    addedRuns: delta.runs,
    descriptionPath: c.described.path,
    dataQuality,
  };
}
