// How the sweep views name and print each leaderboard metric (formulas: docs/metrics.md).
import type { LeaderboardMetric } from '../../shared/constants.js';
import { count, dollars, percent, pnl, ratio } from './format.js';
import { num, str } from './table.js';
import type { ColumnTable } from './worker/types.js';

export interface MetricInfo {
  label: string;
  title: string;
  format: (v: number) => string;
  /** Values of either sign, 0 the neutral point (colored green above, red below). */
  signed: boolean;
  /** A header click sorts best first: descending for these, ascending for costs. */
  descendingFirst: boolean;
}

const signedPercent = (v: number) => percent(v, { signed: true });

export const METRIC_INFO: Record<LeaderboardMetric, MetricInfo> = {
  total_pnl: { label: 'P&L', title: 'Total P&L over the range, after fees', format: pnl, signed: true, descendingFirst: true },
  total_return: { label: 'Return', title: 'Total return over the range (daily returns on the capital, compounded)', format: signedPercent, signed: true, descendingFirst: true },
  cagr: { label: 'CAGR', title: 'Compound annual growth rate over the range', format: signedPercent, signed: true, descendingFirst: true },
  sharpe: { label: 'Sharpe', title: 'Annualized Sharpe ratio of daily returns over the risk-free rate', format: ratio, signed: true, descendingFirst: true },
  sortino: { label: 'Sortino', title: 'Annualized Sortino ratio (downside deviation)', format: ratio, signed: true, descendingFirst: true },
  max_drawdown: { label: 'Max DD', title: 'Maximum drawdown of the compounded returns (a negative fraction)', format: (v) => percent(v), signed: true, descendingFirst: true },
  calmar: { label: 'Calmar', title: 'CAGR over the absolute maximum drawdown', format: ratio, signed: true, descendingFirst: true },
  trade_count: { label: 'Trades', title: 'Trades closed in the range (trade filters applied)', format: count, signed: false, descendingFirst: true },
  trade_win_rate: { label: 'Win rate', title: 'Share of the closed trades with a positive P&L', format: (v) => percent(v), signed: false, descendingFirst: true },
  turnover: { label: 'Turnover', title: 'Mean daily traded value over the day’s mean gross exposure', format: ratio, signed: false, descendingFirst: true },
  fees: { label: 'Fees', title: 'Fees paid in the range', format: dollars, signed: false, descendingFirst: false },
  excess_return: { label: 'vs bench', title: 'Total return minus the benchmark’s compounded return over the same days', format: signedPercent, signed: true, descendingFirst: true },
  deflated_sharpe: {
    label: 'DSR',
    title: 'Deflated Sharpe ratio (Bailey & López de Prado): the probability that the Sharpe is above the best expected of as many trials as the dataset has runs',
    format: (v) => percent(v, { digits: 1 }),
    signed: false,
    descendingFirst: true,
  },
};

export interface SweepVerdict {
  /** The run with the best Sharpe, its Sharpe and its deflated Sharpe. */
  best: string;
  sharpe: number;
  dsr: number;
  /** Runs whose excess return over the benchmark is positive, of those that have one. */
  beating: number;
  measured: number;
}

/** What a leaderboard of every run by Sharpe (sweepStatsSpec) says about luck; null without runs. */
export function sweepVerdict(t: ColumnTable): SweepVerdict | null {
  if (t.length === 0) return null;
  let beating = 0;
  let measured = 0;
  for (let i = 0; i < t.length; i++) {
    const excess = num(t, 'excess_return', i);
    if (!Number.isFinite(excess)) continue;
    measured++;
    if (excess > 0) beating++;
  }
  return { best: str(t, 'run_id', 0), sharpe: num(t, 'sharpe', 0), dsr: num(t, 'deflated_sharpe', 0), beating, measured };
}
