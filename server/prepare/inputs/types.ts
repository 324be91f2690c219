// What the inputs of a dataset come to: its files, each with its format and where it lies, grouped
// per table (Source), and what was found beside them and not read (ResolvedInputs).
import type { CsvReading } from '../../sql/text.js';
import { memberPath, type ArchiveMember } from '../archives/index.js';

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
