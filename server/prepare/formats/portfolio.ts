// A portfolio-only backtest: one series for the whole portfolio, no per-symbol rows. A file with a
// time index (pandas.ts) and one number column, or one so named among others (backtesting.py's
// equity curve: Equity, DrawdownPct, DrawdownDuration), when it is the dataset's only candidate for bars:
//   - returns: the column or file is named returns, return, ret, daily_returns, strategy_returns,
//     pnl_pct (pyfolio's `returns` Series saved alone, quantstats, a spreadsheet);
//   - equity: named equity, equity_curve, portfolio_value, value, nav, balance, total_value,
//     net_liquidation, prices (bt's `res.prices`, an index from 100).
// It becomes bars of one pseudo-symbol, `portfolio`, one per row: pnl = return x capital for
// returns, the change of equity for an equity curve (0 on the first row, the starting value);
// price = the portfolio's value (capital + P&L so far, or the equity); no position (quantity and
// value 0), so exposure is 0 and views by symbol show the one pseudo-symbol.
// Capital: tickscope.json's `capital` when given (the pipeline records it); else the first equity
// value; for returns alone, 1, so that P&L reads in units of the capital base (0.01 = 1%) and the
// return metrics are exactly the series' own (the source says so).
import { sqlIdent, sqlString } from '../../sql/text.js';
import type { ColumnInfo } from '../column-types.js';
import { DEFAULT_RUN_ID } from '../expressions.js';
import { normalise } from '../mapping.js';
import { findColumn, type CandidateFile, type Recognised, type Detection, type FormatAdapter, type FormatDescription, type StageContext, type StagedTables } from './adapter.js';
import { numberColumns, timeExpr, timeIndexColumn } from './pandas.js';

/** The pseudo-symbol a portfolio-only backtest's rows are stored under. */
export const PORTFOLIO_SYMBOL = 'portfolio';

const RETURNS_NAMES = ['returns', 'return', 'ret', 'rets', 'daily_returns', 'daily_return', 'strategy_returns', 'pnl_pct'];
const EQUITY_NAMES = ['equity', 'equity_curve', 'portfolio_value', 'value', 'nav', 'balance', 'total_value', 'net_liquidation', 'prices'];

export interface PortfolioPlan {
  file: CandidateFile;
  /** A wide positions frame with `cash` beside the series (pyfolio without transactions): claimed
   * so it is not read as bars, but not read: without fills it cannot give P&L per asset. */
  positions?: CandidateFile;
  ts: ColumnInfo;
  value: ColumnInfo;
  kind: 'returns' | 'equity';
  /** The dataset has a trades file of its own (read the canonical way, beside this series). */
  hasTrades: boolean;
}

function kindOf(file: CandidateFile, value: ColumnInfo): 'returns' | 'equity' | null {
  return kindOfColumn(value) ?? kindOfName(file.stem);
}

/** The kind a column's own name says. */
function kindOfColumn(value: ColumnInfo): 'returns' | 'equity' | null {
  return kindOfName(normalise(value.name));
}

function kindOfName(name: string): 'returns' | 'equity' | null {
  if (RETURNS_NAMES.includes(name)) return 'returns';
  if (EQUITY_NAMES.includes(name)) return 'equity';
  return null;
}

function detect(files: readonly CandidateFile[], earlier: readonly Recognised[]): Detection<PortfolioPlan> | null {
  const plans: PortfolioPlan[] = [];
  for (const file of files) {
    if (file.tableByName !== 'bars' || file.loose) continue;
    const ts = timeIndexColumn(file);
    const numbers = numberColumns(file).filter((c) => c !== ts && !(c.name in file.hive));
    if (!ts || numbers.length === 0) continue;
    // One number column (a Series saved alone), or one named as a series among others: backtesting.py's
    // equity curve is Equity beside DrawdownPct and DrawdownDuration.
    const named = numbers.filter((c) => kindOfColumn(c) !== null);
    const value = numbers.length === 1 ? numbers[0]! : named.length === 1 ? named[0]! : null;
    const kind = value && kindOf(file, value);
    if (value && kind) plans.push({ file, ts, value, kind, hasTrades: false });
  }
  // Only when the series is the dataset's one source of bars: beside real bars it is not this.
  const positions = files.filter((f) => f.tableByName === 'bars' && findColumn(f, ['cash']) && timeIndexColumn(f));
  const otherBars = files.filter((f) => f.tableByName === 'bars' && !f.loose && !plans.some((p) => p.file === f) && !positions.includes(f));
  if (plans.length !== 1 || otherBars.length > 0 || positions.length > 1) return null;
  // Trades of its own: a trades table, or a format recognised before it that gives them (bt's transactions, a list of fills).
  const hasTrades = files.some((f) => f.tableByName === 'trades') || earlier.some((r) => !r.adapter.describe(r.detection).missing.some((m) => m.table === 'trades'));
  const plan = { ...plans[0]!, hasTrades, ...(positions[0] ? { positions: positions[0] } : {}) };
  return { files: [plan.file, ...(plan.positions ? [plan.positions] : [])], confidence: 'likely', plan };
}

function describe(d: Detection<PortfolioPlan>): FormatDescription {
  const { file, ts, value, kind } = d.plan;
  const name = file.path.split(/[\\/]/).pop()!;
  return {
    summary: `portfolio-only backtest: ${name} (${kind === 'returns' ? 'daily returns' : 'equity curve'} in '${value.name}')`,
    files: [
      { path: file.path, role: kind === 'returns' ? 'returns of the whole portfolio' : 'equity curve of the whole portfolio', columns: { ts: ts.name, [kind]: value.name } },
      ...(d.plan.positions ? [{ path: d.plan.positions.path, role: 'positions (wide, with cash): not read; without transactions they give no P&L per asset', columns: {} }] : []),
    ],
    missing: [
      { table: 'bars', why: `no per-symbol rows: the portfolio is stored as one pseudo-symbol '${PORTFOLIO_SYMBOL}', so views by symbol, sector and exposure have nothing to break down` },
      ...(d.plan.hasTrades ? [] : [{ table: 'trades', why: 'no trades file: trade statistics are empty' }]),
    ],
  };
}

/** The description's capital for the dataset's one run, if stated. */
function statedCapital(ctx: StageContext): number | null {
  const c = ctx.description.capital;
  if (typeof c === 'number') return c;
  if (c && typeof c === 'object' && typeof c[DEFAULT_RUN_ID] === 'number') return c[DEFAULT_RUN_ID]!;
  return null;
}

async function stage(d: Detection<PortfolioPlan>, ctx: StageContext): Promise<StagedTables> {
  const { file, ts, value, kind } = d.plan;
  const name = file.path.split(/[\\/]/).pop()!;
  const rows = await ctx.read(file);
  const v = `${sqlIdent(value.name)}::DOUBLE`;
  const stated = statedCapital(ctx);
  const sources: string[] = [];
  let capital: number;
  let pnl: string;
  let level: string;
  if (kind === 'equity') {
    const first = await ctx.con.runAndReadAll(`SELECT ${v} FROM ${rows} WHERE ${v} IS NOT NULL ORDER BY ${timeExpr(ts)} LIMIT 1`);
    capital = stated ?? Number(first.getRowsJson()[0]?.[0] ?? NaN);
    pnl = `coalesce(${v} - lag(${v}) OVER (ORDER BY t), 0)`;
    level = v;
    if (stated === null) sources.push(`capital: ${capital}, the first value of the equity curve in ${name}`);
  } else {
    capital = stated ?? 1;
    pnl = `${v} * ${capital}`;
    level = `${capital} + sum(${v} * ${capital}) OVER (ORDER BY t ROWS UNBOUNDED PRECEDING)`;
    if (stated === null) sources.push(`capital: 1, returns only (${name}): P&L is in units of the capital base; state "capital" in tickscope.json for money`);
  }
  const bars = ctx.table('bars');
  await ctx.con.run(`CREATE TEMP TABLE ${bars} AS
    SELECT ${sqlString(DEFAULT_RUN_ID)} AS run_id, t AS ts, ${sqlString(PORTFOLIO_SYMBOL)} AS symbol, ${level} AS price,
      0.0::DOUBLE AS position_qty, 0.0::DOUBLE AS position_value, 0.0::DOUBLE AS trade_qty, 0.0::DOUBLE AS fees, ${pnl} AS pnl
    FROM (SELECT ${timeExpr(ts)} AS t, * FROM ${rows})`);
  sources.push(`bars: one pseudo-symbol '${PORTFOLIO_SYMBOL}', P&L from the ${kind === 'returns' ? 'returns' : 'equity changes'} in ${name}`);
  const runs = ctx.table('runs');
  await ctx.con.run(`CREATE TEMP TABLE ${runs} AS SELECT ${sqlString(DEFAULT_RUN_ID)} AS run_id, NULL::VARCHAR AS name, NULL::VARCHAR AS params, ${Number.isFinite(capital) ? capital : 'NULL'}::DOUBLE AS capital`);
  return { bars, runs, sources };
}

export const portfolioAdapter: FormatAdapter<PortfolioPlan> = { id: 'portfolio', label: 'portfolio-only backtest', detect, describe, stage };
