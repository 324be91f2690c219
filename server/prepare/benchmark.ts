// The benchmark series of a store (benchmark_day) and what it is (meta `benchmark`), built after
// the rollups. tickscope.json's `benchmark` names a symbol of the dataset (its daily close
// returns, the closes market_day takes) or a file of returns or prices (Parquet, CSV, JSON; a
// path relative to the description's folder); without one, a `benchmark` file among the inputs
// (inputs/: benchmark.csv, a benchmark/ folder); without either the benchmark is the dataset's
// own equal-weighted market (market_day), and is named so wherever it shows. The risk-free rate of
// the description is recorded beside it: the default of every request's riskFreeRate.
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { META_TABLE, MetaKey, StoreTable } from '../store/format.js';
import { fileReader, sqlIdent, sqlString, type ReadableFormat } from '../sql/text.js';
import type { LocatedDescription } from './description.js';
import { PrepareError } from './errors.js';
import { formatByExtension, type DataFile } from './inputs/index.js';

export interface BenchmarkRecord {
  kind: 'market' | 'symbol' | 'file';
  /** What the UI calls it, e.g. "Equal-weighted market (40 symbols)", "SPY", "spx.csv". */
  name: string;
  /** Where it was stated. */
  source: string;
}

/** Column names a benchmark file may use for its time, return and price (first found wins). */
const TIME_COLUMNS = ['ts', 'date', 'day', 'timestamp', 'time', 'datetime'];
const RETURN_COLUMNS = ['return', 'ret', 'returns'];
const PRICE_COLUMNS = ['price', 'close', 'adj_close', 'value'];

/** Creates benchmark_day and writes meta's benchmark and risk_free_rate (after writeMeta). */
export async function buildBenchmark(con: DuckDBConnection, described: LocatedDescription, inputFiles: readonly DataFile[]): Promise<BenchmarkRecord> {
  const stated = described.description.benchmark;
  const record =
    stated !== undefined ? await fromStated(con, stated, described.path) : inputFiles.length > 0 ? await fromInputs(con, inputFiles) : await fromMarket(con);
  const rows: [string, string][] = [
    [MetaKey.benchmark, JSON.stringify(record)],
    [MetaKey.riskFreeRate, String(described.description.riskFreeRate ?? 0)],
  ];
  await con.run(`INSERT INTO ${META_TABLE} VALUES ${rows.map(([k, v]) => `(${sqlString(k)}, ${sqlString(v)})`).join(', ')}`);
  return record;
}

async function fromMarket(con: DuckDBConnection): Promise<BenchmarkRecord> {
  await con.run(`CREATE TABLE ${StoreTable.benchmarkDay} AS SELECT day, ret FROM ${StoreTable.marketDay} ORDER BY day`);
  const symbols = await con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${StoreTable.symbols}`);
  const n = Number(symbols.getRows()[0]?.[0] ?? 0);
  return { kind: 'market', name: `Equal-weighted market (${n} symbol${n === 1 ? '' : 's'})`, source: 'default: no benchmark in tickscope.json' };
}

async function fromStated(con: DuckDBConnection, stated: string, descriptionPath: string): Promise<BenchmarkRecord> {
  const isSymbol = await con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${StoreTable.symbols} WHERE symbol = ${sqlString(stated)}`);
  if (Number(isSymbol.getRows()[0]?.[0] ?? 0) > 0) {
    // The same closes as market_day's: the alphabetically first run holding the symbol that day.
    await con.run(`CREATE TABLE ${StoreTable.benchmarkDay} AS
      WITH closes AS (
        SELECT day, arg_min(close, run_id) AS close FROM ${StoreTable.symbolDay} WHERE symbol = ${sqlString(stated)} GROUP BY day
      )
      SELECT day, close / nullif(lag(close) OVER (ORDER BY day), 0) - 1 AS ret FROM closes ORDER BY day`);
    return { kind: 'symbol', name: stated, source: `tickscope.json benchmark: symbol ${stated} of the dataset` };
  }
  const file = statedBenchmarkPath(stated, descriptionPath);
  const byName = formatByExtension(file);
  const format: ReadableFormat | null = byName === 'arrow' ? null : byName;
  const exists = await access(file).then(() => true, () => false);
  if (!exists || !format) {
    throw new PrepareError(
      `benchmark '${stated}' in ${descriptionPath} is neither a symbol of the dataset nor a readable file (${
        exists ? `${file} is not Parquet, CSV or JSON` : `no file ${file}`
      }); name a symbol, a file of (ts, return) or (ts, price), or leave it out for the equal-weighted market`,
    );
  }
  await fromFiles(con, [file], format, `benchmark file ${file} (from ${descriptionPath})`);
  return { kind: 'file', name: path.basename(file), source: `tickscope.json benchmark: file ${file}` };
}

/** Where a `benchmark` of tickscope.json that is not a symbol would be: relative to the description's folder. */
export function statedBenchmarkPath(stated: string, descriptionPath: string): string {
  return path.resolve(path.dirname(descriptionPath), stated);
}

async function fromInputs(con: DuckDBConnection, files: readonly DataFile[]): Promise<BenchmarkRecord> {
  const formats = [...new Set(files.map((f) => f.format))];
  const format = formats[0]!;
  if (formats.length > 1 || (format !== 'parquet' && format !== 'csv' && format !== 'json')) {
    throw new PrepareError(
      `benchmark input ${files.map((f) => f.path).join(', ')} is ${formats.join(' and ')}; give the benchmark as one Parquet, CSV or JSON file (or files of one of them)`,
    );
  }
  const paths = files.map((f) => f.path);
  const label = paths.length === 1 ? paths[0]! : `${paths.length} files from ${paths[0]}`;
  await fromFiles(con, paths, format, `benchmark input ${label}`);
  return { kind: 'file', name: path.basename(paths[0]!), source: `input: ${label}` };
}

async function fromFiles(con: DuckDBConnection, files: readonly string[], format: ReadableFormat, what: string): Promise<void> {
  const relation = fileReader(format, files, { hive: false, unionByName: true });
  let columns: string[];
  try {
    const described = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`);
    columns = (described.getRows() as unknown[][]).map((r) => String(r[0]));
  } catch (err) {
    throw new PrepareError(`${what} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  const pick = (names: string[]) => columns.find((c) => names.includes(c.toLowerCase()));
  const time = pick(TIME_COLUMNS);
  const ret = pick(RETURN_COLUMNS);
  const price = pick(PRICE_COLUMNS);
  if (!time || (!ret && !price)) {
    throw new PrepareError(
      `${what} has columns ${columns.join(', ')}; it needs a time column (${TIME_COLUMNS.join(', ')}) and a return (${RETURN_COLUMNS.join(', ')}) or price (${PRICE_COLUMNS.join(', ')}) column`,
    );
  }
  // A day is the UTC date of the row's time, as the bars' days are. Returns within a day compound;
  // prices give the day's last price over the previous day's that has one.
  const day = `(${sqlIdent(time)})::TIMESTAMP::DATE`;
  const select = ret
    ? `SELECT ${day} AS day, product(1 + ${sqlIdent(ret)}::DOUBLE) - 1 AS ret FROM ${relation}
       WHERE ${sqlIdent(ret)} IS NOT NULL AND ${sqlIdent(time)} IS NOT NULL GROUP BY ALL ORDER BY day`
    : `WITH closes AS (
         SELECT ${day} AS day, arg_max(${sqlIdent(price!)}::DOUBLE, ${sqlIdent(time)}) AS close FROM ${relation}
         WHERE ${sqlIdent(price!)} IS NOT NULL AND ${sqlIdent(time)} IS NOT NULL GROUP BY ALL
       )
       SELECT day, close / nullif(lag(close) OVER (ORDER BY day), 0) - 1 AS ret FROM closes ORDER BY day`;
  try {
    await con.run(`CREATE TABLE ${StoreTable.benchmarkDay} AS ${select}`);
  } catch (err) {
    throw new PrepareError(`${what}: reading its ${ret ? `returns (${ret})` : `prices (${price})`} failed: ${errorMessage(err)}`, { cause: err });
  }
}
