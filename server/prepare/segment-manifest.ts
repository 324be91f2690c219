// The manifest of a segmented dataset (server/store/segments.ts): where it is, reading it, and
// publishing a new one atomically (written beside it, then renamed over it), so a reader sees the
// old list of segments or the new one, never a part.
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { STORE_FORMAT_VERSION } from '../store/format.js';
import { MANIFEST_SUFFIX, MANIFEST_VERSION, type SegmentFile, type SegmentManifest } from '../store/segments.js';
import { canonicalDescription, type DatasetDescription } from './description.js';
import { PrepareError } from './errors.js';
import { stampPath, TABLE_KINDS, type ResolvedInputs } from './inputs/index.js';
import { temporaryBeside } from './temporaries.js';

/**
 * The dataset's identity apart from its files: the inputs as given, the description and the
 * format version. Its manifest is <key>.segments.json: the same folder with more files finds it.
 */
export function datasetKey(r: ResolvedInputs, description: DatasetDescription, statedBenchmark: Omit<SegmentFile, 'kind'> | null): string {
  const h = createHash('sha256');
  h.update(`tickscope-dataset v${STORE_FORMAT_VERSION}\n`);
  h.update(`inputs ${JSON.stringify([...r.inputs].sort())}\n`);
  if (Object.keys(description).length) h.update(`description ${canonicalDescription(description)}\n`);
  if (statedBenchmark) h.update(`benchmark ${statedBenchmark.path}\t${statedBenchmark.size}\t${statedBenchmark.mtimeMs}\n`);
  return h.digest('hex').slice(0, 16);
}

export function manifestPath(storeDir: string, key: string): string {
  return path.join(storeDir, `${key}${MANIFEST_SUFFIX}`);
}

export function isManifestPath(file: string): boolean {
  return file.endsWith(MANIFEST_SUFFIX);
}

/** A file's path as the manifest records it: relative to the input when there is one folder input. */
export function recordedPath(r: ResolvedInputs, file: string): string {
  const base = r.inputs.length === 1 ? r.inputs[0]! : null;
  return base && file.startsWith(`${base}${path.sep}`) ? path.relative(base, file) : file;
}

/** Every input file of the dataset (tables and benchmark) as the manifest records them. */
export function inputStamps(r: ResolvedInputs): SegmentFile[] {
  const out: SegmentFile[] = [];
  for (const kind of TABLE_KINDS) {
    for (const f of r.sources[kind]?.files ?? []) out.push({ kind, path: recordedPath(r, stampPath(f)), size: f.size, mtimeMs: f.mtimeMs });
  }
  for (const f of r.benchmark ?? []) out.push({ kind: 'benchmark', path: recordedPath(r, f.path), size: f.size, mtimeMs: f.mtimeMs });
  return out;
}

/** The manifest at `file`, or null when there is none (or it is of another version: prepared again). */
export async function readManifest(file: string): Promise<SegmentManifest | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new PrepareError(`the segment manifest ${file} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  let parsed: SegmentManifest;
  try {
    parsed = JSON.parse(text) as SegmentManifest;
  } catch (err) {
    throw new PrepareError(`the segment manifest ${file} is not JSON (${errorMessage(err)}); remove it to prepare the dataset again`, { cause: err });
  }
  if (parsed.manifestVersion !== MANIFEST_VERSION || parsed.formatVersion !== STORE_FORMAT_VERSION || !Array.isArray(parsed.segments) || parsed.segments.length === 0) return null;
  return parsed;
}

/** Publishes `manifest` at `file`: written beside it, then renamed over it. */
export async function writeManifest(file: string, manifest: SegmentManifest): Promise<void> {
  const tmp = temporaryBeside(file);
  try {
    await writeFile(tmp, `${JSON.stringify(manifest, null, 1)}\n`);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new PrepareError(`the segment manifest ${file} cannot be written: ${errorMessage(err)}`, { cause: err });
  }
}

/** The store files a manifest lists, as absolute paths (they live beside it). */
export function segmentStorePaths(file: string, manifest: SegmentManifest): string[] {
  return manifest.segments.map((s) => path.join(path.dirname(file), s.store));
}
