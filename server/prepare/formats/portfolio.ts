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
// Several number columns, none named as a series, in a file whose name says returns or equity
// (returns.csv of three strategies side by side, a sweep's equity curves) are a run each, named
// after its column, its capital found the same way per run (tickscope.json may state one per run).
// A run's missing values (NaN before it starts) are no rows.
import { sqlIdent, sqlString } from '../../sql/text.js';
import type { ColumnInfo } from '../column-types.js';
import { DEFAULT_RUN_ID } from '../expressions.js';
import { normalise } from '../mapping.js';
import { findColumn, type CandidateFile, type Detection, type FormatAdapter, type FormatDescription, type Recognised, type StageContext, type StagedTables } from './adapter.js';
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
  /**
   * The series: one column (the dataset's one run), or, in a frame the file's name says is
   * returns or equity, every number column, each a run named after it (strategies side by side,
   * a sweep's curves).
   */
  values: ColumnInfo[];
  /** Whether each of `values` is a run of its own. */
  wide: boolean;
  kind: 'returns' | 'equity';
  /** The dataset has a trades file of its own (read the canonical way, beside this series). */
  hasTrades: boolean;
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

/** The series a file holds (PortfolioPlan), or null. */
function seriesOf(file: CandidateFile): Pick<PortfolioPlan, 'ts' | 'values' | 'wide' | 'kind'> | null {
  const ts = timeIndexColumn(file);
  const numbers = numberColumns(file).filter((c) => c !== ts && !(c.name in file.hive));
  if (!ts || numbers.length === 0) return null;
  // One number column (a Series saved alone), or one named as a series among others, of the kind
  // the file's name says if it says one: backtesting.py's equity curve is Equity beside
  // DrawdownPct and DrawdownDuration.
  const fileKind = kindOfName(file.stem);
  const named = numbers.filter((c) => kindOfColumn(c) !== null && (fileKind === null || kindOfColumn(c) === fileKind));
  const value = numbers.length === 1 ? numbers[0]! : named.length === 1 ? named[0]! : null;
  const kind = value ? (kindOfColumn(value) ?? fileKind) : null;
  if (value && kind) return { ts, values: [value], wide: false, kind };
  // Several in a file named as a series (returns.csv of three strategies; one of them may be
  // called `value` without being an equity curve).
  return numbers.length > 1 && fileKind ? { ts, values: numbers, wide: true, kind: fileKind } : null;
}

function detect(files: readonly CandidateFile[], earlier: readonly Recognised[]): Detection<PortfolioPlan> | null {
  const plans: PortfolioPlan[] = [];
  for (const file of files) {
    if (file.tableByName !== 'bars' || file.loose) continue;
    const series = seriesOf(file);
    if (series) plans.push({ file, ...series, hasTrades: false });
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
  const { file, ts, values, wide, kind } = d.plan;
  const name = file.path.split(/[\\/]/).pop()!;
  const what = kind === 'returns' ? 'daily returns' : 'equity curve';
  return {
    summary: wide
      ? `portfolio-only backtest: ${name} (${values.length} runs side by side, the ${what} of each in its column: ${values.map((v) => `'${v.name}'`).join(', ')})`
      : `portfolio-only backtest: ${name} (${what} in '${values[0]!.name}')`,
    files: [
      {
        path: file.path,
        role: `${kind === 'returns' ? 'returns' : 'equity curve'} of the whole portfolio${wide ? ', a run per column' : ''}`,
        columns: wide ? { ts: ts.name, run_id: 'the column names', [kind]: values.map((v) => v.name).join(', ') } : { ts: ts.name, [kind]: values[0]!.name },
      },
      ...(d.plan.positions ? [{ path: d.plan.positions.path, role: 'positions (wide, with cash): not read; without transactions they give no P&L per asset', columns: {} }] : []),
    ],
    missing: [
      { table: 'bars', why: `no per-symbol rows: the portfolio is stored as one pseudo-symbol '${PORTFOLIO_SYMBOL}', so views by symbol, sector and exposure have nothing to break down` },
      ...(d.plan.hasTrades ? [] : [{ table: 'trades', why: 'no trades file: trade statistics are empty' }]),
    ],
  };
}

/** The description's capital for a run, if stated (one number for every run, or one per run id). */
function statedCapital(ctx: StageContext, run: string): number | null {
  const c = ctx.description.capital;
  if (typeof c === 'number') return c;
  if (c && typeof c === 'object' && typeof c[run] === 'number') return c[run]!;
  return null;
}

async function stage(d: Detection<PortfolioPlan>, ctx: StageContext): Promise<StagedTables> {
  const { file, ts, values, wide, kind } = d.plan;
  const name = file.path.split(/[\\/]/).pop()!;
  const rows = await ctx.read(file);
  // (run_id, t, v): the one series as the dataset's one run, or each column as the run it names;
  // a run's missing values (before it starts, NaN) are no rows.
  const series = ctx.table('series');
  const runOf = (c: ColumnInfo) => (wide ? c.name : DEFAULT_RUN_ID);
  await ctx.con.run(`CREATE TEMP TABLE ${series} AS
    SELECT * FROM (${values.map((c) => `SELECT ${sqlString(runOf(c))} AS run_id, ${timeExpr(ts)} AS t, ${sqlIdent(c.name)}::DOUBLE AS v FROM ${rows}`).join(' UNION ALL ')})
    WHERE v IS NOT NULL`);
  const sources: string[] = [];
  // Each run's capital: the description's, else the first equity value, else (returns alone) 1.
  const firsts = new Map((await ctx.con.runAndReadAll(`SELECT run_id, arg_min(v, t) FROM ${series} GROUP BY run_id`)).getRowsJson().map((r) => [String(r[0]), Number(r[1])]));
  // A column with no value at all is no run.
  const capitals = values.filter((c) => firsts.has(runOf(c))).map((c) => {
    const run = runOf(c);
    const stated = statedCapital(ctx, run);
    return [run, stated ?? (kind === 'equity' ? (firsts.get(run) ?? NaN) : 1)] as const;
  });
  const unstated = capitals.filter(([run]) => statedCapital(ctx, run) === null);
  if (unstated.length && kind === 'equity') sources.push(`capital: ${wide ? 'of each run, ' : ''}the first value of the equity curve in ${name}${wide ? '' : ` (${unstated[0]![1]})`}`);
  if (unstated.length && kind === 'returns') sources.push(`capital: 1, returns only (${name}): P&L is in units of the capital base; state "capital" in tickscope.json for money`);
  const runs = ctx.table('runs');
  await ctx.con.run(`CREATE TEMP TABLE ${runs} AS SELECT * FROM (VALUES ${capitals.map(([run, c]) => `(${sqlString(run)}, NULL::VARCHAR, NULL::VARCHAR, ${Number.isFinite(c) ? c : 'NULL'}::DOUBLE)`).join(', ')}) AS r(run_id, name, params, capital)`);
  const pnl = kind === 'equity' ? 'coalesce(v - lag(v) OVER w, 0)' : 'v * capital';
  const level = kind === 'equity' ? 'v' : 'capital + sum(v * capital) OVER (w ROWS UNBOUNDED PRECEDING)';
  const bars = ctx.table('bars');
  await ctx.con.run(`CREATE TEMP TABLE ${bars} AS
    SELECT run_id, t AS ts, ${sqlString(PORTFOLIO_SYMBOL)} AS symbol, ${level} AS price,
      0.0::DOUBLE AS position_qty, 0.0::DOUBLE AS position_value, 0.0::DOUBLE AS trade_qty, 0.0::DOUBLE AS fees, ${pnl} AS pnl
    FROM ${series} JOIN ${runs} USING (run_id)
    WINDOW w AS (PARTITION BY run_id ORDER BY t)`);
  sources.push(`bars: one pseudo-symbol '${PORTFOLIO_SYMBOL}'${wide ? ` per run (${values.length} columns)` : ''}, P&L from the ${kind === 'returns' ? 'returns' : 'equity changes'} in ${name}`);
  return { bars, runs, sources };
}

export const portfolioAdapter: FormatAdapter<PortfolioPlan> = { id: 'portfolio', label: 'portfolio-only backtest', detect, describe, stage };
