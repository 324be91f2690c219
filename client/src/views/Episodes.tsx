// The deepest drawdown episodes of each run in the range (from `episodes`), beside the drawdown
// chart. A click on one zooms every view to it, from just after its peak to its recovery (or the
// end of the range), and opens the attribution of that range.
import { memo, useLayoutEffect, useMemo, useRef } from 'react';
import '../components/waterfall.css';
import { count, dateText, percent, pnl } from '../format.js';
import { markDrawn } from '../perf.js';
import type { QueryState } from '../query.js';
import { navigate, type Route } from '../route.js';
import { runLabel } from '../runs.js';
import { num, str } from '../table.js';
import type { DatasetSchema } from '../worker/types.js';

const DAY_MS = 86_400_000;

interface EpisodeRow {
  run: string;
  rank: number;
  peak: number;
  fromStart: boolean;
  trough: number;
  recovery: number;
  depth: number;
  depthPnl: number;
  toTrough: number;
  toRecovery: number;
}

/** Each trading day's (UTC midnight) last bar, from the hello's calendar. */
function lastBars(dataset: DatasetSchema): Map<number, number> {
  const out = new Map<number, number>();
  const days = dataset.calendar.days;
  for (let i = 0; i + 1 < days.length; i += 2) out.set(Math.floor(days[i]! / DAY_MS) * DAY_MS, days[i + 1]!);
  return out;
}

/**
 * The range of an episode: from just after its peak day's last bar (the peak itself: the range's
 * P&L is then the fall and the climb back, and its max drawdown the episode's depth), or the
 * range's start when the peak is the starting capital, to its recovery day's last bar or the
 * range's end. Within the current range.
 */
export function episodeRange(e: Pick<EpisodeRow, 'peak' | 'fromStart' | 'recovery'>, route: Route, dataset: DatasetSchema, bars: Map<number, number>): { from: number; to: number } | null {
  const first = dataset.range?.from;
  const last = dataset.range?.to;
  if (first === undefined || last === undefined) return null;
  const rangeFrom = route.from ?? first;
  const rangeTo = route.to ?? last;
  const peakEnd = bars.get(e.peak);
  const from = e.fromStart || peakEnd === undefined ? rangeFrom : Math.max(rangeFrom, peakEnd + 1000);
  const recoveryEnd = Number.isFinite(e.recovery) ? bars.get(e.recovery) : undefined;
  const to = recoveryEnd === undefined ? rangeTo : Math.min(rangeTo, recoveryEnd);
  return to > from ? { from, to } : null;
}

export const Episodes = memo(function Episodes({ state, dataset, route }: { state: QueryState<'episodes'>; dataset: DatasetSchema; route: Route }) {
  const ref = useRef<HTMLDivElement>(null);
  const t = state.answer?.data;
  useLayoutEffect(() => {
    if (t) markDrawn(ref.current, !state.stale);
  }, [t, state.stale]);
  const bars = useMemo(() => lastBars(dataset), [dataset]);
  const rows = useMemo((): EpisodeRow[] => {
    if (!t) return [];
    return Array.from({ length: t.length }, (_, i) => ({
      run: str(t, 'run_id', i),
      rank: num(t, 'rank', i),
      peak: num(t, 'peak_ts', i),
      fromStart: num(t, 'from_start', i) === 1,
      trough: num(t, 'trough_ts', i),
      recovery: num(t, 'recovery_ts', i),
      depth: num(t, 'depth', i),
      depthPnl: num(t, 'depth_pnl', i),
      toTrough: num(t, 'days_to_trough', i),
      toRecovery: num(t, 'days_to_recovery', i),
    }));
  }, [t]);
  const multiRun = new Set(rows.map((r) => r.run)).size > 1;

  const open = (e: EpisodeRow) => {
    const range = episodeRange(e, route, dataset, bars);
    if (!range) return;
    navigate({ ...route, ...range, trade: undefined, explain: {} });
  };

  return (
    <div className={state.stale ? 'stale' : undefined} data-testid="episodes" ref={ref}>
      {state.error && <div className="error-box">Could not load the drawdown episodes: {state.error}</div>}
      {!t && !state.error && <div className="chart-placeholder static">Loading…</div>}
      {t && rows.length === 0 && <div className="empty-state small">No drawdown in this range.</div>}
      {rows.length > 0 && (
        <table className="episodes">
          <thead>
            <tr>
              <th>{multiRun ? 'Run' : '#'}</th>
              <th>Peak</th>
              <th>Trough</th>
              <th>Recovery</th>
              <th>Depth</th>
              <th>Depth $</th>
              <th title="Trading days from the peak to the trough">To trough</th>
              <th title="Trading days from the peak to the recovery">To recovery</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr
                key={`${e.run}:${e.rank}`}
                data-run={e.run}
                data-rank={e.rank}
                onClick={() => open(e)}
                title="Zoom every view to this episode and explain it"
              >
                <td>{multiRun ? `${runLabel(dataset, e.run)} ${e.rank}` : e.rank}</td>
                <td>{e.fromStart ? `start (${dateText(e.peak)})` : dateText(e.peak)}</td>
                <td>{dateText(e.trough)}</td>
                <td>{Number.isFinite(e.recovery) ? dateText(e.recovery) : 'not recovered'}</td>
                <td className="neg">{percent(e.depth, { digits: 2 })}</td>
                <td className="neg">{pnl(e.depthPnl)}</td>
                <td>{count(e.toTrough)}</td>
                <td>{Number.isFinite(e.toRecovery) ? count(e.toRecovery) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
});
