// zipline/pyfolio frames, as `pyfolio.utils.extract_rets_pos_txn_from_zipline` gives them and
// analysts save them with pandas (pandas.ts):
//   - transactions (required): one row per fill; a time index (`dt`, `date`, `index`, ...),
//     `symbol` or `sid`, signed `amount` (buy > 0), `price`, optional `commission`.
//   - positions (optional): wide; a date index, one column per asset holding the position's
//     VALUE that day (NaN or missing = none), and `cash`.
//   - returns (optional): the daily returns series; claimed so that it is not read as bars.
// Bars are daily, by fill-bars.ts ('marked' P&L): trade quantity and fees from the day's fills,
// position quantity their running sum, position value from positions (else quantity x the last
// fill price), price = value / quantity (the close the positions were marked at) or the last fill
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
import { dailyBarsFromFillsSql } from './fill-bars.js';
import { roundTripsSql } from './round-trips.js';

interface TransactionsPlan {
  file: CandidateFile;
  /** Every file of the frame: `file` alone, or the part files of a transactions/ folder. */
  parts: CandidateFile[];
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
  return { file, parts: [file], ts, keys, amount, price, ...(commission ? { commission } : {}) };
}

/** The transactions frame: one file, or a folder of part files that all read the same way. */
function transactionsFrame(files: readonly CandidateFile[]): TransactionsPlan | null {
  if (files.length === 0 || files.some((f) => f.stem !== files[0]!.stem)) return null;
  const plans = files.map(transactionsPlan);
  const first = plans[0];
  if (!first) return null;
  const names = (t: TransactionsPlan) => [t.ts, ...t.keys, t.amount, t.price, t.commission].map((c) => c?.name ?? '').join('|');
  if (plans.some((t) => !t || names(t) !== names(first))) return null;
  return { ...first, parts: [...files] };
}

function positionsPlan(file: CandidateFile): PositionsPlan | null {
  const date = timeIndexColumn(file);
  const cash = findColumn(file, ['cash']);
  if (!date || !cash) return null;
  const assets = numberColumns(file).filter((c) => c !== cash && c !== date && !(c.name in file.hive));
  return { file, date, cash, assets };
}

function detect(files: readonly CandidateFile[]): Detection<PyfolioPlan> | null {
  const transactions = transactionsFrame(files.filter((f) => stemIs(f, TRANSACTIONS_STEMS) && f.columns.length > 0));
  if (!transactions) return null;
  const posFiles = files.filter((f) => stemIs(f, POSITIONS_STEMS) && f.columns.length > 0);
  const positions = posFiles.length === 1 ? positionsPlan(posFiles[0]!) : null;
  const retFiles = files.filter((f) => stemIs(f, RETURNS_STEMS) && f.columns.length > 0 && timeIndexColumn(f) && numberColumns(f).length === 1);
  const returns = retFiles.length === 1 ? { file: retFiles[0]! } : undefined;
  return {
    files: [...transactions.parts, ...(positions ? [positions.file] : []), ...(returns ? [returns.file] : [])],
    // Wide positions with `cash` beside fills are pyfolio's own shape; fills alone could be anyone's.
    confidence: positions ? 'certain' : 'likely',
    plan: { transactions, ...(positions ? { positions } : {}), ...(returns ? { returns } : {}) },
  };
}

const fileName = (f: CandidateFile) => f.path.split(/[\\/]/).pop()!;
/** The transactions file's name, or its folder's and how many part files it holds. */
const frameName = (t: TransactionsPlan) => (t.parts.length > 1 ? `${t.file.stem}/ (${t.parts.length} files)` : fileName(t.file));

function describe(d: Detection<PyfolioPlan>): FormatDescription {
  const { transactions: t, positions: p, returns: r } = d.plan;
  const parts = [
    ...(r ? [fileName(r.file)] : []),
    ...(p ? [`${fileName(p.file)} (wide, ${p.assets.length} assets${p.cash ? ' + cash' : ''})`] : []),
    `${frameName(t)} (fills)`,
  ];
  const txnColumns: Record<string, string> = { ts: t.ts.name, symbol: t.keys.map((k) => k.name).join(' or '), amount: t.amount.name, price: t.price.name };
  if (t.commission) txnColumns['fees'] = t.commission.name;
  return {
    summary: `zipline/pyfolio frames: ${parts.join(', ')}`,
    files: [
      ...t.parts.map((f) => ({ path: f.path, role: 'transactions: fills, matched into round trips (FIFO) and summed into daily bars', columns: txnColumns })),
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
  const reads: string[] = [];
  for (const f of t.parts) reads.push(await ctx.read(f));
  const rawFills = reads.length === 1 ? reads[0]! : `(${reads.map((r) => `SELECT * FROM ${r}`).join(' UNION ALL BY NAME ')})`;
  const key = await fillKey(ctx, rawFills, t, p);
  const fills = ctx.table('fills');
  await con.run(`CREATE TEMP TABLE ${fills} AS
    SELECT ${run} AS run_id, ${sqlIdent(key.name)}::VARCHAR AS symbol, ${timeExpr(t.ts)} AS ts, ${dayExpr(t.ts)} AS day,
      row_number() OVER () AS seq, ${sqlIdent(t.amount.name)}::DOUBLE AS amount, ${sqlIdent(t.price.name)}::DOUBLE AS price,
      ${t.commission ? `coalesce(${sqlIdent(t.commission.name)}::DOUBLE, 0)` : '0.0'} AS fees
    FROM ${rawFills}`);

  const trades = ctx.table('trades');
  await con.run(`CREATE TEMP TABLE ${trades} AS ${roundTripsSql(fills)}`);
  sources.push(`trades: FIFO round trips of the fills in ${frameName(t)}`);

  // Daily values per asset from the wide positions frame (NaN and NULL mean no position).
  let values: string | undefined;
  if (p && p.assets.length) {
    const pos = await ctx.read(p.file);
    const assetCols = p.assets.map((a) => `${sqlIdent(a.name)}::DOUBLE AS ${sqlIdent(a.name)}`).join(', ');
    values = `SELECT ${run} AS run_id, symbol, day, CASE WHEN isnan(value) THEN 0 ELSE value END AS value FROM (
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
        const bars = await stageBars(ctx, fills, values);
        sources.push(`bars: daily, position values from ${fileName(p.file)}, quantities and fees from ${frameName(t)}`);
        return { bars, trades, runs, sources };
      }
      throw new PrepareError(`zipline/pyfolio positions ${p.file.path}: the first day's portfolio value (assets + cash) is not a positive number, so it cannot be the capital base; state "capital" in tickscope.json`);
    }
  }
  const bars = await stageBars(ctx, fills, values);
  sources.push(p ? `bars: daily, position values from ${fileName(p.file)}` : `bars: daily, positions valued at the last fill price of ${frameName(t)}`);
  return { bars, trades, sources };
}

/** Daily bars per symbol from the fills and the positions' daily values, if any (fill-bars.ts). */
async function stageBars(ctx: StageContext, fills: string, values: string | undefined): Promise<string> {
  const bars = ctx.table('bars');
  await ctx.con.run(`CREATE TEMP TABLE ${bars} AS ${dailyBarsFromFillsSql({ fills, pnl: 'marked', ...(values ? { values } : {}) })}`);
  return bars;
}

export const pyfolioAdapter: FormatAdapter<PyfolioPlan> = { id: 'pyfolio', label: 'zipline/pyfolio frames', detect, describe, stage };
