// Equity (cumulative P&L) and drawdown per run over a time range, M4-downsampled on both (so both
// charts drawn from the rows are pixel-identical to the full series). Both series restart at the
// start of the range: a zoomed view shows P&L and drawdown within it. Always from a bar table (M4
// needs every bar): portfolio_bar, sector_bar under a sector filter, bars under a symbol filter.
// DuckDB reads and sums the bars; the running sum, the drawdown and M4 are one pass in the
// session (m4-series.ts).
import type { EquityParams } from '../../../shared/messages.js';
import { cumulative, drawdown } from '../compute.js';
import type { Catalog } from '../store.js';
import { planM4Series } from './m4-series.js';
import type { QueryPlan } from './plan.js';

export function planEquity(params: EquityParams, catalog: Catalog): QueryPlan {
  return planM4Series(params, catalog, {
    measures: ['pnl'],
    what: 'the equity curve',
    series: ([pnl], run) => {
      const equity = cumulative(run, pnl!);
      return [
        { name: 'equity', values: equity },
        { name: 'drawdown', values: drawdown(run, equity) },
      ];
    },
  });
}
