// Which files make up a dataset, and which table each belongs to.
//
// Inputs are files, folders, globs (`*`, `?`, `**`, `[...]`) and hive-partitioned folders
// (`key=value` path components become columns). Each data file is assigned to a table by the
// deepest path component, from the file's own name up to the input's own folder name, that names
// one: `bars`, `trades`, `symbols` or `runs` (or a singular, or a prefix such as `trades_2024`).
// Files that no component assigns are bars. So a dataset folder (bars/, trades/, symbols.parquet,
// runs.arrow ...), a bare hive folder of bars, `prepare ds/trades/*.parquet` and
// `prepare bars.parquet trades.arrow` all do what they say.
//
// Formats: Parquet (.parquet .parq .pq) and Arrow IPC (.arrow .arrows .feather .ipc; file or
// stream format, told apart by the magic bytes), both sniffed whatever the extension; CSV (.csv
// .tsv, read by DuckDB's read_csv, which sniffs the delimiter and types) and JSON (.json
// .jsonl .ndjson), known by extension, also with .gz or .zst after it (DuckDB inflates them).
// Any other file compressed whole (.bz2, .xz, a .gz of a pickle) is an archive of the one file
// it holds (archives/).
// Inside folders only those extensions are read, and hidden or `_`-prefixed files (`_SUCCESS`,
// `.crc`, a manifest) and the dataset description (tickscope.json) are skipped.
//
// Which tables a dataset has is settled only after the format adapters (formats/index.ts) have
// claimed the files they recognise (a pyfolio `positions.parquet` is not bars), so the check that
// there are bars at all is formats/index.ts's, not this module's.

import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { archiveMembers, inflatedName, isCompressedFile, isTarArchive, isZipArchive, memberPath, type ArchiveMember, type UnpackedMember } from './archives/index.js';
import { isHtmlReport, reportMembers } from './html-reports.js';
import { isWorkbook, workbookMembers } from './workbooks.js';
import { hdfMembers, isHdf, isPickle, pandasJsonMember, pickleMembers } from './pandas-files/index.js';
import type { CsvReading } from '../sql/text.js';
import { PrepareError } from './errors.js';
import { jsonTableMembers } from './json-tables.js';
// The sniffing leaf of the Arrow room, not its door: the door's readers take inputs' DataFile.
import { isLegacyIpcStream } from './arrow-ipc/legacy-stream.js';

export type TableKind = 'bars' | 'trades' | 'symbols' | 'runs';
export const TABLE_KINDS: readonly TableKind[] = ['bars', 'trades', 'symbols', 'runs'];

export type FileFormat = 'parquet' | 'arrow-file' | 'arrow-stream' | 'csv' | 'json';

export interface DataFile {
  path: string;
  format: FileFormat;
  /** hive partition values from `key=value` path components below the input root. */
  hive: Record<string, string>;
  size: number;
  mtimeMs: number;
  /**
   * A JSON file found inside a folder whose path names no table (a result JSON, or a manifest
   * beside the data): read only when a format adapter claims it, never as bars.
   */
  loose?: boolean;
  /**
   * Read as bars only because its path names no table: formats/index.ts reads it as trades when
   * its columns are a trade list's (an in-house tool's backtest_trades.csv, a platform's export).
   */
  unnamed?: boolean;
  /**
   * A JSON document unpacked from a zip archive (archives/), or a table written out of an HTML
   * report (html-reports.ts) or a workbook (workbooks.ts): what names it stably (stampPath).
   */
  archive?: ArchiveMember;
  /** How a CSV file is read beyond what DuckDB's sniffer decides (formats/candidates.ts). */
  csv?: CsvReading;
  /** The run this file belongs to, by its folder (runFolders): one backtest per folder of the input. */
  runFolder?: string;
}

export interface Source {
  kind: TableKind;
  /** Where the table came from, for messages. */
  location: string;
  files: DataFile[];
}

/** What names a file across preparations: its path, or for a document unpacked from an archive, `<archive>!<member>`. */
export function stampPath(f: Pick<DataFile, 'path' | 'archive'>): string {
  return f.archive ? memberPath(f.archive) : f.path;
}

/** A table's input for messages: its one file, or its folder and how many files. */
export function sourceLabel(src: Source): string {
  return src.files.length === 1 ? src.files[0]!.path : `${src.location} (${src.files.length} files)`;
}

export interface ResolvedInputs {
  /** The inputs as given, made absolute. */
  inputs: string[];
  sources: Record<TableKind, Source | null>;
  /**
   * Files named `benchmark` (benchmark.csv, a benchmark/ folder): a series of returns or prices,
   * read by server/prepare/benchmark.ts, never bars. Not a table kind: `benchmark` in
   * tickscope.json names a symbol or a file, not a column mapping.
   */
  benchmark?: DataFile[];
  /**
   * Files among the inputs that were not read (a pickle or HDF5 file of no frame, a .7z, a zip with no data file in it, one
   * that cannot be read, ...), each its path with why and what to do in parentheses: named by
   * noBarsError, and beside a dataset that was read.
   */
  archives?: string[];
  /**
   * A listing's (no `unpackTo`: ResolveOptions) archives, reports and workbooks, stamped as they
   * are and not opened: enough to tell that they changed.
   */
  containers?: { path: string; size: number; mtimeMs: number }[];
}

const PARQUET_EXT = ['.parquet', '.parq', '.pq'];
const ARROW_EXT = ['.arrow', '.arrows', '.feather', '.ipc'];
const CSV_EXT = ['.csv', '.tsv'];
const JSON_EXT = ['.json', '.jsonl', '.ndjson'];
/** description.ts DESCRIPTION_FILE, never a data file (not imported: description.ts imports this module). */
const DESCRIPTION_FILE = 'tickscope.json';


export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** The table a path component names, if any. */
export function tableOfComponent(component: string): TableKind | null {
  const c = component.toLowerCase();
  if (c.includes('=')) return null; // a hive partition, e.g. run_id=runs-2
  for (const kind of TABLE_KINDS) {
    const singular = kind.slice(0, -1);
    for (const name of [kind, singular]) {
      if (c === name || c.startsWith(`${name}.`) || c.startsWith(`${name}_`) || c.startsWith(`${name}-`)) return kind;
    }
  }
  return null;
}

/** Whether a path component names the benchmark, as tableOfComponent's names do a table. */
function namesBenchmark(component: string): boolean {
  const c = component.toLowerCase();
  return ['benchmark', 'benchmarks'].some((name) => c === name || c.startsWith(`${name}.`) || c.startsWith(`${name}_`) || c.startsWith(`${name}-`));
}

/** Whether the deepest component of the file's path that names anything names the benchmark. */
function isBenchmarkFile(root: string, file: string): boolean {
  const rel = path.relative(root, file).split(path.sep).filter((p) => p && p !== '..');
  for (const c of [...rel.slice(0, -1), path.basename(file)].reverse()) {
    if (namesBenchmark(c)) return true;
    if (tableOfComponent(c)) return false;
  }
  return false;
}

/** Table of a file: the deepest component of `relative` (file name first), then the root's name. */
export function classify(root: string, file: string): TableKind {
  return namedTable(root, file) ?? 'bars';
}

/** The table a component of the file's path names, if any. */
function namedTable(root: string, file: string): TableKind | null {
  const rel = path.relative(root, file).split(path.sep).filter((p) => p && p !== '..');
  const components = [...rel.slice(0, -1), path.basename(file)].reverse();
  for (const c of components) {
    const kind = tableOfComponent(c);
    if (kind) return kind;
  }
  return tableOfComponent(path.basename(root));
}

function hiveOf(root: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const rel = path.relative(root, path.dirname(file));
  if (!rel || rel.startsWith('..')) return out;
  for (const part of rel.split(path.sep)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = decodeURIComponent(part.slice(eq + 1));
  }
  return out;
}

/** Parquet, Arrow IPC file or Arrow IPC stream, from the first and last bytes; null if neither. */
export async function sniffFormat(file: string): Promise<FileFormat | null> {
  const fh = await open(file, 'r');
  try {
    const st = await fh.stat();
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (bytesRead >= 4 && head.subarray(0, 4).toString('latin1') === 'PAR1') return 'parquet';
    if (bytesRead >= 6 && head.subarray(0, 6).toString('latin1') === 'ARROW1') return 'arrow-file';
    // An IPC stream starts with a message: 0xFFFFFFFF continuation + length (or, pre-0.15, a length).
    if (bytesRead >= 8 && head.readUInt32LE(0) === 0xffffffff && head.readInt32LE(4) > 0 && head.readInt32LE(4) < st.size) return 'arrow-stream';
    // Pre-0.15 streams have no continuation marker: a bare length, then the schema message.
    if (bytesRead >= 8 && (await isLegacyIpcStream(fh, st.size))) return 'arrow-stream';
    return null;
  } finally {
    await fh.close();
  }
}

/**
 * Text files compressed as they are written (pandas' `to_csv('trades.csv.gz')`, a gzipped JSON
 * Lines log): DuckDB's readers inflate them as they read, by the name's suffix, so they are the
 * text format they name. Not tar or zip archives, which hold files of their own.
 */
const COMPRESSED_TEXT_EXT = ['.gz', '.zst'];

/** The format a file's name says it is (a compressed text file's, the text format it names), or null. */
export function formatByExtension(file: string): 'parquet' | 'arrow' | 'csv' | 'json' | null {
  let lower = file.toLowerCase();
  const compressed = COMPRESSED_TEXT_EXT.find((e) => lower.endsWith(e));
  if (compressed) {
    lower = lower.slice(0, -compressed.length);
    return CSV_EXT.some((e) => lower.endsWith(e)) ? 'csv' : JSON_EXT.some((e) => lower.endsWith(e)) ? 'json' : null;
  }
  if (PARQUET_EXT.some((e) => lower.endsWith(e))) return 'parquet';
  if (ARROW_EXT.some((e) => lower.endsWith(e))) return 'arrow';
  if (CSV_EXT.some((e) => lower.endsWith(e))) return 'csv';
  if (JSON_EXT.some((e) => lower.endsWith(e))) return 'json';
  return null;
}

/** A file's name without its format's extension, nor a compression's after it: `result.json.gz` is `result`. */
export function nameWithoutExtension(file: string): string {
  const base = path.basename(file);
  const compressed = COMPRESSED_TEXT_EXT.find((e) => base.toLowerCase().endsWith(e));
  const inner = compressed ? base.slice(0, -compressed.length) : base;
  return inner.slice(0, inner.length - path.extname(inner).length);
}

/**
 * Files of a backtest that are not read, by name, and what to do instead: named when they lie
 * among the inputs (beside data that was read too, since they may hold what the dataset lacks).
 */
const NOT_READ: readonly (readonly [string[], string])[] = [
  [['.xls'], "Excel 97-2003's format: save it as .xlsx or CSV"],
  [['.ods'], "OpenDocument's format: save it as .xlsx or CSV"],
  [['.7z', '.rar'], 'an archive of a kind not opened: unpack it, or make it a zip or tar'],
];

/** Why a file among the inputs is not read, when its name says it is one of NOT_READ. */
function notReadWhy(file: string): string | null {
  const lower = file.toLowerCase();
  return NOT_READ.find(([exts]) => exts.some((e) => lower.endsWith(e)))?.[1] ?? null;
}

/** Whether a file holds files or tables of its own to be written out and read: an archive (isArchive), an HTML report, a workbook, a pandas pickle or HDF5 store. */
function holdsTables(file: string): boolean {
  return isArchive(file) || isTableDocument(file);
}

/**
 * Whether a file holds files to unpack (archives/): a zip or tar archive, or a file compressed
 * whole that DuckDB does not inflate as it reads (trades.csv.bz2, perf.pkl.gz; not trades.csv.gz).
 */
function isArchive(file: string): boolean {
  return isZipArchive(file) || isTarArchive(file) || (isCompressedFile(file) && formatByExtension(file) === null);
}

/** Whether a file is one to open (holdsTables), or one not read (NOT_READ). */
function isContainer(file: string): boolean {
  return holdsTables(file) || notReadWhy(file) !== null;
}

/** The data files under `dir`, by extension; the archives, documents of tables (isTableDocument) and files not read among its files go to `archives`. */
async function walk(dir: string, archives: string[]): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name.startsWith('_') || e.name.toLowerCase() === DESCRIPTION_FILE) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, archives)));
    else if (e.isFile() && formatByExtension(e.name)) out.push(p);
    else if (e.isFile() && isContainer(e.name)) archives.push(p);
  }
  return out;
}

/** A glob as a RegExp over '/'-separated paths relative to its base folder. */
function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        // '**/' matches zero or more folders; a trailing '**' matches anything.
        if (pattern[i + 2] === '/') {
          re += '(?:[^/]*/)*';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The data files a glob matches, and the archives and documents of tables among them (or inside folders it matches), apart. */
async function expandGlob(pattern: string): Promise<{ base: string; files: string[]; containers: string[] }> {
  const abs = path.resolve(pattern);
  const parts = abs.split(path.sep);
  const firstGlob = parts.findIndex((p) => hasGlob(p));
  const base = parts.slice(0, firstGlob).join(path.sep) || path.sep;
  const rest = parts.slice(firstGlob).join('/');
  const re = globRegExp(rest);
  const st = await stat(base).catch(() => null);
  if (!st?.isDirectory()) return { base, files: [], containers: [] };
  const files: string[] = [];
  const containers: string[] = [];
  const visit = async (dir: string) => {
    // A folder that cannot be listed matches nothing, as with a shell's glob.
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      const rel = path.relative(base, p).split(path.sep).join('/');
      if (e.isDirectory()) {
        if (e.name.startsWith('.')) continue;
        if (re.test(rel)) files.push(...(await walk(p, containers)));
        else await visit(p);
      } else if (e.isFile() && re.test(rel)) (holdsTables(p) ? containers : files).push(p);
    }
  };
  await visit(base);
  return { base, files, containers };
}

async function describeFile(root: string, file: string): Promise<DataFile> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    throw new PrepareError(`input ${file} does not exist`, { cause: err });
  }
  let format: FileFormat | null;
  try {
    format = await sniffFormat(file);
  } catch (err) {
    throw new PrepareError(`input ${file} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  const ext = formatByExtension(file);
  // Text formats have no magic bytes: their extension says what they are.
  if (!format && (ext === 'csv' || ext === 'json')) {
    if (st.size === 0) throw new PrepareError(`input ${file} is empty (0 bytes): a ${ext.toUpperCase()} file needs at least a header or a value`);
    format = ext;
  }
  if (!format) {
    if (st.size === 0) throw new PrepareError(`input ${file} is empty (0 bytes): not a Parquet or Arrow IPC file`);
    if (ext === 'parquet') {
      // Let the Parquet reader say what is wrong (it names the file): e.g. a truncated file still
      // starts with PAR1 but a file that does not start with it is plainly something else.
      throw new PrepareError(`input ${file} is not a Parquet file (no PAR1 magic bytes at the start)`);
    }
    throw new PrepareError(`input ${file} is neither Parquet nor Arrow IPC (first bytes are not PAR1, ARROW1 or an IPC stream message), and its name does not end in .csv, .tsv, .json, .jsonl or .ndjson (or one of them with .gz or .zst)`);
  }
  return { path: file, format, hive: hiveOf(root, file), size: st.size, mtimeMs: st.mtimeMs };
}

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

/**
 * A JSON document read as what it holds, written out into `into`: the tables it names
 * (json-tables.ts), placed by their own names, or a pandas frame's rows (pandas-json.ts), read in
 * the document's place; null when it is neither.
 */
async function jsonDocumentMembers(file: string, size: number, into: string): Promise<{ kind: 'tables' | 'frame'; members: UnpackedMember[] } | null> {
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
async function addArchive(root: string, archive: ContainerAt, unpackTo: string, placed: Placed, depth = 1): Promise<number> {
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
function unpackFolderFor(root: string, file: string, unpackTo: string): string {
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
function placeAt(root: string, at: string, file: DataFile, loose: boolean, grouped: Record<TableKind, DataFile[]>, benchmark: DataFile[]): void {
  const placed = { ...file, hive: hiveOf(root, at), loose: false, unnamed: false };
  const named = namedTable(root, at);
  if (isBenchmarkFile(root, at)) benchmark.push(placed);
  else if (named) grouped[named].push(placed);
  else grouped.bars.push({ ...placed, unnamed: true, loose });
}

/** Where a member of an archive (or a file written out of a source) lies, read as a file: its path inside the source, beside the source. */
function besideSource(member: ArchiveMember): string {
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

/** Whether a file holds pandas frames as Python saves them: a pickle or an HDF5 store. */
function isSavedFrames(file: string): boolean {
  return isPickle(file) || isHdf(file);
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
function addTableDocument(root: string, document: ContainerAt, unpackTo: string, grouped: Record<TableKind, DataFile[]>, benchmark: DataFile[]): Promise<number> {
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
interface ContainerAt {
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

/** Whether a file is read for the tables in it: an HTML report, an Excel workbook, a pandas pickle or HDF5 store. */
function isTableDocument(file: string): boolean {
  return isHtmlReport(file) || isWorkbook(file) || isSavedFrames(file);
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
function placeOf(f: DataFile): string {
  if (!f.archive) return f.path;
  const source = f.archive.archive;
  return isTableDocument(source) ? source : besideSource(f.archive);
}

/**
 * One backtest per folder: an input folder whose bars and trades all lie in two or more folders
 * directly inside it, each holding the same tables (results/fast/trades.csv, results/slow/trades.csv),
 * is that many runs, each named after its folder (DataFile.runFolder); a symbols or runs file may
 * sit beside the folders, shared by them. Not when the folders are hive partitions (key=value),
 * named after a table (bars/, trades/), or the input is files or globs: those say what they are.
 * A table whose files have a run column keeps it (table-input.ts).
 */
function markRunFolders(inputs: readonly string[], grouped: Record<TableKind, DataFile[]>): void {
  if (inputs.length !== 1) return;
  const root = inputs[0]!;
  // A report's tables (html-reports.ts) are a backtest's files, lying where the report does.
  const isRunFile = (f: DataFile) => !f.loose || (f.archive !== undefined && f.format === 'csv');
  const runFiles = [...grouped.bars, ...grouped.trades].filter(isRunFile);
  if (runFiles.length === 0) return;
  const folderOf = (f: DataFile) => {
    const parts = path.relative(root, placeOf(f)).split(path.sep);
    return parts.length > 1 && !parts[0]!.startsWith('..') ? parts[0]! : null;
  };
  const tablesOf = new Map<string, Set<TableKind>>();
  for (const kind of ['bars', 'trades'] as const) {
    for (const f of grouped[kind].filter(isRunFile)) {
      const folder = folderOf(f);
      if (folder === null || folder.includes('=') || (TABLE_KINDS as readonly string[]).includes(folder) || folder === 'benchmark') return;
      (tablesOf.get(folder) ?? tablesOf.set(folder, new Set()).get(folder)!).add(kind);
    }
  }
  const sets = [...tablesOf.values()].map((kinds) => [...kinds].sort().join(','));
  if (tablesOf.size < 2 || new Set(sets).size !== 1) return;
  for (const f of runFiles) f.runFolder = folderOf(f)!;
}

/**
 * A dataset has neither bars nor trades (bars are made of trades when only those exist): what was
 * found, what was there and not read (JSON files no format recognised, with their keys; archives),
 * and where both tables come from.
 */
export function noBarsError(
  resolved: Pick<ResolvedInputs, 'inputs' | 'archives'>,
  sources: Record<TableKind, Source | null>,
  recognised: readonly string[],
  unrecognised: readonly { path: string; keys: readonly string[]; kind: LooseKind }[] = [],
): PrepareError {
  const found = [...recognised, ...TABLE_KINDS.filter((k) => sources[k]).map((k) => `${k} (${sources[k]!.files.length} file(s))`)];
  const lines = [
    `input ${resolved.inputs.join(', ')} has neither bars nor trades: found ${found.join(', ') || 'no data files'}; bars are read from a bars/ folder, a bars.parquet, bars.csv or bars.arrow file, any data file not named after another table, or a format the README lists (e.g. pyfolio's positions and transactions, or a returns series); trades from a trades/ folder or file, or a format the README lists`,
  ];
  for (const file of unrecognised) {
    const keys = file.keys.length > 8 ? `${file.keys.slice(0, 8).join(', ')}, ...` : file.keys.join(', ');
    lines.push(looseFileLine(file.path, file.kind, keys));
  }
  if (resolved.archives?.length) lines.push(unreadArchivesText(resolved.archives));
  return new PrepareError(lines);
}

/**
 * What a loose file (DataFile.loose) is, for messages: a JSON document, a table of an HTML
 * report, a sheet of a workbook (or a table in one), or an archive's data file.
 */
export type LooseKind = 'json' | 'report' | 'workbook' | 'frames' | 'archive';

export function looseKind(f: Pick<DataFile, 'format' | 'archive'>): LooseKind {
  if (f.format === 'json') return 'json';
  if (f.archive && isWorkbook(f.archive.archive)) return 'workbook';
  if (f.archive && isSavedFrames(f.archive.archive)) return 'frames';
  return f.archive && isHtmlReport(f.archive.archive) ? 'report' : 'archive';
}

/** What is said of a loose file no format recognised, by what it is (`keys`: its columns, or a JSON document's top-level keys). */
function looseFileLine(file: string, kind: LooseKind, keys: string): string {
  switch (kind) {
    case 'report':
      return `${file}: a table of an HTML report that no format recognises (columns: ${keys || 'none'}); of HTML reports, MetaTrader's lists of positions and of deals are read, with their English headers`;
    case 'workbook':
      return `${file}: a sheet of a workbook that no format recognises (columns: ${keys || 'none'}); a sheet is read as the table its name says (trades, bars, symbols, runs, benchmark), a workbook's only sheet as a file of the workbook's name, and sheets a format the README lists (TradingView's List of trades, pyfolio's returns, positions and transactions)`;
    case 'frames':
      return `${file}: a pandas frame of a pickle or HDF5 store that no format recognises (columns: ${keys || 'none'}); such a frame is read as the CSV its to_csv would write, lying where the file does: as the table its name or key says (trades.pkl, a store's key trades), or a format the README lists (zipline's perf, pyfolio's returns, positions and transactions)`;
    case 'archive':
      return `${file}: a file of an archive whose name says no table (columns: ${keys || 'none'}); an archive's files are read where their names say which table (trades.csv, bars/), or as a format the README lists`;
    case 'json':
      return `${file}: a JSON document no format recognises (top-level keys: ${keys || 'none'}); JSON is read as a table when it holds rows (an array of records, or a record per line) and its name says which (trades.json, bars/), else as a result format the README lists`;
  }
}

/**
 * What is said of the files among the inputs that were not read (ResolvedInputs.archives): in the
 * error of a dataset without data, and beside a prepared or inspected one, since a `trades.7z` or
 * a `trades.pickle` next to the bars leaves the dataset without trades.
 */
export function unreadArchivesText(archives: readonly string[]): string {
  return `not read: ${archives.join('; ')}`;
}

/** The deepest folder holding every one of `files`. */
export function commonFolder(files: readonly string[]): string {
  let common = path.dirname(files[0]!);
  for (const f of files) {
    while (common !== path.dirname(common) && !(`${path.dirname(f)}${path.sep}`.startsWith(`${common}${path.sep}`) || path.dirname(f) === common)) {
      common = path.dirname(common);
    }
  }
  return common;
}
