// The checks of the base tables once built, and what names the culprit when one fails: the input
// files holding the offending rows (locate), or the file that fails to read on its own (probe).
// Every failure is a PrepareError naming the file(s) and the column.
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { StoreTable } from '../store/format.js';
import { sqlString } from '../sql/text.js';
import { PrepareError } from './errors.js';
import { tableExprs, type ExprContext } from './expressions.js';
import { sourceLabel, type DataFile } from './inputs.js';
import type { Progress } from './progress.js';
import { readParquetFiles, stagedArrowRelation, type TableInput } from './table-input.js';

/** A condition over the canonical columns, given as expressions by `col`. */
type RowCondition = (col: (canon: string) => string) => string;

/** The input files of `t` holding rows that meet `cond`; at most 3. */
export type Locate = (t: TableInput, cond: RowCondition) => Promise<string[]>;

/** Locates rows in the input files, with the build's expressions of their columns. */
export function rowLocator(con: DuckDBConnection, ctx: ExprContext): Locate {
  return async (t, cond) => {
    const exprs = tableExprs(t, ctx);
    const col = (k: string) => `(${exprs[k] ?? 'NULL'})`;
    const found: string[] = [];
    try {
      if (t.parquet.length) {
        const r = await con.runAndReadAll(`SELECT DISTINCT filename FROM ${readParquetFiles(t, t.parquet, { unionByName: true, filename: true })}
          WHERE ${cond(col)} LIMIT 3`);
        found.push(...r.getRowsJson().map((row) => String(row[0])));
      }
      if (t.arrow.length && found.length < 3) {
        // Staged Arrow rows no longer know their file; name the Arrow inputs of the table.
        const r = await con.runAndReadAll(`SELECT count(*) FROM ${stagedArrowRelation(t.source.kind)} WHERE ${cond(col)}`);
        if (Number(r.getRowsJson()[0]?.[0] ?? 0) > 0) found.push(...t.arrow.map((f) => f.path).slice(0, 3 - found.length));
      }
    } catch {
      // Locating is a courtesy: without it, the check's error still names the table's input.
    }
    return found;
  };
}

/** After a failed read of a table: which file fails on its own, with DuckDB's message. */
export async function probeFiles(con: DuckDBConnection, t: TableInput, ctx: ExprContext, err: unknown): Promise<PrepareError | null> {
  const list = Object.values(tableExprs(t, ctx)).join(', ');
  for (const f of t.parquet) {
    try {
      await con.run(`SELECT bit_xor(hash(${list})) FROM ${readParquetFiles(t, [f])}`);
    } catch (e) {
      const msg = errorMessage(e);
      const col = /Could not convert|Conversion Error|Invalid Input Error/.test(msg) ? ' (a value does not convert to its column type)' : '';
      return new PrepareError(`${t.source.kind} in ${f.path}: cannot be read${col}: ${msg}`, { cause: e });
    }
  }
  return t.parquet.length + t.arrow.length > 0
    ? new PrepareError(`${t.source.kind} in ${sourceLabel(t.source)}: cannot be read: ${errorMessage(err)}`, { cause: err })
    : null;
}

function filesNote(files: string[], t: TableInput): string {
  return files.length ? `in ${files.join(', ')}` : `in ${sourceLabel(t.source)}`;
}

/**
 * If the bars files, each read in its own order and taken one after the other in the order of their
 * first keys, give strictly increasing (run_id, symbol, ts) keys, returns the files in that order;
 * otherwise null. One probe per file for its first key, then one streaming pass (DuckDB's streaming
 * window keeps storage order) that stops at the first key not above the one before it. Strictly
 * increasing keys are sorted and free of duplicates and nulls.
 */
export async function presortedOrder(con: DuckDBConnection, bars: TableInput, ctx: ExprContext, progress: Progress): Promise<DataFile[] | null> {
  const e = tableExprs(bars, ctx);
  const keys = `${e.run_id} AS run_id, ${e.symbol} AS symbol, ${e.ts} AS ts`;
  try {
    const probes = bars.parquet
      .map((f, i) => `SELECT ${i} AS i, * FROM (SELECT ${keys} FROM ${readParquetFiles(bars, [f])} LIMIT 1)`)
      .join(' UNION ALL ');
    const first = (await con.runAndReadAll(`SELECT i FROM (${probes}) ORDER BY run_id, symbol, ts`)).getRowsJson().map((r) => Number(r[0]));
    const seen = new Set(first);
    // Files with no rows go anywhere; put them last.
    const ordered = [...first, ...bars.parquet.map((_, i) => i).filter((i) => !seen.has(i))].map((i) => bars.parquet[i]!);
    progress.update(0.05);
    const r = await con.runAndReadAll(`SELECT 1 FROM (
        SELECT run_id, symbol, ts, lag(run_id) OVER () AS pr, lag(symbol) OVER () AS ps, lag(ts) OVER () AS pt, row_number() OVER () AS n
        FROM (SELECT ${keys} FROM ${readParquetFiles(bars, ordered, { unionByName: true })}))
      WHERE run_id IS NULL OR symbol IS NULL OR ts IS NULL
        OR (n > 1 AND NOT (run_id > pr OR (run_id = pr AND (symbol > ps OR (symbol = ps AND ts > pt)))))
      LIMIT 1`);
    progress.update(1);
    return r.getRowsJson().length === 0 ? ordered : null;
  } catch {
    // Whatever failed here fails again, with its file named, in the regular path.
    return null;
  }
}

const BAR_NUMBERS = ['price', 'position_qty', 'position_value', 'trade_qty', 'fees', 'pnl'] as const;

/**
 * The bars table: rows, no null keys, finite timestamps and numbers, and (unless the build proved
 * the keys strictly increasing) no duplicate (run_id, symbol, ts).
 */
export async function checkBars(con: DuckDBConnection, bars: TableInput, locate: Locate, progress: Progress, lookForDuplicates: boolean): Promise<void> {
  const colName = (k: string) => bars.resolved.get(k)?.name ?? (k === 'run_id' ? '(none: default run)' : `(derived ${k})`);
  const filters = [
    `count(*) AS n`,
    ...['run_id', 'symbol', 'ts', 'price', 'position_qty', 'pnl'].map((k) => `count(*) FILTER (WHERE ${k} IS NULL) AS null_${k}`),
    `count(*) FILTER (WHERE NOT isfinite(ts)) AS inf_ts`,
    ...BAR_NUMBERS.map((k) => `count(*) FILTER (WHERE NOT isfinite(${k})) AS nonfinite_${k}`),
  ];
  const [row] = (await con.runAndReadAll(`SELECT ${filters.join(', ')} FROM ${StoreTable.bars}`)).getRowObjectsJson();
  progress.update(0.4);
  if (!row || Number(row['n']) === 0) throw new PrepareError(`bars in ${sourceLabel(bars.source)}: no rows`);
  for (const k of ['run_id', 'symbol', 'ts'] as const) {
    const n = Number(row[`null_${k}`]);
    if (n > 0) {
      const files = await locate(bars, (e) => `${e(k)} IS NULL`);
      throw new PrepareError(`bars ${filesNote(files, bars)}: key column '${colName(k)}' (${k}) has ${n} null value(s)`);
    }
  }
  if (Number(row['inf_ts']) > 0) {
    const files = await locate(bars, (e) => `NOT isfinite(${e('ts')})`);
    throw new PrepareError(`bars ${filesNote(files, bars)}: column '${colName('ts')}' (ts) has ${String(row['inf_ts'])} infinite timestamp(s)`);
  }
  for (const k of BAR_NUMBERS) {
    const nulls = Number(row[`null_${k}`] ?? 0);
    if (nulls > 0) {
      const files = await locate(bars, (e) => `${e(k)} IS NULL`);
      throw new PrepareError(`bars ${filesNote(files, bars)}: column '${colName(k)}' (${k}) has ${nulls} null value(s); it is required on every bar`);
    }
    const bad = Number(row[`nonfinite_${k}`]);
    if (bad > 0) {
      const [ex] = (await con.runAndReadAll(`SELECT run_id, symbol, ts::VARCHAR AS ts, ${k}::VARCHAR AS v FROM ${StoreTable.bars} WHERE NOT isfinite(${k}) LIMIT 1`)).getRowObjectsJson();
      const files = await locate(bars, (e) => `NOT isfinite(${e(k)})`);
      throw new PrepareError(
        `bars ${filesNote(files, bars)}: column '${colName(k)}' (${k}) has ${bad} NaN or infinite value(s), e.g. ${String(ex?.['v'])} at (run_id, symbol, ts) = (${String(ex?.['run_id'])}, ${String(ex?.['symbol'])}, ${String(ex?.['ts'])})`,
      );
    }
  }
  progress.update(0.6);
  if (!lookForDuplicates) {
    progress.update(1);
    return;
  }
  // Duplicate keys. The table is sorted by (run_id, symbol, ts), so a duplicate is the same key as
  // the row before it: one streaming pass in storage order (DuckDB's streaming window keeps the
  // insertion order of an empty OVER ()), no hash table of 100M+ keys.
  const dup = await con.runAndReadAll(`SELECT run_id, symbol, ts::VARCHAR AS ts FROM (
      SELECT run_id, symbol, ts, lag(run_id) OVER () AS pr, lag(symbol) OVER () AS ps, lag(ts) OVER () AS pt FROM ${StoreTable.bars})
    WHERE run_id = pr AND symbol = ps AND ts = pt LIMIT 1`);
  const d = dup.getRowObjectsJson()[0];
  if (d) {
    const sameKey: RowCondition = (col) =>
      `${col('run_id')} = ${sqlString(String(d['run_id']))} AND ${col('symbol')} = ${sqlString(String(d['symbol']))} AND ${col('ts')} = ${sqlString(String(d['ts']))}::TIMESTAMP`;
    const [cnt] = (await con.runAndReadAll(`SELECT count(*) AS n FROM ${StoreTable.bars} WHERE ${sameKey((k) => k)}`)).getRowObjectsJson();
    const files = await locate(bars, sameKey);
    throw new PrepareError(
      `bars ${filesNote(files, bars)}: duplicate key (run_id, symbol, ts) = (${String(d['run_id'])}, ${String(d['symbol'])}, ${String(d['ts'])}) appears ${String(cnt?.['n'])} times; columns ${colName('run_id')}, ${colName('symbol')}, ${colName('ts')} must be unique together`,
    );
  }
  progress.update(1);
}

const TRADE_NUMBERS = ['qty', 'entry_price', 'exit_price', 'fees', 'pnl', 'ret', 'mae', 'mfe'] as const;

/** The trades table: symbols and entry times, finite timestamps and numbers, unique trade ids. */
export async function checkTrades(con: DuckDBConnection, t: TableInput, locate: Locate): Promise<void> {
  const colName = (k: string) => t.resolved.get(k)?.name ?? k;
  const [row] = (
    await con.runAndReadAll(`SELECT count(*) FILTER (WHERE symbol IS NULL) AS null_symbol, count(*) FILTER (WHERE entry_ts IS NULL) AS null_entry_ts,
        count(*) FILTER (WHERE NOT isfinite(entry_ts) OR NOT isfinite(exit_ts)) AS inf_ts,
        ${TRADE_NUMBERS.map((k) => `count(*) FILTER (WHERE NOT isfinite(${k})) AS nonfinite_${k}`).join(', ')}
      FROM ${StoreTable.trades}`)
  ).getRowObjectsJson();
  for (const k of ['symbol', 'entry_ts'] as const) {
    const n = Number(row?.[`null_${k}`] ?? 0);
    if (n > 0) {
      const files = await locate(t, (x) => `${x(k)} IS NULL`);
      throw new PrepareError(`trades ${filesNote(files, t)}: column '${colName(k)}' (${k}) has ${n} null value(s)`);
    }
  }
  if (Number(row?.['inf_ts'] ?? 0) > 0) {
    throw new PrepareError(`trades in ${sourceLabel(t.source)}: ${String(row?.['inf_ts'])} trade(s) have an infinite entry or exit timestamp`);
  }
  for (const k of TRADE_NUMBERS) {
    const bad = Number(row?.[`nonfinite_${k}`] ?? 0);
    if (bad > 0) {
      const files = await locate(t, (x) => `NOT isfinite(${x(k)})`);
      throw new PrepareError(`trades ${filesNote(files, t)}: column '${colName(k)}' (${k}) has ${bad} NaN or infinite value(s)`);
    }
  }
  if (t.resolved.has('trade_id')) {
    const dup = (
      await con.runAndReadAll(`SELECT run_id, trade_id, count(*) AS n FROM ${StoreTable.trades} GROUP BY run_id, trade_id HAVING count(*) > 1 LIMIT 1`)
    ).getRowObjectsJson()[0];
    if (dup) {
      throw new PrepareError(
        `trades in ${sourceLabel(t.source)}: duplicate key (run_id, trade_id) = (${String(dup['run_id'])}, ${String(dup['trade_id'])}) appears ${String(dup['n'])} times; column '${colName('trade_id')}' must be unique per run`,
      );
    }
  }
}
