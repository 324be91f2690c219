// The checks of the base tables once built, and what names the culprit when one fails: the input
// files holding the offending rows (locate), or the file that fails to read on its own (probe).
// Bad rows (null keys, NaN, duplicate keys...) are each reported, with counts and examples, to the
// build's DataQuality (data-quality.ts), which drops them or refuses them all in one error; every
// other failure is a PrepareError naming the file(s) and the column.
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { StoreTable } from '../store/format.js';
import { sqlIdent, sqlString } from '../sql/text.js';
import { familyOf, type ColumnInfo } from './column-types.js';
import { DataQuality, EXAMPLES_KEPT } from './data-quality.js';
import { PrepareError } from './errors.js';
import { tableExprs, type ExprContext } from './expressions.js';
import { sourceLabel, type DataFile } from './inputs/index.js';
import { COLUMNS } from './mapping.js';
import type { Progress } from './progress.js';
import { readParquetFiles, stagedArrowRelation } from './table-input.js';
import type { TableInput } from './table-input-shape.js';
import { MISSING_TIME_TEXT } from './text-dates.js';

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
const BAR_KEY = ['run_id', 'symbol', 'ts'] as const;
const TRADE_NUMBERS = ['qty', 'entry_price', 'exit_price', 'fees', 'pnl', 'ret', 'mae', 'mfe'] as const;
const TRADE_KEY = ['run_id', 'trade_id', 'symbol', 'entry_ts'] as const;

/** One kind of bad row: which column, what is wrong, and the condition over canonical columns. */
interface RowRule {
  column: string | null;
  problem: string;
  cond: RowCondition;
  /** The sentence after "<table> in <files>: ", given the count and the first example. */
  says: (count: number, example: RowExample) => string;
  /** Another problem whose rows this rule meets again (text that is not a timestamp is read as
   * NULL): those rows are reported once, under that problem. */
  overlaps?: string;
}

const UNPARSABLE_TIMESTAMP = 'unparsable timestamp';

interface RowExample {
  /** The row's key, e.g. "(run_id, symbol, ts) = (r1, AAA, 2024-01-02 14:40:00)". */
  key: string;
  /** The offending value as text. */
  value: string;
}

/** The name of a canonical column in the input, for messages. */
function inputName(t: TableInput, k: string): string {
  return t.resolved.get(k)?.name ?? (k === 'run_id' ? '(none: default run)' : `(derived ${k})`);
}

/**
 * Counts the rows of `table` breaking each rule (one pass), reports each rule broken to `quality`
 * with its first examples and the input files holding them, and under "drop" deletes those rows.
 */
async function applyRowRules(
  con: DuckDBConnection,
  t: TableInput,
  table: string,
  key: readonly string[],
  rules: readonly RowRule[],
  locate: Locate,
  quality: DataQuality,
): Promise<void> {
  const own = (k: string) => k;
  const [row] = (await con.runAndReadAll(`SELECT ${rules.map((r, i) => `count(*) FILTER (WHERE ${r.cond(own)}) AS n${i}`).join(', ')} FROM ${table}`)).getRowsJson();
  const broken = rules.map((rule, i) => ({ rule, count: Number(row?.[i] ?? 0) })).filter((b) => b.count > 0);
  for (const { rule, count: all } of broken) {
    // Under "drop" the overlapping rows went before the build (checkTimestampText): none to discount.
    const count = all - (rule.overlaps && rule.column && !quality.dropping ? quality.countOf(t.source.kind, rule.column, rule.overlaps) : 0);
    if (count <= 0) continue;
    const value = rule.column ? `${rule.column}::VARCHAR` : 'NULL';
    const rows = (await con.runAndReadAll(`SELECT ${key.map((k) => `${k}::VARCHAR`).join(', ')}, ${value} FROM ${table} WHERE ${rule.cond(own)} LIMIT ${EXAMPLES_KEPT}`)).getRowsJson();
    const examples = rows.map((r) => ({ key: `(${key.join(', ')}) = (${r.slice(0, key.length).map(String).join(', ')})`, value: String(r[key.length]) }));
    const files = await locate(t, rule.cond);
    quality.badRows({
      table: t.source.kind,
      column: rule.column,
      problem: rule.problem,
      count,
      examples: examples.map((e) => (rule.column ? `${e.key}: ${rule.column} = ${e.value}` : e.key)),
      message: `${t.source.kind} ${filesNote(files, t)}: ${rule.says(count, examples[0] ?? { key: '?', value: '?' })}`,
    });
  }
  if (quality.dropping && broken.length) {
    await con.run(`DELETE FROM ${table} WHERE ${broken.map((b) => `(${b.rule.cond(own)})`).join(' OR ')}`);
  }
}

/** Under "drop", refuses a table that has no rows left. */
async function checkRowsLeft(con: DuckDBConnection, t: TableInput, table: string, quality: DataQuality): Promise<void> {
  if (!quality.dropping) return;
  const [row] = (await con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${table}`)).getRowsJson();
  if (Number(row?.[0] ?? 0) === 0) {
    throw new PrepareError(`${t.source.kind} in ${sourceLabel(t.source)}: no rows left after dropping bad rows (${quality.entries.map((e) => e.message).join('; ')})`);
  }
}

/**
 * The bars table: rows, no null keys, finite timestamps and numbers, and (unless the build proved
 * the keys strictly increasing) no duplicate (run_id, symbol, ts). Every problem goes to `quality`:
 * under "drop" its rows are deleted (the first copy of a duplicated key is kept), under "fail"
 * the build refuses them all at once after the trades are checked too.
 */
export async function checkBars(con: DuckDBConnection, bars: TableInput, locate: Locate, progress: Progress, lookForDuplicates: boolean, quality: DataQuality): Promise<void> {
  const colName = (k: string) => inputName(bars, k);
  const [count] = (await con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${StoreTable.bars}`)).getRowsJson();
  if (Number(count?.[0] ?? 0) === 0) throw new PrepareError(`bars in ${sourceLabel(bars.source)}: no rows`);
  const rules: RowRule[] = [
    ...BAR_KEY.map((k): RowRule => ({
      column: k,
      problem: 'null key',
      cond: (e) => `${e(k)} IS NULL`,
      says: (n) => `key column '${colName(k)}' (${k}) has ${n} null value(s)`,
      overlaps: UNPARSABLE_TIMESTAMP,
    })),
    {
      column: 'ts',
      problem: 'infinite timestamp',
      cond: (e) => `NOT isfinite(${e('ts')})`,
      says: (n) => `column '${colName('ts')}' (ts) has ${n} infinite timestamp(s)`,
    },
    ...(['price', 'position_qty', 'pnl'] as const).map((k): RowRule => ({
      column: k,
      problem: 'null value',
      cond: (e) => `${e(k)} IS NULL`,
      says: (n) => `column '${colName(k)}' (${k}) has ${n} null value(s); it is required on every bar`,
    })),
    // Derived columns (position_value = qty x price, ...) are NaN only where their inputs are.
    ...BAR_NUMBERS.filter((k) => bars.resolved.has(k)).map((k): RowRule => ({
      column: k,
      problem: 'NaN or infinite value',
      cond: (e) => `NOT isfinite(${e(k)})`,
      says: (n, ex) => `column '${colName(k)}' (${k}) has ${n} NaN or infinite value(s), e.g. ${ex.value} at ${ex.key}`,
    })),
  ];
  await applyRowRules(con, bars, StoreTable.bars, BAR_KEY, rules, locate, quality);
  progress.update(0.6);
  // Duplicate keys. The table is sorted by (run_id, symbol, ts), so a duplicate is the same key as
  // the row before it: one streaming pass in storage order (DuckDB's streaming window keeps the
  // insertion order of an empty OVER ()), no hash table of 100M+ keys.
  if (lookForDuplicates) {
    const repeats = `(SELECT rowid AS row_id, run_id, symbol, ts FROM (
        SELECT rowid, run_id, symbol, ts, lag(run_id) OVER () AS pr, lag(symbol) OVER () AS ps, lag(ts) OVER () AS pt FROM ${StoreTable.bars})
      WHERE run_id = pr AND symbol = ps AND ts = pt)`;
    const [extra] = (await con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${repeats}`)).getRowsJson();
    const n = Number(extra?.[0] ?? 0);
    if (n > 0) {
      const keys = (await con.runAndReadAll(`SELECT DISTINCT run_id, symbol, ts::VARCHAR AS ts FROM ${repeats} LIMIT ${EXAMPLES_KEPT}`)).getRowObjectsJson();
      const d = keys[0]!;
      const sameKey: RowCondition = (col) =>
        `${col('run_id')} = ${sqlString(String(d['run_id']))} AND ${col('symbol')} = ${sqlString(String(d['symbol']))} AND ${col('ts')} = ${sqlString(String(d['ts']))}::TIMESTAMP`;
      const [cnt] = (await con.runAndReadAll(`SELECT count(*) AS n FROM ${StoreTable.bars} WHERE ${sameKey((k) => k)}`)).getRowObjectsJson();
      const files = await locate(bars, sameKey);
      quality.badRows({
        table: 'bars',
        column: null,
        problem: 'duplicate key',
        count: n,
        examples: keys.map((k) => `(run_id, symbol, ts) = (${String(k['run_id'])}, ${String(k['symbol'])}, ${String(k['ts'])})`),
        message: `bars ${filesNote(files, bars)}: duplicate key (run_id, symbol, ts) = (${String(d['run_id'])}, ${String(d['symbol'])}, ${String(d['ts'])}) appears ${String(cnt?.['n'])} times (${n} row(s) in all repeat a key); columns ${colName('run_id')}, ${colName('symbol')}, ${colName('ts')} must be unique together`,
      });
      // The first copy of each key stays: the rows deleted are those repeating the row before.
      if (quality.dropping) await con.run(`DELETE FROM ${StoreTable.bars} WHERE rowid IN (SELECT row_id FROM ${repeats})`);
    }
  }
  await checkRowsLeft(con, bars, StoreTable.bars, quality);
  progress.update(1);
}


/**
 * Text timestamp columns holding text that is not a timestamp (nor a missing time), counted over
 * the input before the build (which reads such text as NULL, expressions.ts). Each column's are bad
 * rows, every timestamp column alike: under "fail" they are refused with the rest; under "drop"
 * the rows go from the table's input relation before it is built, so that no unparsable time is
 * read as a missing one (an unparsable exit time would make a closed trade look open).
 */
export async function checkTimestampText(con: DuckDBConnection, t: TableInput, ctx: ExprContext, locate: Locate, quality: DataQuality): Promise<void> {
  const exprs = tableExprs(t, ctx);
  const textual = [...t.resolved].filter(([canon, c]) => COLUMNS[t.source.kind][canon]?.kind === 'timestamp' && familyOf(c) === 'string');
  if (textual.length === 0) return;
  const missingText = MISSING_TIME_TEXT.map(sqlString).join(', ');
  const unparsable = (canon: string, c: ColumnInfo, col: (k: string) => string) =>
    `(${sqlIdent(c.name)} IS NOT NULL AND lower(trim(${sqlIdent(c.name)}::VARCHAR)) NOT IN (${missingText}) AND ${col(canon)} IS NULL)`;
  const own = (k: string) => `(${exprs[k]!})`;
  const [row] = (
    await con.runAndReadAll(`SELECT ${textual.map(([canon, c], i) => `count(*) FILTER (WHERE ${unparsable(canon, c, own)}) AS n${i}`).join(', ')} FROM ${t.relation}`)
  ).getRowsJson();
  const found: string[] = [];
  for (const [i, [canon, c]] of textual.entries()) {
    const count = Number(row?.[i] ?? 0);
    if (count === 0) continue;
    found.push(unparsable(canon, c, own));
    const examples = (await con.runAndReadAll(`SELECT ${sqlIdent(c.name)}::VARCHAR FROM ${t.relation} WHERE ${unparsable(canon, c, own)} LIMIT ${EXAMPLES_KEPT}`))
      .getRowsJson()
      .map((r) => String(r[0]));
    const files = await locate(t, (col) => unparsable(canon, c, col));
    quality.badRows({
      table: t.source.kind,
      column: canon,
      problem: UNPARSABLE_TIMESTAMP,
      count,
      examples: examples.map((x) => `${c.name} = ${JSON.stringify(x)}`),
      message: `${t.source.kind} ${filesNote(files, t)}: column '${c.name}' (${canon}) has ${count} value(s) that are not timestamps, e.g. ${JSON.stringify(examples[0] ?? '')}`,
    });
  }
  if (quality.dropping && found.length) t.relation = `(SELECT * FROM ${t.relation} WHERE NOT (${found.join(' OR ')}))`;
}

/**
 * A trade list's totals line, as exports and spreadsheets end one (`Total,,,,,-15.00`): no entry
 * time, and a label where the symbol goes. It is not a trade, and its P&L is the trades' again.
 */
const TOTALS_LINE = `entry_ts IS NULL AND regexp_matches(lower(trim(symbol::VARCHAR)), '^(grand )?totals?:?$|^sum$|^summary$')`;

/** The trades table: symbols and entry times, finite timestamps and numbers, unique trade ids. */
export async function checkTrades(con: DuckDBConnection, t: TableInput, locate: Locate, quality: DataQuality): Promise<void> {
  const colName = (k: string) => t.resolved.get(k)?.name ?? k;
  const [totals] = (await con.runAndReadAll(`SELECT count(*)::DOUBLE, any_value(symbol) FROM ${StoreTable.trades} WHERE ${TOTALS_LINE}`)).getRowsJson();
  if (Number(totals?.[0] ?? 0) > 0) {
    const n = Number(totals![0]);
    quality.finding({
      table: 'trades',
      column: 'symbol',
      problem: 'totals line',
      count: n,
      examples: [`${colName('symbol')} = ${JSON.stringify(String(totals![1]))} with no ${colName('entry_ts')}`],
      message: `trades in ${sourceLabel(t.source)}: ${n} totals line(s) (${colName('symbol')} '${String(totals![1])}', no ${colName('entry_ts')}) left out: not trades, and their P&L is the trades' again`,
    });
    await con.run(`DELETE FROM ${StoreTable.trades} WHERE ${TOTALS_LINE}`);
  }
  const rules: RowRule[] = [
    ...(['symbol', 'entry_ts'] as const).map((k): RowRule => ({
      column: k,
      problem: 'null value',
      cond: (e) => `${e(k)} IS NULL`,
      says: (n) => `column '${colName(k)}' (${k}) has ${n} null value(s)`,
      overlaps: UNPARSABLE_TIMESTAMP,
    })),
    ...(['entry_ts', 'exit_ts'] as const).map((k): RowRule => ({
      column: k,
      problem: 'infinite timestamp',
      cond: (e) => `NOT isfinite(${e(k)})`,
      says: (n) => `column '${colName(k)}' (${k}) has ${n} infinite timestamp(s)`,
    })),
    ...TRADE_NUMBERS.map((k): RowRule => ({
      column: k,
      problem: 'NaN or infinite value',
      cond: (e) => `NOT isfinite(${e(k)})`,
      says: (n, ex) => `column '${colName(k)}' (${k}) has ${n} NaN or infinite value(s), e.g. ${ex.value} at ${ex.key}`,
    })),
  ];
  await applyRowRules(con, t, StoreTable.trades, TRADE_KEY, rules, locate, quality);
  if (t.resolved.has('trade_id')) {
    const repeats = `(SELECT row_id, run_id, trade_id FROM (
        SELECT rowid AS row_id, run_id, trade_id, row_number() OVER (PARTITION BY run_id, trade_id ORDER BY rowid) AS copy FROM ${StoreTable.trades})
      WHERE copy > 1)`;
    const [extra] = (await con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${repeats}`)).getRowsJson();
    const n = Number(extra?.[0] ?? 0);
    if (n > 0) {
      const dups = (
        await con.runAndReadAll(`SELECT run_id, trade_id, count(*) AS n FROM ${StoreTable.trades} GROUP BY run_id, trade_id HAVING count(*) > 1
          ORDER BY run_id, trade_id LIMIT ${EXAMPLES_KEPT}`)
      ).getRowObjectsJson();
      const d = dups[0]!;
      quality.badRows({
        table: 'trades',
        column: null,
        problem: 'duplicate key',
        count: n,
        examples: dups.map((k) => `(run_id, trade_id) = (${String(k['run_id'])}, ${String(k['trade_id'])}) appears ${String(k['n'])} times`),
        message: `trades in ${sourceLabel(t.source)}: duplicate key (run_id, trade_id) = (${String(d['run_id'])}, ${String(d['trade_id'])}) appears ${String(d['n'])} times (${n} row(s) in all repeat a key); column '${colName('trade_id')}' must be unique per run`,
      });
      if (quality.dropping) await con.run(`DELETE FROM ${StoreTable.trades} WHERE rowid IN (SELECT row_id FROM ${repeats})`);
    }
  }
}
