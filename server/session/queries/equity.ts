// Equity (cumulative P&L) and drawdown per run over a time range, downsampled with M4: for each
// pixel column it keeps the exact first and last points and the points of the equity's and the
// drawdown's minimum and maximum, so both charts drawn from the rows are pixel-identical to the
// full series. Both series restart at the start of the range: a zoomed view shows P&L and
// drawdown within it. Always from a bar table (M4 needs every bar): portfolio_bar, sector_bar
// under a sector filter, bars under a symbol filter. DuckDB reads and sums the bars; the running
// sum, the drawdown and M4 are one pass in the session (compute.ts).
import type { EquityParams } from '../../../shared/protocol.js';
import { byRunAndTime, cumulative, drawdown, m4, pick, reorder, type Columns, type OutColumn } from '../compute.js';
import type { TradingTime } from '../../../shared/trading-time.js';
import type { Catalog } from '../store.js';
import { sourceOf, type QueryPlan } from './plan.js';
import { resolveScope, tradeFilterNote } from './scope.js';
import { perBarSeries } from './sources.js';
import { Binder } from './sql.js';

export function planEquity(params: EquityParams, catalog: Catalog): QueryPlan {
  const scope = resolveScope(params, catalog);
  const b = new Binder();
  const rows = perBarSeries(b, scope, ['pnl']);
  return {
    statements: [{ sql: rows.sql, params: b.params, compute: (columns) => equityColumns(columns, scope.runs, params.width, catalog.tradingTime) }],
    source: sourceOf(rows.sources),
    notes: tradeFilterNote(scope, 'the equity curve'),
  };
}

function equityColumns(columns: Columns, runs: readonly string[], width: number, time: TradingTime): OutColumn[] {
  const { order, run, t } = byRunAndTime(columns);
  const equity = cumulative(run, reorder(columns.get('pnl') as Float64Array, order));
  const dd = drawdown(run, equity);
  const kept = m4(run, time.toTradingAll(t), [equity, dd], width);
  return [
    { name: 'run_id', kind: 'utf8', index: pick(run, kept), names: runs },
    { name: 'ts', kind: 'f64', values: pick(t, kept) },
    { name: 'equity', kind: 'f64', values: pick(equity, kept) },
    { name: 'drawdown', kind: 'f64', values: pick(dd, kept) },
  ];
}
