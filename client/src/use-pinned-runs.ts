// The tab's pinned runs as React state: with a sweep's many runs and none in the URL, the default
// pin (which the session's hello brings, or else one leaderboard of every run by Sharpe over the
// whole history chooses) is written into the URL. The rules themselves are pinned-runs.ts.
import { useEffect, useMemo } from 'react';
import { chooseDefaultPin, manyRuns, pinnedRuns, type PinState } from './pinned-runs.js';
import { useQuery } from './query.js';
import { navigate, type Route } from './route.js';
import { sweepStatsSpec } from './specs.js';
import type { DatasetSchema } from './worker/types.js';

/**
 * The tab's pinned runs. With many runs and none in the URL, writes the default pin into the URL
 * (replacing the entry: the default is no step to go back to); a hello without one (the session
 * could not rank the runs) makes the tab ask the leaderboard first.
 */
export function usePinnedRuns(route: Route, dataset: DatasetSchema | undefined): PinState {
  const many = !!dataset && manyRuns(dataset);
  const needsDefault = many && !route.runs?.length;
  const fromHello = dataset?.defaultPin ?? null;
  // Without the hello's pin, this leaderboard chooses it: the views wait for it, unless the URL
  // names runs (the default then only names them in the header, so it waits behind the views).
  const answer = useQuery(many && !fromHello ? sweepStatsSpec({ level: 'overview', filters: {} }, dataset!) : null, { name: 'pinned-runs.default', low: !needsDefault });
  const table = answer.answer?.data;
  const defaults = useMemo(() => fromHello ?? (table && dataset ? chooseDefaultPin(table, dataset) : null), [fromHello, table, dataset]);
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
