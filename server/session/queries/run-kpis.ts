// The KPIs of each run over a range and filters: ONE computation, answered as rows by `summary`
// and ranked by `leaderboard` and `surface` (formulas in docs/metrics.md). P&L, the
// empyrical/pyfolio return metrics on daily-aggregated returns (252 days a year), drawdown with
// its dates, per-trade and per-day win rates, profit factor, holding time, turnover, fees and the
// long/short split. Sharpe and Sortino are in excess of the given daily risk-free rate. DuckDB
// aggregates the daily rows (day rollups for whole days, bar tables for cut days) and the trade
// statistics (trade_day / trade_list); the metrics over the at most a few hundred daily rows per
// run are one pass in the session, which DuckDB's window operators made ten times slower.
import { StoreTable } from '../../store/format.js';
import { reorder, sortedOrder, type Columns } from '../compute.js';
import type { Catalog } from '../store.js';
import type { ColumnLookup, Lookup } from './plan.js';
import type { Scope } from './scope.js';
import { dailyCtes } from './sources.js';
import { Binder } from './sql.js';
import { sampleSd, sharpe, sortino, ANNUALIZATION } from './risk-metrics.js';
import { tradeStatsSql } from './trade-source.js';

export interface TradeStats {
  n: number;
  wins: number;
  pnlN: number;
  grossProfit: number;
  grossLoss: number;
  holdingSum: number;
  holdingN: number;
  barsHeldSum: number;
  barsHeldN: number;
  long: { n: number; pnl: number; wins: number };
  short: { n: number; pnl: number; wins: number };
}

export const emptyStats = (): TradeStats => ({
  n: 0,
  wins: 0,
  pnlN: 0,
  grossProfit: 0,
  grossLoss: 0,
  holdingSum: 0,
  holdingN: 0,
  barsHeldSum: 0,
  barsHeldN: 0,
  long: { n: 0, pnl: 0, wins: 0 },
  short: { n: 0, pnl: 0, wins: 0 },
});

const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : Number(v));

/**
 * The scope's trade statistics per run (a look-up: a few rows per run and side), added to `into`
 * when given (the statistics of other days of the same runs).
 */
export async function tradeStatsByRun(lookup: Lookup, scope: Scope, into?: Map<string, TradeStats>): Promise<{ stats: Map<string, TradeStats>; sources: string[] }> {
  const t = new Binder();
  const trades = tradeStatsSql(t, scope);
  const stats = into ?? new Map<string, TradeStats>();
  for (const [run, side, ...values] of await lookup(trades.sql, t.params)) {
    const [n, wins, pnlN, grossProfit, grossLoss, holdingSum, holdingN, barsHeldSum, barsHeldN] = values.map((v) => num(v) || 0) as number[];
    const s = stats.get(String(run)) ?? stats.set(String(run), emptyStats()).get(String(run))!;
    s.n += n!;
    s.wins += wins!;
    s.pnlN += pnlN!;
    s.grossProfit += grossProfit!;
    s.grossLoss += grossLoss!;
    s.holdingSum += holdingSum!;
    s.holdingN += holdingN!;
    s.barsHeldSum += barsHeldSum!;
    s.barsHeldN += barsHeldN!;
    if (side === 'long' || side === 'short') {
      s[side].n += n!;
      s[side].pnl += grossProfit! + grossLoss!;
      s[side].wins += wins!;
    }
  }
  return { stats, sources: trades.sources };
}

/**
 * The daily rows the KPIs are computed from: ri (the run's index in scope.runs), day (epoch ms),
 * pnl, fees, traded_value, gross_sum, net_sum, long_sum, short_sum, bars; with `benchmark`, also
 * bret: benchmark_day's return that day (NULL when it has none). Unordered: runKpis puts them in
 * (ri, day) order, which costs nothing when DuckDB kept the rollup's order and is cheaper than a
 * sort in SQL when it did not. The run index is a join on the runs' VALUES, not a CASE, which a
 * sweep of hundreds of runs would evaluate branch by branch on every row.
 */
export function dailyKpiSql(b: Binder, scope: Scope, catalog: Pick<Catalog, 'runs'>, options: { benchmark?: boolean } = {}): { sql: string; sources: string[] } {
  const daily = dailyCtes(b, scope, catalog);
  const runIndex =
    scope.runs.length === 0
      ? 'SELECT NULL::VARCHAR AS run_id, NULL::INTEGER AS ri WHERE FALSE'
      : `SELECT * FROM (VALUES ${scope.runs.map((run, i) => `(${b.bind(run)}, ${i})`).join(', ')}) v(run_id, ri)`;
  const benchmark = options.benchmark ? `, m.ret AS bret` : '';
  const sql = `WITH ${daily.ctes}, run_index AS (${runIndex})
    SELECT x.ri::INTEGER AS ri, epoch_ms(d.day::TIMESTAMP)::DOUBLE AS day, d.pnl, d.fees, d.traded_value,
      d.gross_sum, d.net_sum, d.long_sum, d.short_sum, d.bars::DOUBLE AS bars${benchmark}
    FROM daily d JOIN run_index x ON x.run_id = d.run_id${options.benchmark ? ` LEFT JOIN ${StoreTable.benchmarkDay} m ON m.day = d.day` : ''}`;
  return { sql, sources: options.benchmark ? [...daily.sources, StoreTable.benchmarkDay] : daily.sources };
}

/**
 * The scope's daily rows with the benchmark's return (dailyKpiSql with bret), in (ri, day) order:
 * what summary, risk and benchmark compute from. All three read them with this one statement, so
 * a zoom, which asks the three at once, reads the rows once (QueryRunner shares identical look-ups
 * in flight). The columns are shared as they are: read them, never change them.
 */
export async function dailyRowsWithBenchmark(lookupColumns: ColumnLookup, scope: Scope, catalog: Pick<Catalog, 'runs'>): Promise<{ columns: Columns; sources: string[] }> {
  const b = new Binder();
  const daily = dailyKpiSql(b, scope, catalog, { benchmark: true });
  return { columns: inRunDayOrder(await lookupColumns(daily.sql, b.params)), sources: daily.sources };
}

/** The columns in (ri, day) order (dailyKpiSql's rows come in any order). */
export function inRunDayOrder(columns: Columns): Columns {
  const order = sortedOrder(columns.get('ri') as Int32Array, columns.get('day') as Float64Array);
  if (!order) return columns;
  return new Map([...columns].map(([name, values]) => [name, reorder(values, order)]));
}

/** Every KPI of the summary answer, in its column order after run_id. */
export const KPI_NAMES = [
  'capital', 'days', 'total_pnl', 'fees', 'total_return', 'cagr', 'annual_volatility', 'sharpe', 'sortino', 'max_drawdown',
  'max_drawdown_peak', 'max_drawdown_trough', 'max_drawdown_recovery', 'max_drawdown_pnl', 'calmar', 'day_win_rate',
  'trade_count', 'winning_trades', 'trade_win_rate', 'profit_factor', 'gross_profit', 'gross_loss', 'avg_trade_pnl',
  'avg_holding_ms', 'avg_bars_held', 'traded_value', 'turnover', 'avg_gross_exposure', 'avg_net_exposure',
  'avg_long_exposure', 'avg_short_exposure', 'long_trades', 'short_trades', 'long_pnl', 'short_pnl', 'long_win_rate',
  'short_win_rate',
] as const;
export type KpiName = (typeof KPI_NAMES)[number];
/** The KPIs that are counts (Int32 in answers). */
export const INTEGER_KPIS: ReadonlySet<string> = new Set(['days', 'trade_count', 'winning_trades', 'long_trades', 'short_trades']);

export interface RunKpis {
  /** Each KPI by run index (NaN where undefined). */
  values: Map<KpiName, Float64Array>;
  /** Each run's daily returns (P&L over its capital) in day order; daily rows start..end-1 of `columns`. */
  returns: Float64Array[];
  rows: { start: number; end: number }[];
  /** The daily rows in (ri, day) order. */
  columns: Columns;
}

const ratio = (a: number, b: number) => (b === 0 || Number.isNaN(b) || Number.isNaN(a) ? Number.NaN : a / b);

/**
 * The KPIs of each run from its daily rows (dailyKpiSql's columns) and trade statistics. With
 * `segments`, the columns are already in (ri, day) order and run r's rows are segments[r]
 * (start, end): rows outside every segment are not the scope's (the kept whole days, sliced
 * without a copy: sweep-days.ts).
 */
export function runKpis(
  unordered: Columns,
  runs: readonly string[],
  capitalOf: (run: string) => number | null,
  trades: Map<string, TradeStats>,
  rfDaily: number,
  segments?: readonly (readonly [number, number])[],
): RunKpis {
  const columns = segments ? unordered : inRunDayOrder(unordered);
  const ri = columns.get('ri') as Int32Array;
  const day = columns.get('day') as Float64Array;
  const col = (name: string) => columns.get(name) as Float64Array;
  const pnl = col('pnl');
  const fees = col('fees');
  const traded = col('traded_value');
  const gross = col('gross_sum');
  const net = col('net_sum');
  const long = col('long_sum');
  const short = col('short_sum');
  const bars = col('bars');
  const values = new Map<KpiName, Float64Array>(KPI_NAMES.map((name) => [name, new Float64Array(runs.length).fill(Number.NaN)]));
  const put = (name: KpiName, i: number, value: number) => {
    values.get(name)![i] = value;
  };
  const allReturns: Float64Array[] = [];
  const rows: RunKpis['rows'] = [];
  let row = 0;
  runs.forEach((run, r) => {
    let start = row;
    if (segments) [start, row] = segments[r]!;
    else while (row < ri.length && ri[row] === r) row++;
    rows.push({ start, end: row });
    const n = row - start;
    const capital = capitalOf(run) ?? Number.NaN;
    put('capital', r, capital);
    put('days', r, n);
    let totalPnl = 0;
    let totalFees = 0;
    let totalTraded = 0;
    let wins = 0;
    let growth = 1;
    let peak = 1;
    let maxDd = 0;
    let troughAt = -1;
    let troughPeak = 1;
    let cum = 0;
    let cumPeak = 0;
    let maxDdPnl = 0;
    let grossSum = 0;
    let netSum = 0;
    let longSum = 0;
    let shortSum = 0;
    let barCount = 0;
    let turnoverSum = 0;
    let turnoverDays = 0;
    const wealth = new Float64Array(n);
    const returns = new Float64Array(n);
    for (let i = start; i < row; i++) {
      const ret = pnl[i]! / capital;
      returns[i - start] = ret;
      totalPnl += pnl[i]!;
      totalFees += fees[i]!;
      totalTraded += traded[i]!;
      if (pnl[i]! > 0) wins++;
      growth *= 1 + ret;
      wealth[i - start] = growth;
      if (growth > peak) peak = growth;
      const dd = growth / peak - 1;
      if (dd < maxDd) {
        maxDd = dd;
        troughAt = i - start;
        troughPeak = peak;
      }
      cum += pnl[i]!;
      if (cum > cumPeak) cumPeak = cum;
      if (cum - cumPeak < maxDdPnl) maxDdPnl = cum - cumPeak;
      grossSum += gross[i]!;
      netSum += net[i]!;
      longSum += long[i]!;
      shortSum += short[i]!;
      barCount += bars[i]!;
      const avgGross = bars[i]! > 0 ? gross[i]! / bars[i]! : 0;
      if (avgGross !== 0) {
        turnoverSum += traded[i]! / avgGross;
        turnoverDays++;
      }
    }
    allReturns.push(returns);
    const hasReturns = n > 0 && !Number.isNaN(capital);
    const cagr = hasReturns && growth > 0 ? growth ** (ANNUALIZATION / n) - 1 : Number.NaN;
    put('total_pnl', r, totalPnl);
    put('fees', r, totalFees);
    put('total_return', r, hasReturns ? growth - 1 : Number.NaN);
    put('cagr', r, cagr);
    put('annual_volatility', r, sampleSd(returns) * Math.sqrt(ANNUALIZATION));
    put('sharpe', r, sharpe(returns, rfDaily));
    put('sortino', r, sortino(returns, rfDaily));
    put('max_drawdown', r, hasReturns ? maxDd : Number.NaN);
    let peakDay = Number.NaN;
    let recoveryDay = Number.NaN;
    if (hasReturns && troughAt >= 0) {
      peakDay = day[start]!;
      for (let i = 0; i <= troughAt; i++) if (wealth[i]! >= troughPeak) peakDay = day[start + i]!;
      for (let i = troughAt + 1; i < n; i++) {
        if (wealth[i]! >= troughPeak) {
          recoveryDay = day[start + i]!;
          break;
        }
      }
    }
    put('max_drawdown_peak', r, peakDay);
    put('max_drawdown_trough', r, hasReturns && troughAt >= 0 ? day[start + troughAt]! : Number.NaN);
    put('max_drawdown_recovery', r, recoveryDay);
    put('max_drawdown_pnl', r, n > 0 ? maxDdPnl : Number.NaN);
    put('calmar', r, hasReturns && maxDd < 0 ? cagr / Math.abs(maxDd) : Number.NaN);
    put('day_win_rate', r, n > 0 ? wins / n : Number.NaN);
    const t = trades.get(run);
    put('trade_count', r, t?.n ?? 0);
    put('winning_trades', r, t?.wins ?? 0);
    put('trade_win_rate', r, t ? ratio(t.wins, t.n) : Number.NaN);
    put('profit_factor', r, t ? ratio(t.grossProfit, Math.abs(t.grossLoss)) : Number.NaN);
    put('gross_profit', r, t?.grossProfit ?? 0);
    put('gross_loss', r, t?.grossLoss ?? 0);
    put('avg_trade_pnl', r, t ? ratio(t.grossProfit + t.grossLoss, t.pnlN) : Number.NaN);
    put('avg_holding_ms', r, t ? ratio(t.holdingSum, t.holdingN) : Number.NaN);
    put('avg_bars_held', r, t ? ratio(t.barsHeldSum, t.barsHeldN) : Number.NaN);
    put('traded_value', r, totalTraded);
    put('turnover', r, turnoverDays > 0 ? turnoverSum / turnoverDays : Number.NaN);
    put('avg_gross_exposure', r, ratio(grossSum, barCount));
    put('avg_net_exposure', r, ratio(netSum, barCount));
    put('avg_long_exposure', r, ratio(longSum, barCount));
    put('avg_short_exposure', r, ratio(shortSum, barCount));
    put('long_trades', r, t?.long.n ?? 0);
    put('short_trades', r, t?.short.n ?? 0);
    put('long_pnl', r, t?.long.pnl ?? 0);
    put('short_pnl', r, t?.short.pnl ?? 0);
    put('long_win_rate', r, t ? ratio(t.long.wins, t.long.n) : Number.NaN);
    put('short_win_rate', r, t ? ratio(t.short.wins, t.short.n) : Number.NaN);
  });
  return { values, returns: allReturns, rows, columns };
}
