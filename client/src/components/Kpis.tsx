// The KPI tiles (from `summary`): one value per run, colored by run when runs are overlaid.
import { memo, useLayoutEffect, useRef } from 'react';
import { count, dollars, dollarsCompact, duration, percent, pnl, pnlCompact, ratio, tone, dateText } from '../format.js';
import { markDrawn } from '../perf.js';
import type { QueryState } from '../query.js';
import { num } from '../table.js';
import { runTitle } from '../runs.js';
import { KpiTiles, type KpiTile } from './KpiTiles.js';
import type { ColumnTable, DatasetSchema } from '../worker/types.js';


const byTone = (column: string) => (t: ColumnTable, i: number) => tone(num(t, column, i));

const TILES: KpiTile[] = [
  {
    key: 'total_pnl',
    label: 'Total P&L',
    value: (t, i) => (Math.abs(num(t, 'total_pnl', i)) >= 1e5 ? pnlCompact(num(t, 'total_pnl', i)) : pnl(num(t, 'total_pnl', i))),
    tone: byTone('total_pnl'),
    title: (t, i) => `${pnl(num(t, 'total_pnl', i))} after ${dollars(num(t, 'fees', i))} fees`,
  },
  { key: 'total_return', label: 'Return', value: (t, i) => percent(num(t, 'total_return', i), { signed: true }), tone: byTone('total_return') },
  { key: 'cagr', label: 'CAGR', value: (t, i) => percent(num(t, 'cagr', i), { signed: true }), tone: byTone('cagr') },
  { key: 'sharpe', label: 'Sharpe', basis: 'daily', value: (t, i) => ratio(num(t, 'sharpe', i)), tone: byTone('sharpe') },
  { key: 'sortino', label: 'Sortino', basis: 'daily', value: (t, i) => ratio(num(t, 'sortino', i)), tone: byTone('sortino') },
  {
    key: 'max_drawdown',
    label: 'Max drawdown',
    // The drawdown chart is drawn from every bar: its deepest point can be below this.
    basis: 'end of day',
    value: (t, i) => percent(num(t, 'max_drawdown', i)),
    tone: byTone('max_drawdown'),
    title: (t, i) =>
      `peak ${dateText(num(t, 'max_drawdown_peak', i))} → trough ${dateText(num(t, 'max_drawdown_trough', i))}, recovered ${
        Number.isNaN(num(t, 'max_drawdown_recovery', i)) ? 'not yet' : dateText(num(t, 'max_drawdown_recovery', i))
      }; ${pnl(num(t, 'max_drawdown_pnl', i))}. On end-of-day equity: the drawdown chart, drawn from every bar, can dip deeper inside a day`,
  },
  { key: 'calmar', label: 'Calmar', value: (t, i) => ratio(num(t, 'calmar', i)) },
  { key: 'annual_volatility', label: 'Volatility', basis: 'daily', value: (t, i) => percent(num(t, 'annual_volatility', i)) },
  { key: 'trade_win_rate', label: 'Win rate', basis: 'trades', value: (t, i) => percent(num(t, 'trade_win_rate', i), { digits: 1 }) },
  { key: 'day_win_rate', label: 'Win rate', basis: 'days', value: (t, i) => percent(num(t, 'day_win_rate', i), { digits: 1 }) },
  { key: 'profit_factor', label: 'Profit factor', value: (t, i) => ratio(num(t, 'profit_factor', i)) },
  { key: 'trade_count', label: 'Trades', value: (t, i) => count(num(t, 'trade_count', i)) },
  { key: 'avg_trade_pnl', label: 'Avg trade', value: (t, i) => pnl(num(t, 'avg_trade_pnl', i)), tone: byTone('avg_trade_pnl') },
  { key: 'avg_holding_ms', label: 'Avg holding', value: (t, i) => duration(num(t, 'avg_holding_ms', i)) },
  { key: 'turnover', label: 'Turnover / day', value: (t, i) => percent(num(t, 'turnover', i), { digits: 0 }) },
  { key: 'fees', label: 'Fees', value: (t, i) => dollarsCompact(num(t, 'fees', i)), title: (t, i) => dollars(num(t, 'fees', i)) },
  {
    key: 'long_short',
    label: 'Long / short',
    basis: 'trades',
    value: (t, i) => `${pnlCompact(num(t, 'long_pnl', i))} / ${pnlCompact(num(t, 'short_pnl', i))}`,
    title: (t, i) =>
      `long: ${count(num(t, 'long_trades', i))} trades, win rate ${percent(num(t, 'long_win_rate', i), { digits: 1 })}; short: ${count(
        num(t, 'short_trades', i),
      )} trades, win rate ${percent(num(t, 'short_win_rate', i), { digits: 1 })}. The P&L of the trades closed in the range: it need not add up to Total P&L, which is every bar's (open positions marked, trades closed later included)`,
  },
];

export const Kpis = memo(function Kpis({ state, dataset }: { state: QueryState<'summary'>; dataset: DatasetSchema }) {
  const ref = useRef<HTMLDivElement>(null);
  const t = state.answer?.data;
  useLayoutEffect(() => {
    if (t) markDrawn(ref.current, !state.stale);
  }, [t, state.stale]);
  // Return metrics are over a stated capital base; a run without one says why, here, where they
  // would be (the summary leaves them empty).
  const withoutCapital = dataset.runs.filter((r) => r.capital === null);
  return (
    <section className={`kpis${state.stale ? ' stale' : ''}`} data-testid="kpis" ref={ref} aria-busy={state.loading}>
      {state.error && !t && <div className="error-box">Could not load the summary: {state.error}</div>}
      {withoutCapital.length > 0 && (
        <div className="kpi-note" data-testid="no-capital">
          {withoutCapital.map((r) => (
            <div key={r.runId}>
              No return metrics{dataset.runs.length > 1 ? ` for ${runTitle(dataset, r.runId)}` : ''}: no capital base ({r.capitalSource.replace(/^none: /, '')}).
            </div>
          ))}
        </div>
      )}
      <KpiTiles tiles={TILES} t={t} dataset={dataset} />
    </section>
  );
});
