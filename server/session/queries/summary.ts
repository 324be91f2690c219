// The KPI row of each run over a range and filters (formulas in docs/metrics.md). Sharpe and
// Sortino are in excess of the risk-free rate the request gives (the dataset's by default). The
// KPIs are computed once, in run-kpis.ts, which the leaderboard and the surface rank.
import type { SummaryParams } from '../../../shared/messages.js';
import type { OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { assertColumnLookup, NOTHING_TO_READ, sourceOf, type Planner } from './plan.js';
import { hasTradeFilters, resolveScope } from './scope.js';
import { capitalOfRun } from './sources.js';
import { dailyRiskFree, ANNUALIZATION } from './risk-metrics.js';
import { dailyRowsWithBenchmark, INTEGER_KPIS, KPI_NAMES, runKpis, tradeStatsByRun, type RunKpis } from './run-kpis.js';

export { ANNUALIZATION };

export function planSummary(params: SummaryParams, catalog: Catalog): Planner {
  const scope = resolveScope(params, catalog);
  const capitalOf = (run: string) => capitalOfRun(catalog, run);
  const rfDaily = dailyRiskFree(params.riskFreeRate ?? catalog.riskFreeRate);
  return async (lookup, lookupColumns) => {
    assertColumnLookup(lookupColumns, 'summary reads its daily rows');
    const [trades, daily] = await Promise.all([tradeStatsByRun(lookup, scope), dailyRowsWithBenchmark(lookupColumns, scope, catalog)]);
    return {
      statements: [{ sql: NOTHING_TO_READ, params: {}, compute: () => summaryColumns(runKpis(daily.columns, scope.runs, capitalOf, trades.stats, rfDaily), scope.runs) }],
      source: sourceOf(daily.sources, trades.sources),
      notes: hasTradeFilters(scope)
        ? ['trade filters (side, tag, pnl, return, holding, MAE/MFE) restrict the trade statistics only; P&L, returns, drawdown and exposures are over every position of the selected runs and dimensions']
        : [],
    };
  };
}

function summaryColumns(kpis: RunKpis, runs: readonly string[]): OutColumn[] {
  const index = Int32Array.from(runs.map((_, i) => i));
  return [
    { name: 'run_id', kind: 'utf8', index, names: runs },
    ...KPI_NAMES.map((name): OutColumn => {
      const values = kpis.values.get(name)!;
      return INTEGER_KPIS.has(name) ? { name, kind: 'i32', values: Int32Array.from(values) } : { name, kind: 'f64', values };
    }),
  ];
}
