// What one table's input is once inspected (table-input.ts makes it): its files by format, its
// columns and the canonical columns matched to them, and the relation that reads it whole. A
// module of its own because the modules table-input.ts itself uses (the column expressions, the
// reading of text dates) take it too.
import type { ColumnInfo } from './column-types.js';
import type { DataFile, Source } from './inputs/index.js';

export interface TableInput {
  source: Source;
  /** canonical name -> the input column. */
  resolved: Map<string, ColumnInfo>;
  /** Every column name of the input (for messages that list what was found). */
  columns: string[];
  /** Staged by a format adapter: its columns are the adapter's, not the user's to map. */
  staged: boolean;
  /** The run of each row is its file's folder (inputs/run-folders.ts markRunFolders): read as a run_id column. */
  runFolders: boolean;
  parquet: DataFile[];
  arrow: DataFile[];
  /** CSV and JSON files, read by DuckDB (their rows are not counted beforehand). */
  text: DataFile[];
  hiveKeys: string[];
  /** Row count from Parquet footers plus Arrow rows once staged. */
  rows: number;
  /** SQL relation of the whole table (Parquet read + staged Arrow), set after staging. */
  relation: string;
}
