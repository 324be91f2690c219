// The parameter surface: a metric over one parameter (a line, and its cells in a row) or two (a
// grid of cells); each cell is the median of the metric over its runs (one run: its own value, the
// leaderboard's), and a click pins the cell's best run. The other parameters are narrowed by the
// leaderboard's parameter filter, the runs by the range and trade filters as everywhere.
import { useLayoutEffect, useMemo, useRef } from 'react';
import { LEADERBOARD_METRICS, type LeaderboardMetric } from '../../../shared/constants.js';
import { Card } from '../components/Card.js';
import { Chart, type ChartData } from '../components/Chart.js';
import { count } from '../format.js';
import { markDrawn } from '../perf.js';
import { useQuery } from '../query.js';
import { navigate, type Route } from '../route.js';
import { paramNames, sweptParams } from '../run-params.js';
import { runLabel, runTitle } from '../runs.js';
import { surfaceSpec } from '../specs.js';
import { METRIC_INFO } from '../sweep-metrics.js';
import type { SurfaceChoice } from '../sweep-route.js';
import { num, str } from '../table.js';
import { cssVar, useTheme } from '../theme.js';
import type { ColumnTable, DatasetSchema } from '../worker/types.js';
import { QueryNote } from './common.js';
import './sweep.css';

interface Cell {
  x: string;
  y: string;
  value: number;
  best: number;
  bestRun: string;
  runs: number;
}

/** The route's surface when it names parameters the runs have; else the first two swept ones. */
export function surfaceChoice(route: Route, dataset: DatasetSchema): SurfaceChoice | null {
  const names = paramNames(dataset);
  const chosen = route.surface;
  if (chosen && names.includes(chosen.x) && (!chosen.y || names.includes(chosen.y))) return chosen;
  const swept = sweptParams(dataset);
  if (swept.length === 0) return null;
  return { x: swept[0]!, ...(swept[1] ? { y: swept[1] } : {}), metric: chosen?.metric ?? 'sharpe' };
}

function cellsOf(t: ColumnTable): Cell[] {
  const cells: Cell[] = [];
  for (let i = 0; i < t.length; i++) {
    cells.push({
      x: str(t, 'x', i),
      y: t.columns.y ? str(t, 'y', i) : '',
      value: num(t, 'value', i),
      best: num(t, 'best', i),
      bestRun: str(t, 'best_run_id', i),
      runs: num(t, 'runs', i),
    });
  }
  return cells;
}

/** Distinct values in the answer's order (sorted by the server: numbers as numbers). */
function distinct(values: string[]): string[] {
  return [...new Set(values)];
}

function cellColor(value: number, lo: number, hi: number, signed: boolean): string | undefined {
  if (!Number.isFinite(value)) return undefined;
  if (signed) {
    const scale = Math.max(Math.abs(lo), Math.abs(hi));
    if (scale === 0) return undefined;
    const a = (Math.min(1, Math.abs(value) / scale) * 0.75 + 0.08).toFixed(3);
    return value >= 0 ? `rgba(22, 163, 74, ${a})` : `rgba(220, 38, 38, ${a})`;
  }
  const a = (hi > lo ? ((value - lo) / (hi - lo)) * 0.75 + 0.08 : 0.4).toFixed(3);
  return `rgba(37, 99, 235, ${a})`;
}

export function Surface({ route, dataset, pinned, onPin }: { route: Route; dataset: DatasetSchema; pinned: ReadonlySet<string>; onPin: (run: string) => void }) {
  const theme = useTheme();
  const choice = surfaceChoice(route, dataset);
  const state = useQuery(choice ? surfaceSpec(route, dataset, choice) : null, { name: 'runs.surface' });
  const ref = useRef<HTMLDivElement>(null);
  const t = state.answer?.data;
  useLayoutEffect(() => {
    if (t) markDrawn(ref.current, !state.stale);
  }, [t, state.stale]);

  const cells = useMemo(() => (t ? cellsOf(t) : []), [t]);
  const info = choice ? METRIC_INFO[choice.metric] : null;
  const numericX = !!t && t.columns.x instanceof Float64Array;

  const line = useMemo((): ChartData | null => {
    if (!t || !numericX || choice?.y || cells.length === 0 || !info) return null;
    const x = t.columns.x as Float64Array;
    return {
      x,
      lines: [
        { label: `median ${info.label}`, color: cssVar('--accent') || '#2563eb', values: Float64Array.from(cells, (c) => c.value), format: info.format },
        { label: `best ${info.label}`, color: '#16a34a', dash: [4, 3], values: Float64Array.from(cells, (c) => c.best), format: info.format },
      ],
      gapFree: cells.every((c) => Number.isFinite(c.value) && Number.isFinite(c.best)),
      points: cells.length,
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [t, numericX, cells, info, choice?.y, theme]);

  if (!choice || !info) {
    return (
      <Card title="Parameter surface">
        <div className="empty-state small" data-testid="surface-none">
          The runs have no parameter that takes more than one value: there is no surface to draw.
        </div>
      </Card>
    );
  }
  const names = paramNames(dataset);
  const set = (patch: Partial<SurfaceChoice>) => {
    const next = { ...choice, ...patch };
    if (next.y === next.x || next.y === '') delete next.y;
    navigate({ ...route, surface: next }, { replace: true, urgent: true });
  };
  const xs = distinct(cells.map((c) => c.x));
  const numericY = !!t && t.columns.y instanceof Float64Array;
  const ys = choice.y ? distinct(cells.map((c) => c.y)).sort((a, b) => (numericY ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0)) : [''];
  const byKey = new Map(cells.map((c) => [`${c.x}\u0000${c.y}`, c]));
  const finite = cells.map((c) => c.value).filter(Number.isFinite);
  const lo = finite.length ? Math.min(...finite) : 0;
  const hi = finite.length ? Math.max(...finite) : 0;
  const clickX = (x: number) => {
    if (!t || !numericX) return;
    const values = t.columns.x as Float64Array;
    let at = 0;
    for (let i = 1; i < values.length; i++) if (Math.abs(values[i]! - x) < Math.abs(values[at]! - x)) at = i;
    const cell = cells[at];
    if (cell?.bestRun) onPin(cell.bestRun);
  };

  return (
    <Card
      title="Parameter surface"
      data-testid="surface"
      aside={
        <span className="hint">
          median {info.label} of each cell’s runs · click a cell to pin its best run · <QueryNote state={state} />
        </span>
      }
    >
      <div className="filters surface-controls">
        <label className="filter">
          <span>Across</span>
          <select data-testid="surface-x" value={choice.x} onChange={(e) => set({ x: e.target.value })}>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label className="filter">
          <span>Down</span>
          <select data-testid="surface-y" value={choice.y ?? ''} onChange={(e) => set({ y: e.target.value })}>
            <option value="">— none: a line</option>
            {names
              .filter((n) => n !== choice.x)
              .map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
          </select>
        </label>
        <label className="filter">
          <span>Metric</span>
          <select data-testid="surface-metric" value={choice.metric} onChange={(e) => set({ metric: e.target.value as LeaderboardMetric })}>
            {LEADERBOARD_METRICS.map((m) => (
              <option key={m} value={m}>
                {METRIC_INFO[m].label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div ref={ref} className={`heatmap surface${state.stale ? ' stale' : ''}`} data-testid="surface-body" data-cells={cells.length}>
        {state.error && <div className="error-box">Could not draw the surface: {state.error}</div>}
        {!t && !state.error && <div className="chart-placeholder static">Loading…</div>}
        {t && cells.length === 0 && <div className="empty-state small">No run with a value of {choice.y ? `${choice.x} and ${choice.y}` : choice.x} passes the filters.</div>}
        {line && (
          <Chart
            testId="surface-line"
            data={line}
            exact={!state.stale}
            time={null}
            height={220}
            yFormat={info.format}
            valueFormat={info.format}
            xFormat={(v) => String(v)}
            placeholder="Loading…"
            onClickX={clickX}
          />
        )}
        {cells.length > 0 && (
          <table className="heat surface-grid">
            <thead>
              <tr>
                <th>{choice.y ? `${choice.y} \\ ${choice.x}` : choice.x}</th>
                {xs.map((x) => (
                  <th key={x}>{x}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {ys.map((y) => (
                <tr key={y}>
                  <th>{choice.y ? y : info.label}</th>
                  {xs.map((x) => {
                    const c = byKey.get(`${x}\u0000${y}`);
                    if (!c) return <td key={x} className="none" />;
                    const isPinned = pinned.has(c.bestRun);
                    return (
                      <td
                        key={x}
                        className={`has${isPinned ? ' pinned' : ''}`}
                        data-testid="surface-cell"
                        data-x={c.x}
                        data-y={c.y}
                        data-value={c.value}
                        data-best-run={c.bestRun}
                        data-runs={c.runs}
                        style={{ background: cellColor(c.value, lo, hi, info.signed) }}
                        title={`${choice.x} ${c.x}${choice.y ? `, ${choice.y} ${c.y}` : ''}: ${info.label} ${info.format(c.value)}${
                          c.runs > 1 ? ` (median of ${count(c.runs)} runs; best ${info.format(c.best)}, ${runTitle(dataset, c.bestRun)})` : ` (${runTitle(dataset, c.bestRun)})`
                        }${isPinned ? ' · pinned' : ' · click to pin'}`}
                        onClick={c.bestRun ? () => onPin(c.bestRun) : undefined}
                      >
                        {info.format(c.value)}
                        {c.runs > 1 && <small className="cell-run">{runLabel(dataset, c.bestRun)}</small>}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </Card>
  );
}
