// Monthly returns by year (from `heatmap`), one grid per run; a click on a month zooms to it.
import { memo, useLayoutEffect, useMemo, useRef } from 'react';
import { percent, pnl } from '../format.js';
import { markDrawn } from '../perf.js';
import type { QueryState } from '../query.js';
import { navigate, type Route } from '../route.js';
import { runLabel } from '../runs.js';
import { num, str } from '../table.js';
import type { DatasetSchema } from '../worker/types.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

interface Cell {
  ret: number;
  pnl: number;
  days: number;
}

export const Heatmap = memo(function Heatmap({ state, dataset, route }: { state: QueryState<'heatmap'>; dataset: DatasetSchema; route: Route }) {
  const ref = useRef<HTMLDivElement>(null);
  const t = state.answer?.data;
  useLayoutEffect(() => {
    if (t) markDrawn(ref.current, !state.stale);
  }, [t, state.stale]);

  const grids = useMemo(() => {
    if (!t) return [];
    const runs = new Map<string, Map<number, (Cell | null)[]>>();
    let maxAbs = 0;
    for (let i = 0; i < t.length; i++) {
      const run = str(t, 'run_id', i);
      const year = num(t, 'year', i);
      const month = num(t, 'month', i);
      const cell = { ret: num(t, 'ret', i), pnl: num(t, 'pnl', i), days: num(t, 'days', i) };
      if (Number.isFinite(cell.ret)) maxAbs = Math.max(maxAbs, Math.abs(cell.ret));
      const years = runs.get(run) ?? runs.set(run, new Map()).get(run)!;
      const row = years.get(year) ?? years.set(year, new Array<Cell | null>(12).fill(null)).get(year)!;
      row[month - 1] = cell;
    }
    return [...runs.entries()].map(([run, years]) => ({ run, years: [...years.entries()].sort((a, b) => a[0] - b[0]), maxAbs }));
  }, [t]);

  const color = (ret: number, maxAbs: number) => {
    if (!Number.isFinite(ret) || maxAbs === 0) return undefined;
    const a = Math.min(1, Math.abs(ret) / maxAbs) * 0.75 + 0.08;
    return ret >= 0 ? `rgba(22, 163, 74, ${a.toFixed(3)})` : `rgba(220, 38, 38, ${a.toFixed(3)})`;
  };

  const zoomTo = (year: number, month: number) => {
    const from = Date.UTC(year, month - 1, 1);
    const to = Date.UTC(year, month, 1) - 1000;
    navigate({ ...route, from, to, trade: undefined });
  };

  return (
    <div className={`heatmap${state.stale ? ' stale' : ''}`} data-testid="heatmap" ref={ref}>
      {state.error && <div className="error-box">Could not load monthly returns: {state.error}</div>}
      {t && t.length === 0 && <div className="empty-state small">No trading days in this range.</div>}
      {!t && !state.error && <div className="chart-placeholder static">Loading…</div>}
      {grids.map(({ run, years, maxAbs }) => (
        <table key={run} className="heat">
          <caption>{grids.length > 1 ? runLabel(dataset, run) : ''}</caption>
          <thead>
            <tr>
              <th />
              {MONTHS.map((m) => (
                <th key={m}>{m}</th>
              ))}
              <th>Year</th>
            </tr>
          </thead>
          <tbody>
            {years.map(([year, months]) => {
              const total = months.reduce((acc, c) => (c && Number.isFinite(c.ret) ? acc * (1 + c.ret) : acc), 1) - 1;
              return (
                <tr key={year}>
                  <th>{year}</th>
                  {months.map((c, m) => (
                    <td
                      key={m}
                      style={c ? { background: color(c.ret, maxAbs) } : undefined}
                      className={c ? 'has' : 'none'}
                      title={c ? `${MONTHS[m]} ${year}: ${percent(c.ret, { signed: true })}, ${pnl(c.pnl)} over ${c.days} days` : undefined}
                      onClick={c ? () => zoomTo(year, m + 1) : undefined}
                    >
                      {c ? percent(c.ret, { signed: true, digits: 1 }) : ''}
                    </td>
                  ))}
                  <td className="year">{percent(total, { signed: true, digits: 1 })}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ))}
    </div>
  );
});
