// What each data file holds, read without its rows: the CandidateFiles the adapters detect from
// (adapter.ts), and the relation any one file is read as.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../../shared/errors.js';
import { fileReader, sqlIdent, sqlString } from '../../sql/text.js';
import { inflatedBytes } from '../archives/index.js';
import { readArrowSchema, stageArrowFiles } from '../arrow-ipc/index.js';
import { familyOf, type ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { TABLE_KINDS, type DataFile, type ResolvedInputs } from '../inputs/index.js';
import { readParquetSchemas } from '../parquet.js';
import type { CandidateFile } from './adapter.js';

/** Above this size a JSON file's keys are not read for detection (a result JSON is a few MB). */
const JSON_KEYS_MAX_BYTES = 256 * 1024 * 1024;

/** The columns of a CSV or JSON file as DuckDB's readers sniff them (from a sample of rows). */
export async function readTextSchema(con: DuckDBConnection, file: DataFile, hive: boolean): Promise<ColumnInfo[]> {
  const format = file.format === 'csv' ? 'csv' : 'json';
  try {
    const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${fileReader(format, [file.path], { hive, ...(file.csv ? { csv: file.csv } : {}) })}`);
    return r.getRowObjectsJson().map((row) => ({ name: String(row['column_name']), type: String(row['column_type']) }));
  } catch (err) {
    throw new PrepareError(`${format.toUpperCase()} input ${file.path} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
}

/** A sniffed date or timestamp format that starts with the day or the month (01/02/2024). */
const DAY_MONTH_FIRST = /^%[dm]/;

/** A number with a decimal comma, thousands grouped by dots or not: 185,10 or 1.225,00. */
const DECIMAL_COMMA = /^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$/;
/** A decimal comma no locale reads as a thousands separator: not three digits after it, or dots between thousands before it. */
const UNAMBIGUOUS_DECIMAL_COMMA = /^[+-]?(\d{1,3}(\.\d{3})+,\d+|\d+,(\d{1,2}|\d{4,}))$/;

/** Rows of a semicolon-separated file looked at for decimal commas. */
const DECIMAL_SAMPLE_ROWS = 100;

/**
 * A CSV file's columns, and how it must be read (DataFile.csv, set here) where DuckDB's sniffer
 * would misread it:
 * - dates or timestamps with the day or the month first: on values that fit both orders the
 *   sniffer takes the day first (01/02/2024 09:35 is 1 February), from a sample of this one file.
 *   Read as text instead, their order is decided by text-dates.ts over every value of the column,
 *   with the dataset's `dateOrder`;
 * - decimal commas (185,10) in a semicolon-separated file, as a spreadsheet in a European locale
 *   exports it, or in a tab-separated one where a comma cannot be a thousands separator: the
 *   sniffer reads them as text; read with `decimal_separator`, and what is still text (1.225,00)
 *   is a number with dots between thousands (ColumnInfo.decimalComma).
 */
async function readCsvSchema(con: DuckDBConnection, file: DataFile, hive: boolean): Promise<ColumnInfo[]> {
  let columns = await readTextSchema(con, file, hive);
  let textColumns: string[];
  let decimalComma: boolean;
  try {
    const sniffed = (await con.runAndReadAll(`SELECT Delimiter, DateFormat, TimestampFormat FROM sniff_csv(${sqlString(file.path)})`)).getRowsJson()[0] ?? [];
    const [delimiter, dateFormat, timestampFormat] = sniffed;
    const dayMonth = (format: unknown) => typeof format === 'string' && DAY_MONTH_FIRST.test(format);
    // Naive ones only: a zoned day-first timestamp keeps the sniffer's reading (text-dates.ts reads no offsets).
    textColumns = columns.filter((c) => (dayMonth(dateFormat) && c.type === 'DATE') || (dayMonth(timestampFormat) && c.type === 'TIMESTAMP')).map((c) => c.name);
    // A tab-separated file (a table copied from a terminal) may be either locale's: there a comma
    // is taken for a decimal mark only where it cannot be a thousands separator (0,10; 1.225,00).
    decimalComma =
      (delimiter === ';' && (await hasDecimalCommas(con, file, hive, columns, DECIMAL_COMMA))) ||
      (delimiter === '\t' && (await hasDecimalCommas(con, file, hive, columns, UNAMBIGUOUS_DECIMAL_COMMA)));
  } catch (err) {
    throw new PrepareError(`CSV input ${file.path} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  if (textColumns.length === 0 && !decimalComma) return columns;
  file.csv = { ...(textColumns.length ? { textColumns } : {}), ...(decimalComma ? { decimalComma } : {}) };
  columns = await readTextSchema(con, file, hive);
  return decimalComma ? columns.map((c) => (c.type === 'VARCHAR' ? { ...c, decimalComma } : c)) : columns;
}

/** Whether a file's text columns hold decimal commas, and none of its columns a decimal point. */
async function hasDecimalCommas(con: DuckDBConnection, file: DataFile, hive: boolean, columns: readonly ColumnInfo[], pattern: RegExp): Promise<boolean> {
  if (columns.some((c) => familyOf(c) === 'float')) return false;
  const text = columns.filter((c) => c.type === 'VARCHAR');
  if (text.length === 0) return false;
  const rows = (await con.runAndReadAll(`SELECT ${text.map((c) => sqlIdent(c.name)).join(', ')} FROM ${fileReader('csv', [file.path], { hive })} LIMIT ${DECIMAL_SAMPLE_ROWS}`)).getRowsJson();
  return rows.some((row) => row.some((v) => typeof v === 'string' && pattern.test(v.trim())));
}

async function jsonKeysOf(file: DataFile): Promise<string[]> {
  const lower = file.path.toLowerCase();
  // A compressed document is inflated here as DuckDB inflates it when it reads the rows.
  const compression = lower.endsWith('.json.gz') ? 'gzip' : lower.endsWith('.json.zst') ? 'zstd' : null;
  if (file.size > JSON_KEYS_MAX_BYTES || !(lower.endsWith('.json') || compression)) return [];
  let text: string;
  try {
    const bytes = compression ? await inflatedBytes(file.path, compression, JSON_KEYS_MAX_BYTES) : await readFile(file.path);
    // Inflated past the bound: read as rows, as a plain document past it is.
    if (bytes === null) return [];
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof PrepareError) throw err;
    throw new PrepareError(`JSON input ${file.path} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PrepareError(`JSON input ${file.path} is not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? Object.keys(parsed) : [];
}

/**
 * A part file's name says nothing (pandas, pyarrow, Spark and Polars write `part-0.parquet`,
 * `part-00000-<uuid>.snappy.parquet`, `data_0.parquet`, `0.parquet`): its folder names the frame.
 */
const PART_FILE = /^(part|data|chunk)?[-_.]?[0-9a-f-]*$/;

/** The name of the frame a file holds: its own name, or its folder's for a part file (hive folders skipped). */
function stemOf(file: string): string {
  const base = path.basename(file).toLowerCase();
  const dot = base.indexOf('.');
  const own = dot > 0 ? base.slice(0, dot) : base;
  if (!PART_FILE.test(own) && !own.startsWith('part-')) return own;
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const name = path.basename(dir).toLowerCase();
    if (!name.includes('=')) return name;
  }
  return own;
}

/** Every file of the inputs, with its columns (or JSON keys). */
export async function readCandidates(con: DuckDBConnection, resolved: ResolvedInputs): Promise<CandidateFile[]> {
  const out: CandidateFile[] = [];
  for (const kind of TABLE_KINDS) {
    const src = resolved.sources[kind];
    if (!src) continue;
    // Parquet footers are read together; a loose file's alone, since it may not be readable.
    const parquet = src.files.filter((f) => f.format === 'parquet' && !f.loose);
    const parquetColumns = parquet.length ? await readParquetSchemas(con, parquet) : new Map<string, ColumnInfo[]>();
    for (const f of src.files) {
      const hive = Object.keys(f.hive).length > 0;
      let columns: ColumnInfo[] = [];
      let jsonKeys: string[] = [];
      try {
        if (f.format === 'parquet') columns = parquetColumns.get(f.path) ?? (await readParquetSchemas(con, [f])).get(f.path) ?? [];
        else if (f.format === 'csv') columns = await readCsvSchema(con, f, hive);
        else if (f.format === 'json') {
          jsonKeys = await jsonKeysOf(f);
          if (jsonKeys.length === 0) columns = await readTextSchema(con, f, hive);
        } else columns = await readArrowSchema(f);
      } catch (err) {
        // A loose file (inputs/: a JSON document in a folder, an archive's member no name
        // assigns) that cannot be read is not data: no adapter claims it, and it is left out.
        // One named as data must be readable.
        if (!f.loose) throw err;
      }
      out.push({ ...f, stem: stemOf(f.path), tableByName: kind, columns, jsonKeys });
    }
  }
  return out;
}

/**
 * The columns readCandidates read, by path, for the inspection of the tables (table-input.ts) not
 * to read the same footers and sniff the same CSVs again: every file's but a JSON object file's
 * (its keys were read, not its columns) and a loose file's that could not be read.
 */
export function knownColumns(files: readonly CandidateFile[]): Map<string, ColumnInfo[]> {
  return new Map(files.filter((f) => f.jsonKeys.length === 0 && (!f.loose || f.columns.length > 0)).map((f) => [f.path, f.columns] as const));
}

/**
 * One tabular file as a relation DuckDB can read: Parquet, CSV and JSON records directly, Arrow
 * IPC staged into the temporary table `stagingTable` (a plain name) first (there is no Arrow reader in DuckDB without an extension).
 */
export async function fileRelation(con: DuckDBConnection, file: CandidateFile, stagingTable: string): Promise<string> {
  const hive = Object.keys(file.hive).length > 0;
  switch (file.format) {
    case 'parquet':
      return fileReader('parquet', [file.path], { hive });
    case 'csv':
      return fileReader('csv', [file.path], { hive, ...(file.csv ? { csv: file.csv } : {}) });
    case 'json':
      return fileReader('json', [file.path], { hive });
    case 'arrow-file':
    case 'arrow-stream': {
      const usable = file.columns.filter((c) => !c.unsupported).map((c) => c.name).filter((n) => !(n in file.hive));
      await stageArrowFiles(con, stagingTable, [file], { columns: usable, hiveKeys: Object.keys(file.hive), onRows: () => {} });
      return `temp.main.${sqlIdent(stagingTable)}`;
    }
  }
}
