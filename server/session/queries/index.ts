// Dispatch: one planner per query name. Every planner checks the request's values against the
// store's catalog and returns SQL whose client values are all bound parameters.
import type { QueryRequest } from '../../../shared/protocol.js';
import type { Catalog } from '../store.js';
import { planBreakdown } from './breakdown.js';
import { planEquity } from './equity.js';
import { planExport } from './export.js';
import { planExposure } from './exposure.js';
import { planHeatmap } from './heatmap.js';
import { planHistogram } from './histogram.js';
import type { Planner, QueryPlan } from './plan.js';
import { planRolling } from './rolling.js';
import { planSeries } from './series.js';
import { planSummary } from './summary.js';
import { planTrades } from './trades.js';

/** Plans a validated request. Throws BadParamsError for values the dataset does not have. */
export function planRequest(request: QueryRequest, catalog: Catalog): Planner {
  const plan = planOf(request, catalog);
  return typeof plan === 'function' ? plan : () => plan;
}

function planOf(request: QueryRequest, catalog: Catalog): QueryPlan | Planner {
  switch (request.query) {
    case 'summary':
      return planSummary(request.params, catalog);
    case 'equity':
      return planEquity(request.params, catalog);
    case 'exposure':
      return planExposure(request.params, catalog);
    case 'breakdown':
      return planBreakdown(request.params, catalog);
    case 'series':
      return planSeries(request.params, catalog);
    case 'trades':
      return planTrades(request.params, catalog);
    case 'histogram':
      return planHistogram(request.params, catalog);
    case 'heatmap':
      return planHeatmap(request.params, catalog);
    case 'rolling':
      return planRolling(request.params, catalog);
    case 'export':
      return planExport(request.params, catalog);
  }
}
