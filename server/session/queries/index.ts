// Dispatch: one planner per query name. Every planner checks the request's values against the
// store's catalog and returns SQL whose client values are all bound parameters.
import type { QueryName } from '../../../shared/constants.js';
import type { QueryParamsByName, QueryRequest, RequestOf } from '../../../shared/messages.js';
import type { Catalog } from '../store.js';
import { planAttribution } from './attribution.js';
import { planBenchmark } from './benchmark.js';
import { planBreakdown } from './breakdown.js';
import { planEpisodes } from './episodes.js';
import { planEquity } from './equity.js';
import { planExport } from './export.js';
import { planExposure } from './exposure.js';
import { planHeatmap } from './heatmap.js';
import { planHistogram } from './histogram.js';
import { planLeaderboard } from './leaderboard.js';
import type { Planner, QueryPlan } from './plan.js';
import { planRisk } from './risk.js';
import { planRolling } from './rolling.js';
import { planRundiff } from './rundiff.js';
import { planScatter } from './scatter.js';
import { planSeries } from './series.js';
import { planSummary } from './summary.js';
import { planSurface } from './surface.js';
import { planTrades } from './trades.js';

/** A planner returns its plan, or a Planner when it must look something up first. */
const PLANNERS: { [Q in QueryName]: (params: QueryParamsByName[Q], catalog: Catalog) => QueryPlan | Planner } = {
  summary: planSummary,
  equity: planEquity,
  exposure: planExposure,
  breakdown: planBreakdown,
  series: planSeries,
  trades: planTrades,
  histogram: planHistogram,
  heatmap: planHeatmap,
  rolling: planRolling,
  export: planExport,
  episodes: planEpisodes,
  attribution: planAttribution,
  scatter: planScatter,
  risk: planRisk,
  benchmark: planBenchmark,
  leaderboard: planLeaderboard,
  surface: planSurface,
  rundiff: planRundiff,
};

/** Plans a validated request. Throws BadParamsError for values the dataset does not have. */
export function planRequest(request: QueryRequest, catalog: Catalog): Planner {
  const plan = planOf(request, catalog);
  return typeof plan === 'function' ? plan : () => plan;
}

function planOf<Q extends QueryName>(request: RequestOf<Q>, catalog: Catalog): QueryPlan | Planner {
  return PLANNERS[request.query](request.params, catalog);
}
