// The tab's pinned runs as React state: with a sweep's many runs and none in the URL, one
// leaderboard (every run by Sharpe, the whole history) chooses the default pin, which is then
// written into the URL. The rules themselves are pinned-runs.ts.
import { useEffect, useMemo } from 'react';
import { chooseDefaultPin, manyRuns, pinnedRuns, type PinState } from './pinned-runs.js';
import { useQuery } from './query.js';
import { navigate, type Route } from './route.js';
import { sweepStatsSpec } from './specs.js';
import type { DatasetSchema } from './worker/types.js';

/**
 * The tab's pinned runs. With many runs and none in the URL, asks for the default pin once and
 * writes it into the URL (replacing the entry: the default is no step to go back to).
 */
export function usePinnedRuns(route: Route, dataset: DatasetSchema | undefined): PinState {
  const many = !!dataset && manyRuns(dataset);
  const needsDefault = many && !route.runs?.length;
  // With runs in the URL the default only names them in the header: it waits behind the views.
  const answer = useQuery(many ? sweepStatsSpec({ level: 'overview', filters: {} }, dataset!) : null, { name: 'pinned-runs.default', low: !needsDefault });
  const table = answer.answer?.data;
  const defaults = useMemo(() => (table && dataset ? chooseDefaultPin(table, dataset) : null), [table, dataset]);
  const pinned = dataset ? pinnedRuns(route, dataset, defaults) : null;
  useEffect(() => {
    if (needsDefault && defaults && defaults.runs.length > 0) navigate({ ...route, runs: defaults.runs }, { replace: true });
  }, [needsDefault, defaults, route]);
  const failed = needsDefault && (answer.error !== null || (defaults !== null && defaults.runs.length === 0));
  return {
    defaults,
    pinned,
    ready: !!dataset && (!needsDefault || failed),
    error: answer.error ? `Could not rank the runs to choose which to show: ${answer.error}` : failed ? 'No run has a Sharpe ratio to rank by: every run is shown.' : null,
  };
}
