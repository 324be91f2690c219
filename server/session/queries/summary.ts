// The KPI row of each run over a range and filters (formulas in docs/metrics.md): P&L, the
// empyrical/pyfolio return metrics on daily-aggregated returns (252 days a year), drawdown with
// its dates, per-trade and per-day win rates, profit factor, holding time, turnover, fees and the
// long/short split. Sharpe and Sortino are in excess of the risk-free rate the request gives (the
// dataset's by default). DuckDB aggregates the daily rows (day rollups for whole days, bar tables for
// cut days) and the trade statistics (trade_day / trade_list); the metrics over the at most a few
// hundred daily rows per run are one pass in the session, which DuckDB's window operators made
// ten times slower.
import type { SummaryParams } from '../../../shared/messages.js';
import type { Columns, OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { sourceOf, type Planner } from './plan.js';
import { hasTradeFilters, resolveScope } from './scope.js';
import { capitalOfRun, dailyCtes, runIndexSql } from './sources.js';
import { Binder } from './sql.js';
import { dailyRiskFree, sampleSd, sharpe, sortino, ANNUALIZATION } from './risk-metrics.js';
import { tradeStatsSql } from './trade-source.js';

export { ANNUALIZATION };

interface TradeStats {
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

const emptyStats = (): TradeStats => ({
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

export function planSummary(params: SummaryParams, catalog: Catalog): Planner {
  const scope = resolveScope(params, catalog);
  const capitalOf = (run: string) => capitalOfRun(catalog, run);
  const rfDaily = dailyRiskFree(params.riskFreeRate ?? catalog.riskFreeRate);
  return async (lookup) => {
    const t = new Binder();
    const trades = tradeStatsSql(t, scope);
    const stats = new Map<string, TradeStats>();
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
    const b = new Binder();
    const daily = dailyCtes(b, scope, catalog);
    const sql = `WITH ${daily.ctes}
      SELECT ${runIndexSql(b, scope.runs)} AS ri, epoch_ms(day::TIMESTAMP)::DOUBLE AS day, pnl, fees, traded_value,
        gross_sum, net_sum, long_sum, short_sum, bars::DOUBLE AS bars
      FROM daily ORDER BY ri, day`;
    return {
      statements: [{ sql, params: b.params, compute: (columns) => summaryColumns(columns, scope.runs, capitalOf, stats, rfDaily) }],
      source: sourceOf(daily.sources, trades.sources),
      notes: hasTradeFilters(scope)
        ? ['trade filters (side, tag, pnl, return, holding, MAE/MFE) restrict the trade statistics only; P&L, returns, drawdown and exposures are over every position of the selected runs and dimensions']
        : [],
    };
  };
}

const ratio = (a: number, b: number) => (b === 0 || Number.isNaN(b) || Number.isNaN(a) ? Number.NaN : a / b);

function summaryColumns(
  columns: Columns,
  runs: readonly string[],
  capitalOf: (run: string) => number | null,
  trades: Map<string, TradeStats>,
  rfDaily: number,
): OutColumn[] {
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
  const out = new Map<string, number[]>();
  const put = (name: string, i: number, value: number) => {
    (out.get(name) ?? out.set(name, new Array<number>(runs.length).fill(Number.NaN)).get(name)!)[i] = value;
  };
  let row = 0;
  runs.forEach((run, r) => {
    const start = row;
    while (row < ri.length && ri[row] === r) row++;
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
    for (let i = start; i < row; i++) {
      const ret = pnl[i]! / capital;
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
    const returns = Float64Array.from({ length: n }, (_, i) => pnl[start + i]! / capital);
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
  const index = Int32Array.from(runs.map((_, i) => i));
  const integers = new Set(['days', 'trade_count', 'winning_trades', 'long_trades', 'short_trades']);
  const order = [
    'capital', 'days', 'total_pnl', 'fees', 'total_return', 'cagr', 'annual_volatility', 'sharpe', 'sortino', 'max_drawdown',
    'max_drawdown_peak', 'max_drawdown_trough', 'max_drawdown_recovery', 'max_drawdown_pnl', 'calmar', 'day_win_rate',
    'trade_count', 'winning_trades', 'trade_win_rate', 'profit_factor', 'gross_profit', 'gross_loss', 'avg_trade_pnl',
    'avg_holding_ms', 'avg_bars_held', 'traded_value', 'turnover', 'avg_gross_exposure', 'avg_net_exposure',
    'avg_long_exposure', 'avg_short_exposure', 'long_trades', 'short_trades', 'long_pnl', 'short_pnl', 'long_win_rate',
    'short_win_rate',
  ];
  return [
    { name: 'run_id', kind: 'utf8', index, names: runs },
    ...order.map((name): OutColumn => {
      const values = out.get(name) ?? new Array<number>(runs.length).fill(Number.NaN);
      return integers.has(name)
        ? { name, kind: 'i32', values: Int32Array.from(values) }
        : { name, kind: 'f64', values: Float64Array.from(values) };
    }),
  ];
}
