// The inputs resolved into per-table sources: folders walked, globs expanded, each data file
// described and placed in the table its path names, what files of tables hold written out and
// placed as files, one run per folder marked.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../../shared/errors.js';
import { PrepareError } from '../errors.js';
import { addArchive, addTableDocument, besideSource, jsonDocumentMembers, placeAt, unpackFolderFor, type ContainerAt } from './containers.js';
import { describeFile, holdsTables, isArchive, isSavedFrames, isTableDocument, notReadWhy } from './file-kinds.js';
import { expandGlob, hasGlob, walk } from './listing.js';
import { commonFolder, isBenchmarkFile, namedTable } from './naming.js';
import { markRunFolders } from './run-folders.js';
import { TABLE_KINDS, type DataFile, type ResolvedInputs, type Source, type TableKind } from './types.js';

export interface ResolveOptions {
  /**
   * Where what archives, reports, workbooks and pandas JSON files among the inputs hold is
   * written out (archives/, html-reports.ts, workbooks.ts, pandas-json.ts): a folder the caller
   * removes once done with the files. Without it, the inputs are a listing: those files are not
   * opened (the control server lists a served folder every few seconds, and a workbook or a
   * tar.gz costs seconds to read) but stamped as they are (`containers`, a JSON file as itself).
   */
  unpackTo?: string;
}

/** Resolves the inputs into per-table sources. Throws PrepareError naming the offending input. */
export async function resolveInputs(inputs: readonly string[], options: ResolveOptions = {}): Promise<ResolvedInputs> {
  if (inputs.length === 0) throw new PrepareError('no input given: name a dataset folder, files or globs');
  const byPath = new Map<string, { root: string; file: string; explicit?: boolean }>();
  const absInputs: string[] = [];
  // Archives, reports and workbooks, with the input they were found in.
  const archives: { root: string; file: string }[] = [];
  for (const input of inputs) {
    const abs = path.resolve(input);
    absInputs.push(abs);
    const st = await stat(abs).catch(() => null);
    if (!st && hasGlob(input)) {
      const { base, files, containers } = await expandGlob(input);
      if (files.length === 0 && containers.length === 0) throw new PrepareError(`input glob ${abs} matched no Parquet or Arrow files, nor CSV or JSON, nor an archive or document of tables`);
      for (const f of files) if (!byPath.has(f)) byPath.set(f, { root: base, file: f });
      archives.push(...containers.map((file) => ({ root: base, file })));
      continue;
    }
    if (!st) throw new PrepareError(`input ${abs} does not exist`);
    if (st.isDirectory()) {
      const found: string[] = [];
      const files = await walk(abs, found);
      archives.push(...found.map((file) => ({ root: abs, file })));
      if (files.length === 0 && found.length === 0) {
        throw new PrepareError(`input ${abs} is an empty folder: it holds no Parquet (.parquet), Arrow IPC (.arrow, .arrows, .feather), CSV (.csv, .tsv) or JSON (.json) files`);
      }
      for (const f of files) if (!byPath.has(f)) byPath.set(f, { root: abs, file: f });
    } else if (st.isFile() && holdsTables(abs)) {
      archives.push({ root: path.dirname(abs), file: abs });
    } else if (st.isFile()) {
      byPath.set(abs, { root: path.dirname(abs), file: abs, explicit: true });
    } else {
      throw new PrepareError(`input ${abs} is neither a file nor a folder`);
    }
  }

  const grouped: Record<TableKind, DataFile[]> = { bars: [], trades: [], symbols: [], runs: [] };
  const benchmark: DataFile[] = [];
  const containers: NonNullable<ResolvedInputs['containers']> = [];
  const unpackTo = options.unpackTo ?? null;
  for (const { root, file, explicit } of byPath.values()) {
    const named = namedTable(root, file);
    const described = await describeFile(root, file);
    if (unpackTo !== null && described.format === 'json' && /\.json$/i.test(file)) {
      // A document of named tables is read as those tables (json-tables.ts), and a pandas frame
      // saved with to_json's default layout as its rows (pandas-json.ts); a listing stamps the
      // file as it is.
      const doc = await jsonDocumentMembers(file, described.size, unpackFolderFor(root, file, unpackTo));
      if (doc?.kind === 'tables') {
        for (const { member, unpacked } of doc.members) placeAt(root, besideSource(member), { ...described, path: unpacked, archive: member }, false, grouped, benchmark);
        continue;
      }
      if (doc) Object.assign(described, { path: doc.members[0]!.unpacked, archive: doc.members[0]!.member });
    }
    if (isBenchmarkFile(root, file)) {
      benchmark.push(described);
      continue;
    }
    if (!explicit && !named && described.format === 'json' && !described.archive) described.loose = true;
    if (!named) described.unnamed = true;
    grouped[named ?? 'bars'].push(described);
  }
  // What archives, reports and workbooks hold is written out and read as files beside them
  // (archives/, html-reports.ts, workbooks.ts); an archive with no data file in it, or one that
  // cannot be read, stays in `archives`, for noBarsError to name.
  const unread: string[] = [];
  for (const { root, file: archive } of archives) {
    if (unpackTo === null) {
      const st = await stat(archive);
      containers.push({ path: archive, size: st.size, mtimeMs: st.mtimeMs });
      continue;
    }
    if (isTableDocument(archive)) {
      const document: ContainerAt = { file: archive, at: archive, stamp: archive };
      // A report or workbook that cannot be read stops the dataset; a pickle of something else than
      // frames (a model, parameters), or an HDF5 file of no frame, beside the data is named instead.
      if (!isSavedFrames(archive)) await addTableDocument(root, document, unpackTo, grouped, benchmark);
      else {
        try {
          await addTableDocument(root, document, unpackTo, grouped, benchmark);
        } catch (err) {
          unread.push(`${archive} (${errorMessage(err).replace(`input ${archive} `, '')})`);
        }
      }
      continue;
    }
    if (!isArchive(archive)) {
      unread.push(`${archive} (${notReadWhy(archive) ?? 'not opened'})`);
      continue;
    }
    // An archive that cannot be read is skipped like any other unread one (a stray or damaged zip
    // beside the data must not stop the dataset), and named with why when the dataset has no data.
    await addArchive(root, { file: archive, at: archive, stamp: archive }, unpackTo, { grouped, benchmark, unread });
  }
  markRunFolders(absInputs, grouped);
  const sources = {} as Record<TableKind, Source | null>;
  for (const kind of TABLE_KINDS) {
    const files = grouped[kind].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    if (files.length === 0) {
      sources[kind] = null;
      continue;
    }
    const location = files.length === 1 ? files[0]!.path : commonFolder(files.map((f) => f.path));
    sources[kind] = { kind, location, files };
  }
  return {
    inputs: absInputs,
    sources,
    ...(benchmark.length ? { benchmark: benchmark.sort((a, b) => (a.path < b.path ? -1 : 1)) } : {}),
    ...(unread.length ? { archives: unread } : {}),
    ...(containers.length ? { containers } : {}),
  };
}
