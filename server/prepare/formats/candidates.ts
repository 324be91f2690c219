// What each data file holds, read without its rows: the CandidateFiles the adapters detect from
// (adapter.ts), and the relation any one file is read as.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../../shared/errors.js';
import { fileReader, sqlIdent, sqlString } from '../../sql/text.js';
import { readArrowSchema, stageArrowFiles } from '../arrow.js';
import type { ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { TABLE_KINDS, type DataFile, type ResolvedInputs } from '../inputs.js';
import { readParquetSchemas } from '../parquet.js';
import type { CandidateFile } from './adapter.js';

/** Above this size a JSON file's keys are not read for detection (a result JSON is a few MB). */
const JSON_KEYS_MAX_BYTES = 256 * 1024 * 1024;

/** The columns of a CSV or JSON file as DuckDB's readers sniff them (from a sample of rows). */
export async function readTextSchema(con: DuckDBConnection, file: DataFile, hive: boolean): Promise<ColumnInfo[]> {
  const format = file.format === 'csv' ? 'csv' : 'json';
  try {
    const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${fileReader(format, [file.path], { hive, ...(file.textColumns ? { textColumns: file.textColumns } : {}) })}`);
    return r.getRowObjectsJson().map((row) => ({ name: String(row['column_name']), type: String(row['column_type']) }));
  } catch (err) {
    throw new PrepareError(`${format.toUpperCase()} input ${file.path} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
}

/** A sniffed date or timestamp format that starts with the day or the month (01/02/2024). */
const DAY_MONTH_FIRST = /^%[dm]/;

/**
 * The columns of a CSV file that DuckDB's sniffer reads as dates or timestamps with the day or
 * the month first. On values that fit both orders it takes the day first (01/02/2024 09:35 is
 * 1 February): from a sample, for this one file. Read as text instead, their order is decided by
 * text-dates.ts over every value of the column, with the dataset's `dateOrder`.
 */
async function sniffedDayMonthColumns(con: DuckDBConnection, file: DataFile, columns: readonly ColumnInfo[]): Promise<string[]> {
  if (!columns.some((c) => c.type === 'DATE' || c.type.startsWith('TIMESTAMP'))) return [];
  const [sniffed] = (await con.runAndReadAll(`SELECT DateFormat, TimestampFormat FROM sniff_csv(${sqlString(file.path)})`)).getRowsJson();
  const dayMonth = (format: unknown) => typeof format === 'string' && DAY_MONTH_FIRST.test(format);
  const dates = dayMonth(sniffed?.[0]);
  const timestamps = dayMonth(sniffed?.[1]);
  return columns.filter((c) => (dates && c.type === 'DATE') || (timestamps && c.type.startsWith('TIMESTAMP'))).map((c) => c.name);
}

async function jsonKeysOf(file: DataFile): Promise<string[]> {
  if (file.size > JSON_KEYS_MAX_BYTES || !file.path.toLowerCase().endsWith('.json')) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file.path, 'utf8'));
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
    const parquet = src.files.filter((f) => f.format === 'parquet');
    const parquetColumns = parquet.length ? await readParquetSchemas(con, parquet) : new Map<string, ColumnInfo[]>();
    for (const f of src.files) {
      const hive = Object.keys(f.hive).length > 0;
      let columns: ColumnInfo[] = [];
      let jsonKeys: string[] = [];
      if (f.format === 'parquet') columns = parquetColumns.get(f.path) ?? [];
      else if (f.format === 'csv') {
        columns = await readTextSchema(con, f, hive);
        const textColumns = await sniffedDayMonthColumns(con, f, columns);
        if (textColumns.length) {
          f.textColumns = textColumns;
          columns = columns.map((c) => (textColumns.includes(c.name) ? { name: c.name, type: 'VARCHAR' } : c));
        }
      }
      else if (f.format === 'json') {
        try {
          jsonKeys = await jsonKeysOf(f);
          if (jsonKeys.length === 0) columns = await readTextSchema(con, f, hive);
        } catch (err) {
          // A loose JSON file (inputs.ts) that cannot be read is not data: no adapter claims it,
          // and it is left out. One named as data must be readable.
          if (!f.loose) throw err;
        }
      } else columns = await readArrowSchema(f);
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
      return fileReader('csv', [file.path], { hive, ...(file.textColumns ? { textColumns: file.textColumns } : {}) });
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
