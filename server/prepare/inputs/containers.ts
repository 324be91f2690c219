// Files that hold tables, read as the files they hold: an archive's members, a workbook's sheets,
// a report's tables, a pickle's or HDF5 store's frames and a JSON document's named tables, each
// written out into the preparation's unpack folder and placed where it would lie as a file of
// its own (beside its source, by its path inside it), stamped with its source's size and time.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../../shared/errors.js';
import { archiveMembers, inflatedName, isCompressedFile, memberPath, type ArchiveMember, type UnpackedMember } from '../archives/index.js';
import { reportMembers } from '../html-reports.js';
import { jsonTableMembers } from '../json-tables.js';
import { hdfMembers, isPickle, pandasJsonMember, pickleMembers } from '../pandas-files/index.js';
import { isWorkbook, workbookMembers } from '../workbooks.js';
import { formatByExtension, isArchive, isSavedFrames, isTableDocument, sniffFormat } from './file-kinds.js';
import { hiveOf, isBenchmarkFile, namedTable, namesBenchmark, tableOfComponent } from './naming.js';
import type { DataFile, FileFormat, TableKind } from './types.js';

/**
 * A JSON document read as what it holds, written out into `into`: the tables it names
 * (json-tables.ts), placed by their own names, or a pandas frame's rows (pandas-json.ts), read in
 * the document's place; null when it is neither.
 */
export async function jsonDocumentMembers(file: string, size: number, into: string): Promise<{ kind: 'tables' | 'frame'; members: UnpackedMember[] } | null> {
  const tables = await jsonTableMembers(file, size, into, (key) => tableOfComponent(key) !== null || namesBenchmark(key));
  if (tables) return { kind: 'tables', members: tables };
  const frame = await pandasJsonMember(file, size, into);
  return frame ? { kind: 'frame', members: [frame] } : null;
}

/** Where an archive's files go: the tables, the benchmark, and what was not read (ResolvedInputs.archives). */
interface Placed {
  grouped: Record<TableKind, DataFile[]>;
  benchmark: DataFile[];
  unread: string[];
}

/** Archives inside archives are opened this deep: a folder of zipped results (Freqtrade's), shared as one zip, is two. */
const MAX_ARCHIVE_DEPTH = 3;

/**
 * An archive's members (archives/), read as if they lay where their paths inside it put them: its
 * data files, its documents of tables, and the archives in it (to MAX_ARCHIVE_DEPTH), each the
 * same way; what cannot be read, or holds nothing read, is named in `unread`. Its count of files
 * and tables read.
 */
export async function addArchive(root: string, archive: ContainerAt, unpackTo: string, placed: Placed, depth = 1): Promise<number> {
  const name = archive.within ?? archive.file;
  const wanted = (n: string) => formatByExtension(n) !== null || isTableDocument(n) || isArchive(n);
  let members: UnpackedMember[];
  try {
    members = relocated(await archiveMembers(archive.file, unpackFolderFor(root, archive.at, unpackTo), wanted), archive);
  } catch (err) {
    placed.unread.push(`${name} (${errorMessage(err).replace(`input ${archive.file} `, '')})`);
    return 0;
  }
  const dataFiles = members.filter((m) => !isTableDocument(m.unpacked) && !isArchive(m.unpacked));
  // A member that holds files or tables is read as if it lay where its path inside puts it.
  const inside = (m: UnpackedMember): ContainerAt => ({ file: m.unpacked, at: besideSource(m.member), stamp: archive.stamp, within: memberPath(m.member) });
  // A JSON document in it is read as what it holds, as when it lies loose: named tables (their
  // paths name them), or a pandas frame's rows in its place; named `<archive>!<document>!<table>`.
  const files: UnpackedMember[] = [];
  for (const m of dataFiles) {
    const isDocument = /\.json$/i.test(m.unpacked) && (await sniffFormat(m.unpacked)) === null;
    const doc = isDocument ? await jsonDocumentMembers(m.unpacked, (await stat(m.unpacked)).size, unpackFolderFor(root, besideSource(m.member), unpackTo)) : null;
    files.push(...(doc ? relocated(doc.members, inside(m)) : [m]));
  }
  await addArchiveMembers(root, archive.stamp, files, placed.grouped, placed.benchmark);
  let read = dataFiles.length;
  for (const m of members.filter((m) => !dataFiles.includes(m))) {
    // A document or archive in it; one that cannot be read is left out and named, as an archive
    // that cannot be read is.
    const inner = inside(m);
    if (isArchive(m.unpacked)) {
      if (depth < MAX_ARCHIVE_DEPTH) read += await addArchive(root, inner, unpackTo, placed, depth + 1);
      else placed.unread.push(`${inner.within} (an archive inside ${depth} archives: not opened; unpack the outer ones)`);
      continue;
    }
    try {
      read += await addTableDocument(root, inner, unpackTo, placed.grouped, placed.benchmark);
    } catch (err) {
      placed.unread.push(`${inner.within} (${errorMessage(err).replace(`input ${m.unpacked} `, '')})`);
    }
  }
  if (read > 0) return read;
  if (members.length === 0 && isCompressedFile(archive.at)) {
    placed.unread.push(`${name} (it holds ${inflatedName(path.basename(archive.at))}, not a Parquet, Arrow, CSV or JSON file, workbook, report, pickle or HDF5 store)`);
  } else placed.unread.push(`${name} (an archive with no Parquet, Arrow, CSV or JSON file, and no workbook, report, pickle, HDF5 store or archive with a table, in it)`);
  return 0;
}

/**
 * Where what is written out of `file` is unpacked: `unpackTo`, below the hive partition folders
 * the file lies in (bars/run_id=base/part-0.xlsx), since DuckDB reads those from the path.
 */
export function unpackFolderFor(root: string, file: string, unpackTo: string): string {
  const partitions = path.relative(root, path.dirname(file)).split(path.sep).filter((c) => c.includes('=') && !c.startsWith('..'));
  return path.join(unpackTo, ...partitions);
}

/**
 * An archive's data files (archives/), each read as the file its path inside the archive makes
 * it, beside the archive: the table or benchmark its name says (trades.csv, bars/run_id=a/...);
 * any other is a loose file, read only when a format adapter claims it (Freqtrade's result JSON;
 * never its zipped market data). Each is stamped with `stamp`'s size and time: the outermost archive.
 */
async function addArchiveMembers(root: string, stamp: string, members: readonly UnpackedMember[], grouped: Record<TableKind, DataFile[]>, benchmark: DataFile[]): Promise<void> {
  const st = await stat(stamp);
  for (const { member, unpacked } of members) {
    const at = besideSource(member);
    const byName = formatByExtension(at);
    const format: FileFormat = (await sniffFormat(unpacked)) ?? (byName === 'arrow' ? 'arrow-file' : (byName ?? 'json'));
    placeAt(root, at, { path: unpacked, format, hive: {}, size: st.size, mtimeMs: st.mtimeMs, archive: member }, true, grouped, benchmark);
  }
}

/**
 * Puts a file written out of a source where a file at `at` goes: the benchmark or the table its
 * path names, hive partitions from that path; else bars, unnamed, `loose` as the caller says.
 */
export function placeAt(root: string, at: string, file: DataFile, loose: boolean, grouped: Record<TableKind, DataFile[]>, benchmark: DataFile[]): void {
  const placed = { ...file, hive: hiveOf(root, at), loose: false, unnamed: false };
  const named = namedTable(root, at);
  if (isBenchmarkFile(root, at)) benchmark.push(placed);
  else if (named) grouped[named].push(placed);
  else grouped.bars.push({ ...placed, unnamed: true, loose });
}

/** Where a member of an archive (or a file written out of a source) lies, read as a file: its path inside the source, beside the source. */
export function besideSource(member: ArchiveMember): string {
  return path.join(path.dirname(member.archive), ...member.member.split('/').filter((p) => p !== '' && p !== '.'));
}

/**
 * A workbook's sheets (workbooks.ts), each read as a CSV file lying where the workbook does, named
 * as workbookMembers names it: the table or benchmark its name says (a sheet "trades", a lone
 * sheet of trades.xlsx), else, the workbook's only sheet, bars or trades by its columns as any
 * unnamed file; a sheet among others that names nothing, and a report's tables, are loose files
 * (TradingView's "List of trades" beside its performance sheets, pyfolio's frames): read only
 * when a format adapter claims them.
 */
async function addWorkbook(root: string, workbook: ContainerAt, unpackTo: string, grouped: Record<TableKind, DataFile[]>, benchmark: DataFile[]): Promise<number> {
  const { sheets, members: read } = await workbookMembers(workbook.file, unpackFolderFor(root, workbook.at, unpackTo));
  const members = relocated(read, workbook);
  const files = await memberFiles(workbook.stamp, members);
  members.forEach(({ member, layout }, i) => {
    if (layout === 'report') grouped.bars.push(files[i]!);
    else placeAt(root, besideSource(member), files[i]!, sheets > 1, grouped, benchmark);
  });
  return files.length;
}

/**
 * The frames of a pandas pickle or HDF5 store (pandas-pickle.ts, pandas-hdf.ts), each read as the
 * CSV file its to_csv would write, lying where the file does: named after it when it holds one
 * (perf.pickle is perf.csv), else after the dict's keys or the store's keys, loose as a
 * workbook's sheets among others are. Their count.
 */
async function addSavedFrames(root: string, saved: ContainerAt, unpackTo: string, grouped: Record<TableKind, DataFile[]>, benchmark: DataFile[]): Promise<number> {
  const read = isPickle(saved.file) ? pickleMembers : hdfMembers;
  const members = relocated(await read(saved.file, unpackFolderFor(root, saved.at, unpackTo)), saved);
  const files = await memberFiles(saved.stamp, members);
  members.forEach(({ member }, i) => placeAt(root, besideSource(member), files[i]!, members.length > 1, grouped, benchmark));
  return files.length;
}

/** A report's, workbook's, pickle's or HDF5 store's tables (isTableDocument), by what it is. Their count. */
export function addTableDocument(root: string, document: ContainerAt, unpackTo: string, grouped: Record<TableKind, DataFile[]>, benchmark: DataFile[]): Promise<number> {
  if (isWorkbook(document.file)) return addWorkbook(root, document, unpackTo, grouped, benchmark);
  if (isSavedFrames(document.file)) return addSavedFrames(root, document, unpackTo, grouped, benchmark);
  return addReport(document, unpackTo, grouped);
}

/**
 * A document of tables to read (isTableDocument): the file itself, where it lies in the dataset's
 * layout (itself, or for one unpacked from an archive, where its path inside the archive puts it),
 * and the file whose size and time stamp its tables (the archive it came from: a rewritten
 * archive is new input).
 */
export interface ContainerAt {
  file: string;
  at: string;
  stamp: string;
  /** For one unpacked from an archive: `<archive>!<its path inside>` (ArchiveMember.within). */
  within?: string;
}

/** A document's tables, placed as lying at `at` and named `<within>!<table>` (ContainerAt); as they are when it lies where it is read. */
function relocated<T extends UnpackedMember>(members: readonly T[], container: ContainerAt): T[] {
  if (container.at === container.file) return [...members];
  return members.map((m) => ({ ...m, member: { ...m.member, archive: container.at, ...(container.within ? { within: container.within } : {}) } }));
}

/**
 * An HTML report's tables (html-reports.ts), loose files lying where the report does: read only
 * when a format claims them; a report without a table is not data (a page of notes). Their count.
 */
async function addReport(report: ContainerAt, unpackTo: string, grouped: Record<TableKind, DataFile[]>): Promise<number> {
  const files = await memberFiles(report.stamp, relocated(await reportMembers(report.file, unpackTo), report));
  grouped.bars.push(...files);
  return files.length;
}

/**
 * The tables a document (a report, workbook, pickle or store) wrote out as CSV, as loose files
 * (read only when an adapter claims them), stamped with the source's size and time: a rewritten
 * source is new input.
 */
async function memberFiles(stamp: string, members: readonly UnpackedMember[]): Promise<DataFile[]> {
  if (members.length === 0) return [];
  const st = await stat(stamp);
  return members.map(({ member, unpacked }) => ({ path: unpacked, format: 'csv' as const, hive: {}, size: st.size, mtimeMs: st.mtimeMs, loose: true, unnamed: true, archive: member }));
}

/**
 * Where a file lies in the dataset's layout: its own path; a table written out of a report or a
 * workbook where its source lies; an archive's member (or a pandas JSON file's rows) where its path
 * inside the archive puts it, beside the archive.
 */
export function placeOf(f: DataFile): string {
  if (!f.archive) return f.path;
  const source = f.archive.archive;
  return isTableDocument(source) ? source : besideSource(f.archive);
}
