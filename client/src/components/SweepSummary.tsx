// The overview's word on luck when the dataset holds several runs: each shown run's deflated
// Sharpe (given every run of the dataset as a trial) and the share of all runs beating the
// benchmark, over the range and filters. One answer: the leaderboard of every run by Sharpe (the
// Runs view's, so it is often cached), from which the shown runs' rows are read.
import { memo, useLayoutEffect, useMemo, useRef } from 'react';
import { count, percent, ratio } from '../format.js';
import { markDrawn } from '../perf.js';
import { useQuery } from '../query.js';
import { navigate, type Route } from '../route.js';
import { runColorOf, runLabel } from '../runs.js';
import { sweepStatsSpec } from '../specs.js';
import { METRIC_INFO, sweepVerdict } from '../sweep-metrics.js';
import { findRow, num } from '../table.js';
import { useTheme } from '../theme.js';
import type { DatasetSchema } from '../worker/types.js';
import '../views/sweep.css';

export const SweepSummary = memo(function SweepSummary({ route, dataset, runs, enabled }: { route: Route; dataset: DatasetSchema; runs: string[]; enabled: boolean }) {
  const theme = useTheme();
  // A line of words above the charts, from every run's KPIs over the range (the heaviest answer of
  // a zoom on a sweep): it comes after the charts, not before them.
  const state = useQuery(enabled && dataset.runs.length > 1 ? sweepStatsSpec(route, dataset) : null, { name: 'overview.sweep', low: true });
  const ref = useRef<HTMLDivElement>(null);
  const t = state.answer?.data;
  useLayoutEffect(() => {
    if (t) markDrawn(ref.current, !state.stale);
  }, [t, state.stale]);
  const verdict = useMemo(() => (t ? sweepVerdict(t) : null), [t]);
  if (dataset.runs.length < 2) return null;
  const shown = t ? runs.map((run) => ({ run, row: findRow(t, 'run_id', run) })).filter((r) => r.row >= 0) : [];
  return (
    <div ref={ref} className={`hint sweep-summary${state.stale ? ' stale' : ''}`} data-testid="sweep-summary" data-beating={verdict?.beating ?? ''} data-measured={verdict?.measured ?? ''}>
      {state.error ? (
        <span className="hint-error">Could not weigh the runs against each other: {state.error}</span>
      ) : !t ? (
        'Weighing the runs against each other…'
      ) : (
        <>
          <span title={METRIC_INFO.deflated_sharpe.title}>Deflated Sharpe given {count(dataset.runs.length)} trials:</span>{' '}
          {shown.map(({ run, row }) => (
            <span key={run} className="sweep-run" data-run={run} data-dsr={num(t, 'deflated_sharpe', row)} title={`Sharpe ${ratio(num(t, 'sharpe', row))}`}>
              <span className="dot" style={{ background: runColorOf(dataset, run, theme) }} /> {runLabel(dataset, run)}{' '}
              <strong className={num(t, 'deflated_sharpe', row) >= 0.95 ? 'pos' : undefined}>{percent(num(t, 'deflated_sharpe', row), { digits: 1 })}</strong>
            </span>
          ))}
          {verdict && (
            <span title={METRIC_INFO.excess_return.title}>
              · {count(verdict.beating)} of {count(verdict.measured)} runs beat the benchmark ({percent(verdict.measured ? verdict.beating / verdict.measured : Number.NaN, { digits: 0 })})
            </span>
          )}{' '}
          <button type="button" className="link" onClick={() => navigate({ ...route, level: 'runs', sector: undefined, symbol: undefined, trade: undefined, via: undefined })}>
            every run →
          </button>
        </>
      )}
    </div>
  );
});
