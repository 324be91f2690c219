// A format adapter: how the files one backtesting tool writes become Tickscope's canonical tables,
// recognised by their shape and names alone (no mapping file needed).
//
// How preparation uses adapters (formats/index.ts runs this for every dataset):
//
//   1. inputs/ finds the data files (Parquet, Arrow IPC, CSV, JSON); formats/candidates.ts reads
//      what is cheap to read: each tabular file's columns (footer, schema, CSV sniff) and each
//      JSON object file's top-level keys. Those are the CandidateFiles.
//   2. Every adapter of the registry (formats/index.ts, FORMAT_ADAPTERS) is asked to `detect` the
//      files it recognises among those no adapter claimed yet: first only `certain` detections
//      are taken, in registry order, then `likely` ones. It answers with a Detection (the files
//      it claims, how sure it is, and a plan of its own type saying which file plays which part)
//      or null. Detection looks at names only (column names, file names, JSON keys): it never
//      reads rows, so `tickscope inspect` stays a dry run.
//   3. `describe` says in words what was recognised, for `tickscope inspect`, the progress line
//      and error messages: "zipline/pyfolio frames: returns.parquet, positions.parquet (wide, 37
//      assets + cash), transactions.parquet".
//   4. At build time, `stage` writes the claimed files' rows into temporary tables holding the
//      canonical columns (server/prepare/mapping.ts COLUMNS, DESIGN.md "Data") and returns their
//      names (StagedTables). The pipeline then reads those tables exactly as it reads canonical
//      input files: same type checks, same timestamp normalisation, same bad-row checks.
//   5. Files no adapter claimed are read the canonical way (a table per file name, columns
//      matched by name and alias, inputs/ and table-input.ts), as before adapters existed;
//      an unclaimed `loose` JSON file (inputs/types.ts DataFile.loose) is left out.
//
// Rules for a stage:
//   - Stage timestamps as the tool wrote them: a naive TIMESTAMP stays naive (the dataset's
//     `timezone` is applied by the pipeline), a zoned one stays TIMESTAMPTZ. Never convert here.
//   - Stage numbers as DOUBLE and keys (symbol, run_id) as VARCHAR; leave a column out (or NULL)
//     rather than invent it. A canonical column the stage leaves out is derived by the pipeline
//     where it can be (e.g. trade_qty from position changes) or left NULL.
//   - Fills become round trips with formats/round-trips.ts (FIFO, rules written there); never a
//     matcher of your own.
//   - Name every temporary table with ctx.table(name) so two adapters never collide, and raise
//     PrepareError (server/prepare/errors.ts) naming the file and column for anything the user
//     must fix.
//
// Adding a format: write formats/<tool>.ts exporting a FormatAdapter, add it to FORMAT_ADAPTERS
// in formats/index.ts, add a fixture generator under fixtures/formats/ and a test under
// test/integration/formats-<tool>.test.ts, and list the columns it reads in the README.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ColumnInfo } from '../column-types.js';
import type { DataFile, TableKind } from '../inputs/index.js';
import type { DatasetDescription } from '../description.js';
import { DEFAULT_RUN_ID } from '../expressions.js';
import { camelWords, normalise } from '../mapping.js';

/** A data file as an adapter sees it: what the file is called and what it holds, without rows. */
export interface CandidateFile extends DataFile {
  /** The file name without folder and extension, lowercase ("positions" for Positions.parquet). */
  stem: string;
  /** The canonical table its path names (inputs/naming.ts namedTable; bars when no component names one). */
  tableByName: TableKind;
  /** Columns of a tabular file (Parquet, Arrow IPC, CSV) as DuckDB reads them; [] for JSON. */
  columns: ColumnInfo[];
  /** Top-level keys of a JSON object file; [] for other files and for a top-level array. */
  jsonKeys: string[];
}

/**
 * The run of a file's rows when its tool names none: the file's folder when the input holds one
 * backtest per folder (inputs/run-folders.ts markRunFolders), else the dataset's one run.
 */
export function runOfFile(file: DataFile): string {
  return file.runFolder ?? DEFAULT_RUN_ID;
}

/**
 * How sure a detection is. `certain`: names only this tool writes (e.g. pyfolio's wide positions
 * with `cash`, Lean's `totalPerformance`); `likely`: the tool's usual names, but another tool could
 * write them too. A `likely` detection never takes a file that a `certain` one of another adapter
 * wants (formats/index.ts).
 */
export type Confidence = 'certain' | 'likely';

export interface Detection<Plan> {
  /** The files this adapter takes; they are not read the canonical way. */
  files: CandidateFile[];
  confidence: Confidence;
  /** The adapter's own account of what it found: which file plays which part, which columns. */
  plan: Plan;
}

/** What an adapter recognised, in words and as data (for `tickscope inspect --json`). */
export interface FormatDescription {
  /** The adapter's label and the files, one line: "zipline/pyfolio frames: returns.parquet, ...". */
  summary: string;
  /** Per claimed file: the part it plays and the columns read for it (canonical -> input). */
  files: { path: string; role: string; columns: Record<string, string> }[];
  /** Canonical tables this format cannot give (e.g. bars of a portfolio-only backtest), and why. */
  missing: { table: string; why: string }[];
}

/** Where and how a stage writes. */
export interface StageContext {
  con: DuckDBConnection;
  /** The dataset description (tickscope.json or --mapping): timezone, capital, column names. */
  description: DatasetDescription;
  /** A temporary table of this adapter, as a relation to create: always name staged tables with it. */
  table(name: string): string;
  /** One claimed file as a relation (Parquet, CSV, JSON read in place; Arrow IPC staged first). */
  read(file: CandidateFile): Promise<string>;
  /**
   * The contract multiplier the symbols input gives the symbol `symbol` (an SQL expression), as
   * SQL (1 for a symbol without one); null when it gives none at all (multipliers.ts). For what
   * an adapter computes from prices: a position's value, a P&L from a price move.
   */
  multiplier(symbol: string): string | null;
}

/**
 * What a stage produced: temporary relations with canonical columns, one per canonical table the
 * format gives. A table left out is read from the canonical input files, if any (a dataset may
 * mix a tool's frames with, say, a symbols.parquet of sectors).
 */
export interface StagedTables {
  bars?: string;
  trades?: string;
  /** Runs: run_id, name, params, and `capital` when the format states one. */
  runs?: string;
  symbols?: string;
  /** Benchmark: ts, and `return` or `price`. */
  benchmark?: string;
  /** Where each derived quantity came from, e.g. "capital: first day's positions + cash". */
  sources: string[];
}

export interface FormatAdapter<Plan> {
  /** Stable id, used in the store's records and `inspect --json`: "pyfolio". */
  readonly id: string;
  /** What users call the format: "zipline/pyfolio frames". */
  readonly label: string;
  /**
   * The files among `files` this format recognises by their names and columns; null if none.
   * `earlier`: the formats recognised before it, which claimed their files from `files`.
   */
  detect(files: readonly CandidateFile[], earlier: readonly Recognised[]): Detection<Plan> | null;
  describe(detection: Detection<Plan>): FormatDescription;
  /** Writes the detection's rows into temporary canonical tables (rules in the header). */
  stage(detection: Detection<Plan>, ctx: StageContext): Promise<StagedTables>;
}

/** A detection together with the adapter that made it, as the registry hands it on. */
export interface Recognised {
  adapter: FormatAdapter<unknown>;
  detection: Detection<unknown>;
}

/** Whether the file's name (its stem) is one of `stems`, alone or before `_` or `-` (transactions_2024). */
export function stemIs(file: CandidateFile, stems: readonly string[]): boolean {
  return stems.some((s) => file.stem === s || file.stem.startsWith(`${s}_`) || file.stem.startsWith(`${s}-`));
}

/**
 * The first column of `file` whose name, compared as mapping.ts compares names, is one of `names`
 * (in order): as written, else by its camelCase words (TradePrice is trade_price).
 */
export function findColumn(file: CandidateFile, names: readonly string[]): ColumnInfo | undefined {
  for (const n of names) {
    const c = file.columns.find((col) => normalise(col.name) === n) ?? file.columns.find((col) => camelWords(col.name) === n);
    if (c) return c;
  }
  return undefined;
}
