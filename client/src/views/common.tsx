// What the views share: their time charts (drawn from a query's answer, brushed to zoom every
// view), the lines of a per-run series, and the notes and errors under what they draw.
import { memo, useMemo } from 'react';
import { Chart, type ChartLine, type ChartProps } from '../components/Chart.js';
import type { ErrorKind } from '../errors.js';
import { ms } from '../format.js';
import { usePerfOverlay } from '../perf-overlay.js';
import type { QueryState } from '../query.js';
import { navigate, type Route } from '../route.js';
import { runColorOf, runLabel } from '../runs.js';
import type { Theme } from '../theme.js';
import type { AskQuery, DatasetSchema, TimeSeries } from '../worker/types.js';

/** One line per run of a time series' column, in the run's color. */
export function seriesLines(ts: TimeSeries | undefined, column: string, dataset: DatasetSchema, theme: Theme, extra: { fill?: boolean; suffix?: string; dash?: number[] } = {}): ChartLine[] {
  if (!ts) return [];
  return ts.runs.map((runId, k) => {
    const color = runColorOf(dataset, runId, theme);
    return {
      label: `${runLabel(dataset, runId)}${extra.suffix ?? ''}`,
      color,
      values: ts.values[column]![k]!,
      ...(extra.fill ? { fill: `${color}24` } : {}),
      ...(extra.dash ? { dash: extra.dash } : {}),
    };
  });
}

/** A time chart's zoom: a drag across it (epoch seconds) zooms every view to that range; a double-click shows all. */
function useZoom(route: Route): Pick<ChartProps, 'onSelectRange' | 'onResetRange'> {
  return useMemo(
    () => ({
      onSelectRange: (fromSec: number, toSec: number) => {
        const from = Math.floor(fromSec) * 1000;
        const to = Math.ceil(toSec) * 1000;
        if (to - from < 60_000) return;
        navigate({ ...route, from, to, trade: undefined });
      },
      onResetRange: () => navigate({ ...route, from: undefined, to: undefined, trade: undefined }),
    }),
    [route],
  );
}

export type TimeChartProps = Omit<ChartProps, 'exact' | 'placeholder' | 'onSelectRange' | 'onResetRange' | 'onClickX'> & {
  /** The query the chart draws: stale while a newer answer loads, or failed. */
  state: { stale: boolean; error: string | null };
  route: Route;
  /** The answer has no points in the range. */
  empty: boolean;
  emptyText?: string;
};

/** A chart of a view's time series, brushable: what it draws follows from its query's state. */
export const TimeChart = memo(function TimeChart({ state, route, empty, emptyText = 'No bars in this range.', data, ...chart }: TimeChartProps) {
  const zoom = useZoom(route);
  const placeholder = empty ? emptyText : state.error ? `Could not load: ${state.error}` : 'Loading…';
  return <Chart {...chart} data={empty ? null : data} exact={!state.stale} placeholder={placeholder} {...zoom} />;
});

/** A small line under a chart: what the answer is (preview, approximate, notes, timing) or why it failed. */
/** What the answer on screen is (loading, a preview, approximate, its notes); with the performance overlay on, how fast it came too. */
export function QueryNote<Q extends AskQuery>({ state }: { state: QueryState<Q> }) {
  const timings = usePerfOverlay();
  if (state.error) return <span className="hint hint-error">{state.error}</span>;
  const a = state.answer;
  if (!a) return <span className="hint">{state.loading ? 'loading…' : ''}</span>;
  const parts: string[] = [];
  if (a.provisional) parts.push('preview, refining…');
  else if (state.loading) parts.push('updating…');
  if (a.approximate && !a.provisional) parts.push('approximate');
  if (timings && !a.provisional) parts.push(a.cached ? 'from cache' : `${ms(a.elapsedMs)}`);
  return (
    <span className="hint" title={a.notes.join('\n') || undefined} data-provisional={String(a.provisional)}>
      {parts.join(' · ')}
      {a.notes.length > 0 && !a.provisional ? ' · ⓘ' : ''}
    </span>
  );
}

export function ErrorBox({ message, kind }: { message: string; kind: ErrorKind | null }) {
  return (
    <div className="error-box" role="alert">
      {kind === 'bad-params' ? 'This view asks for something the dataset does not have: ' : 'Could not load: '}
      {message}
    </div>
  );
}
