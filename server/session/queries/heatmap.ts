// Monthly returns by year: each month's daily returns compounded, prod(1 + r) - 1, per run (as
// pyfolio's aggregate_returns), with the month's P&L and trading days.
import type { HeatmapParams } from '../../../shared/messages.js';
import type { Catalog } from '../store.js';
import { sourceOf, type QueryPlan } from './plan.js';
import { resolveScope, tradeFilterNote } from './scope.js';
import { dailyCtes } from './sources.js';
import { Binder } from './sql.js';

export function planHeatmap(params: HeatmapParams, catalog: Catalog): QueryPlan {
  const scope = resolveScope(params, catalog);
  const b = new Binder();
  const daily = dailyCtes(b, scope, catalog);
  const sql = `
    WITH ${daily.ctes}
    SELECT run_id, year(day)::INTEGER AS year, month(day)::INTEGER AS month,
      product(1 + ret) - 1 AS ret, sum(pnl) AS pnl, count(*)::INTEGER AS days
    FROM daily GROUP BY run_id, year(day), month(day) ORDER BY run_id, year, month`;
  return { statements: [{ sql, params: b.params }], source: sourceOf(daily.sources), notes: tradeFilterNote(scope, 'returns') };
}
