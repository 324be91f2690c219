// zipline/pyfolio frames, as `pyfolio.utils.extract_rets_pos_txn_from_zipline` gives them and
// analysts save them with pandas (pandas.ts):
//   - transactions (required): one row per fill; a time index (`dt`, `date`, `index`, ...),
//     `symbol` or `sid`, signed `amount` (buy > 0), `price`, optional `commission`.
//   - positions (optional): wide; a date index, one column per asset holding the position's
//     VALUE that day (NaN or missing = none), and `cash`.
//   - returns (optional): the daily returns series; claimed so that it is not read as bars.
// Bars are one per symbol per day: trade quantity and fees from the day's fills, position
// quantity their running sum, position value from positions (else quantity x the last fill
// price), price = value / quantity (the close the positions were marked at) or the last fill
// price, and pnl_t = value_t - value_{t-1} - sum(amount x price of that day's fills) - fees.
// Trades are the FIFO round trips of the fills (round-trips.ts). The capital base is the first
// day's portfolio value (the sum of the assets' values and cash) when positions have `cash`.
import { sqlIdent, sqlString } from '../../sql/text.js';
import type { ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { DEFAULT_RUN_ID } from '../expressions.js';
import type { CandidateFile, Detection, FormatAdapter, FormatDescription, StageContext, StagedTables } from './adapter.js';
import { findColumn } from './adapter.js';
import { dayExpr, numberColumns, timeIndexColumn, timeExpr } from './pandas.js';
import { roundTripsSql } from './round-trips.js';

interface TransactionsPlan {
  file: CandidateFile;
  ts: ColumnInfo;
  /** symbol and/or sid: the one whose values name the positions' columns is used. */
  keys: ColumnInfo[];
  amount: ColumnInfo;
  price: ColumnInfo;
  commission?: ColumnInfo;
}

interface PositionsPlan {
  file: CandidateFile;
  date: ColumnInfo;
  cash?: ColumnInfo;
  assets: ColumnInfo[];
}

export interface PyfolioPlan {
  transactions: TransactionsPlan;
  positions?: PositionsPlan;
  returns?: { file: CandidateFile };
}

const TRANSACTIONS_STEMS = ['transactions', 'transaction', 'txns', 'txn'];
const POSITIONS_STEMS = ['positions', 'position', 'pos'];
const RETURNS_STEMS = ['returns', 'rets', 'daily_returns'];

function stemIs(file: CandidateFile, stems: readonly string[]): boolean {
  return stems.some((s) => file.stem === s || file.stem.startsWith(`${s}_`) || file.stem.startsWith(`${s}-`));
}

function transactionsPlan(file: CandidateFile): TransactionsPlan | null {
  const ts = timeIndexColumn(file);
  const amount = findColumn(file, ['amount']);
  const price = findColumn(file, ['price']);
  const keys = [findColumn(file, ['symbol']), findColumn(file, ['sid'])].filter((c): c is ColumnInfo => c !== undefined);
  if (!ts || !amount || !price || keys.length === 0) return null;
  const commission = findColumn(file, ['commission', 'commissions', 'fees', 'fee']);
  return { file, ts, keys, amount, price, ...(commission ? { commission } : {}) };
}

function positionsPlan(file: CandidateFile): PositionsPlan | null {
  const date = timeIndexColumn(file);
  const cash = findColumn(file, ['cash']);
  if (!date || !cash) return null;
  const assets = numberColumns(file).filter((c) => c !== cash && c !== date && !(c.name in file.hive));
  return { file, date, cash, assets };
}

function detect(files: readonly CandidateFile[]): Detection<PyfolioPlan> | null {
  const txnFiles = files.filter((f) => stemIs(f, TRANSACTIONS_STEMS) && f.columns.length > 0);
  if (txnFiles.length !== 1) return null;
  const transactions = transactionsPlan(txnFiles[0]!);
  if (!transactions) return null;
  const posFiles = files.filter((f) => stemIs(f, POSITIONS_STEMS) && f.columns.length > 0);
  const positions = posFiles.length === 1 ? positionsPlan(posFiles[0]!) : null;
  const retFiles = files.filter((f) => stemIs(f, RETURNS_STEMS) && f.columns.length > 0 && timeIndexColumn(f) && numberColumns(f).length === 1);
  const returns = retFiles.length === 1 ? { file: retFiles[0]! } : undefined;
  return {
    files: [transactions.file, ...(positions ? [positions.file] : []), ...(returns ? [returns.file] : [])],
    // Wide positions with `cash` beside fills are pyfolio's own shape; fills alone could be anyone's.
    confidence: positions ? 'certain' : 'likely',
    plan: { transactions, ...(positions ? { positions } : {}), ...(returns ? { returns } : {}) },
  };
}

const fileName = (f: CandidateFile) => f.path.split(/[\\/]/).pop()!;

function describe(d: Detection<PyfolioPlan>): FormatDescription {
  const { transactions: t, positions: p, returns: r } = d.plan;
  const parts = [
    ...(r ? [fileName(r.file)] : []),
    ...(p ? [`${fileName(p.file)} (wide, ${p.assets.length} assets${p.cash ? ' + cash' : ''})`] : []),
    `${fileName(t.file)} (fills)`,
  ];
  const txnColumns: Record<string, string> = { ts: t.ts.name, symbol: t.keys.map((k) => k.name).join(' or '), amount: t.amount.name, price: t.price.name };
  if (t.commission) txnColumns['fees'] = t.commission.name;
  return {
    summary: `zipline/pyfolio frames: ${parts.join(', ')}`,
    files: [
      { path: t.file.path, role: 'transactions: fills, matched into round trips (FIFO) and summed into daily bars', columns: txnColumns },
      ...(p ? [{ path: p.file.path, role: `positions: daily value per asset (${p.assets.length} assets) and cash`, columns: { ts: p.date.name, ...(p.cash ? { cash: p.cash.name } : {}) } }] : []),
      ...(r ? [{ path: r.file.path, role: 'returns: daily returns (not needed: P&L comes from positions and fills)', columns: {} }] : []),
    ],
    missing: p ? [] : [{ table: 'positions', why: 'no positions frame: positions are valued at the last fill price, and the capital base is not stated' }],
  };
}

/** Which of the fills' key columns (symbol, sid) names the positions' asset columns best. */
async function fillKey(ctx: StageContext, fills: string, t: TransactionsPlan, p: PositionsPlan | undefined): Promise<ColumnInfo> {
  if (t.keys.length === 1 || !p) return t.keys[0]!;
  const names = p.assets.map((a) => sqlString(a.name)).join(', ');
  let best = t.keys[0]!;
  let bestHits = -1;
  for (const key of t.keys) {
    const r = await ctx.con.runAndReadAll(`SELECT count(DISTINCT ${sqlIdent(key.name)}::VARCHAR) FILTER (WHERE ${sqlIdent(key.name)}::VARCHAR IN (${names || 'NULL'})) FROM ${fills}`);
    const hits = Number(r.getRows()[0]?.[0] ?? 0);
    if (hits > bestHits) {
      best = key;
      bestHits = hits;
    }
  }
  return best;
}

async function stage(d: Detection<PyfolioPlan>, ctx: StageContext): Promise<StagedTables> {
  const { transactions: t, positions: p } = d.plan;
  const { con } = ctx;
  const sources: string[] = [];
  const run = sqlString(DEFAULT_RUN_ID);
  const rawFills = await ctx.read(t.file);
  const key = await fillKey(ctx, rawFills, t, p);
  const fills = ctx.table('fills');
  await con.run(`CREATE TEMP TABLE ${fills} AS
    SELECT ${run} AS run_id, ${sqlIdent(key.name)}::VARCHAR AS symbol, ${timeExpr(t.ts)} AS ts, ${dayExpr(t.ts)} AS day,
      row_number() OVER () AS seq, ${sqlIdent(t.amount.name)}::DOUBLE AS amount, ${sqlIdent(t.price.name)}::DOUBLE AS price,
      ${t.commission ? `coalesce(${sqlIdent(t.commission.name)}::DOUBLE, 0)` : '0.0'} AS fees
    FROM ${rawFills}`);

  const trades = ctx.table('trades');
  await con.run(`CREATE TEMP TABLE ${trades} AS ${roundTripsSql(fills)}`);
  sources.push(`trades: FIFO round trips of the fills in ${fileName(t.file)}`);

  // Daily values per asset from the wide positions frame (NaN and NULL mean no position).
  let values = `SELECT NULL::VARCHAR AS symbol, NULL::DATE AS day, NULL::DOUBLE AS value WHERE false`;
  if (p && p.assets.length) {
    const pos = await ctx.read(p.file);
    const assetCols = p.assets.map((a) => `${sqlIdent(a.name)}::DOUBLE AS ${sqlIdent(a.name)}`).join(', ');
    values = `SELECT symbol, day, CASE WHEN isnan(value) THEN 0 ELSE value END AS value FROM (
        UNPIVOT (SELECT ${dayExpr(p.date)} AS day, ${assetCols} FROM ${pos})
        ON ${p.assets.map((a) => sqlIdent(a.name)).join(', ')} INTO NAME symbol VALUE value)`;
    if (p.cash) {
      const r = await con.runAndReadAll(`SELECT day, total FROM (
          SELECT ${dayExpr(p.date)} AS day, ${[...p.assets, p.cash].map((c) => `coalesce(CASE WHEN isnan(${sqlIdent(c.name)}::DOUBLE) THEN 0 ELSE ${sqlIdent(c.name)}::DOUBLE END, 0)`).join(' + ')} AS total
          FROM ${pos}) WHERE day IS NOT NULL ORDER BY day LIMIT 1`);
      const first = r.getRowsJson()[0];
      if (first && Number.isFinite(Number(first[1])) && Number(first[1]) > 0) {
        const runs = ctx.table('runs');
        await con.run(`CREATE TEMP TABLE ${runs} AS SELECT ${run} AS run_id, NULL::VARCHAR AS name, NULL::VARCHAR AS params, ${Number(first[1])}::DOUBLE AS capital`);
        sources.push(`capital: ${Number(first[1])}, the portfolio value (assets + cash) of ${String(first[0])} in ${fileName(p.file)}`);
        const bars = await stageBars(ctx, fills, values, true);
        sources.push(`bars: daily, position values from ${fileName(p.file)}, quantities and fees from ${fileName(t.file)}`);
        return { bars, trades, runs, sources };
      }
      throw new PrepareError(`zipline/pyfolio positions ${p.file.path}: the first day's portfolio value (assets + cash) is not a positive number, so it cannot be the capital base; state "capital" in tickscope.json`);
    }
  }
  const bars = await stageBars(ctx, fills, values, p !== undefined);
  sources.push(p ? `bars: daily, position values from ${fileName(p.file)}` : `bars: daily, positions valued at the last fill price of ${fileName(t.file)}`);
  return { bars, trades, sources };
}

/** Daily bars per symbol from the fills and (when `valued`) the positions' daily values. */
async function stageBars(ctx: StageContext, fills: string, values: string, valued: boolean): Promise<string> {
  const bars = ctx.table('bars');
  // A day with a position value but no row in positions (fills only) is valued at the last price.
  await ctx.con.run(`CREATE TEMP TABLE ${bars} AS
    WITH day_fills AS (
      SELECT symbol, day, sum(amount) AS trade_qty, sum(amount * price) AS cash_flow, sum(fees) AS fees, arg_max(price, seq) AS last_price
      FROM ${fills} GROUP BY symbol, day
    ),
    vals AS (${values}),
    grid AS (
      SELECT coalesce(f.symbol, v.symbol) AS symbol, coalesce(f.day, v.day) AS day, v.value, f.trade_qty, f.cash_flow, f.fees, f.last_price
      FROM day_fills f FULL OUTER JOIN vals v ON f.symbol = v.symbol AND f.day = v.day
    ),
    held AS (
      SELECT *,
        round(sum(coalesce(trade_qty, 0)) OVER (PARTITION BY symbol ORDER BY day ROWS UNBOUNDED PRECEDING), 9) AS qty,
        last_value(last_price IGNORE NULLS) OVER (PARTITION BY symbol ORDER BY day ROWS UNBOUNDED PRECEDING) AS fill_price
      FROM grid
    ),
    valued AS (
      SELECT *, ${valued ? 'coalesce(value, qty * fill_price)' : 'qty * fill_price'} AS position_value FROM held
    ),
    priced AS (
      SELECT *, coalesce(lag(position_value) OVER (PARTITION BY symbol ORDER BY day), 0) AS prev_value FROM valued
    )
    SELECT ${sqlString(DEFAULT_RUN_ID)} AS run_id, day AS ts, symbol,
      CASE WHEN qty <> 0 AND position_value IS NOT NULL THEN position_value / qty ELSE fill_price END AS price,
      qty AS position_qty, position_value, coalesce(trade_qty, 0) AS trade_qty, coalesce(fees, 0) AS fees,
      position_value - prev_value - coalesce(cash_flow, 0) - coalesce(fees, 0) AS pnl
    FROM priced
    WHERE position_value <> 0 OR trade_qty IS NOT NULL OR prev_value <> 0`);
  return bars;
}

export const pyfolioAdapter: FormatAdapter<PyfolioPlan> = { id: 'pyfolio', label: 'zipline/pyfolio frames', detect, describe, stage };
