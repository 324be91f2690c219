// What a file is: a data file by its first bytes (Parquet, Arrow IPC) or its name (CSV, JSON, also
// compressed as they are written), a file that holds tables to be written out (an archive, a
// report, a workbook, a pandas pickle or HDF5 store), or one named as not read.
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../../shared/errors.js';
import { isCompressedFile, isTarArchive, isZipArchive } from '../archives/index.js';
// The sniffing leaf of the Arrow room, not its door: the door's readers take the inputs' DataFile.
import { isLegacyIpcStream } from '../arrow-ipc/legacy-stream.js';
import { PrepareError } from '../errors.js';
import { isHtmlReport } from '../html-reports.js';
import { isHdf, isPickle } from '../pandas-files/index.js';
import { isWorkbook } from '../workbooks.js';
import { hiveOf } from './naming.js';
import type { DataFile, FileFormat } from './types.js';

const PARQUET_EXT = ['.parquet', '.parq', '.pq'];
const ARROW_EXT = ['.arrow', '.arrows', '.feather', '.ipc'];
const CSV_EXT = ['.csv', '.tsv'];
const JSON_EXT = ['.json', '.jsonl', '.ndjson'];

/** description.ts DESCRIPTION_FILE, never a data file (not imported: description.ts imports the inputs room). */
export const DESCRIPTION_FILE = 'tickscope.json';

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
export function notReadWhy(file: string): string | null {
  const lower = file.toLowerCase();
  return NOT_READ.find(([exts]) => exts.some((e) => lower.endsWith(e)))?.[1] ?? null;
}

/** Whether a file holds files or tables of its own to be written out and read: an archive (isArchive), an HTML report, a workbook, a pandas pickle or HDF5 store. */
export function holdsTables(file: string): boolean {
  return isArchive(file) || isTableDocument(file);
}

/**
 * Whether a file holds files to unpack (archives/): a zip or tar archive, or a file compressed
 * whole that DuckDB does not inflate as it reads (trades.csv.bz2, perf.pkl.gz; not trades.csv.gz).
 */
export function isArchive(file: string): boolean {
  return isZipArchive(file) || isTarArchive(file) || (isCompressedFile(file) && formatByExtension(file) === null);
}

/** Whether a file is one to open (holdsTables), or one not read (NOT_READ). */
export function isContainer(file: string): boolean {
  return holdsTables(file) || notReadWhy(file) !== null;
}

/** Whether a file holds pandas frames as Python saves them: a pickle or an HDF5 store. */
export function isSavedFrames(file: string): boolean {
  return isPickle(file) || isHdf(file);
}

/** Whether a file is read for the tables in it: an HTML report, an Excel workbook, a pandas pickle or HDF5 store. */
export function isTableDocument(file: string): boolean {
  return isHtmlReport(file) || isWorkbook(file) || isSavedFrames(file);
}

export async function describeFile(root: string, file: string): Promise<DataFile> {
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
