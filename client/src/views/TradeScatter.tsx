// The chart traders place stops with: each trade in scope a point, its maximum adverse excursion
// (or, toggled, its maximum favorable excursion) across, its final return up; a click opens the
// trade in its symbol's view, as a row of the trade list does. Past the server's cap the points are
// a uniform sample, and the card says how many of how many.
import { memo, useMemo, useState } from 'react';
import { Card } from '../components/Card.js';
import { Scatter } from '../components/Scatter.js';
import { compactCount, count, percent, pnl } from '../format.js';
import { useQuery } from '../query.js';
import { useOnScreen } from '../use-on-screen.js';
import { hasTradeFilters, navigate, type Route } from '../route.js';
import { runLabel } from '../runs.js';
import { scatterSpec, tradeRoute } from '../specs.js';
import { num, str } from '../table.js';
import type { DatasetSchema } from '../worker/types.js';

const HEIGHT = 320;
type Excursion = 'mae' | 'mfe';
const AXIS_LABEL: Record<Excursion, string> = { mae: 'MAE (worst excursion)', mfe: 'MFE (best excursion)' };

/** Tick labels in percent, with the decimals the step between ticks needs (0.5% steps: one). */
function tickPercent(v: number, step: number): string {
  const digits = Math.min(4, Math.max(0, Math.ceil(-Math.log10(step * 100) - 1e-9)));
  return percent(v, { digits });
}

export const TradeScatter = memo(function TradeScatter({ route, dataset, enabled }: { route: Route; dataset: DatasetSchema; enabled: boolean }) {
  const [excursion, setExcursion] = useState<Excursion>('mae');
  // Out of sight (the overview's last card), its answer waits for those of the views in sight.
  const [ref, onScreen] = useOnScreen<HTMLElement>();
  const state = useQuery(enabled ? scatterSpec(route) : null, { name: 'overview.scatter', low: !onScreen });
  const t = state.answer?.data ?? null;
  const x = useMemo(() => (t ? (t.columns[excursion] as Float64Array | undefined) ?? null : null), [t, excursion]);
  const y = (t?.columns.ret as Float64Array | undefined) ?? null;
  const total = state.answer?.total ?? null;
  const shown = t?.length ?? 0;
  const multiRun = dataset.runs.length > 1;

  const describe = (i: number) => {
    if (!t) return '';
    const run = str(t, 'run_id', i);
    return [
      `${str(t, 'symbol', i)} · trade ${num(t, 'trade_id', i)}${multiRun ? ` (${runLabel(dataset, run)})` : ''}`,
      `MAE ${percent(num(t, 'mae', i), { signed: true })} · MFE ${percent(num(t, 'mfe', i), { signed: true })}`,
      `return ${percent(num(t, 'ret', i), { signed: true })} · P&L ${pnl(num(t, 'pnl', i))}`,
      'click to open the trade',
    ].join('\n');
  };

  const open = (i: number) => {
    if (!t) return;
    navigate(
      tradeRoute(
        route,
        { run: str(t, 'run_id', i), id: num(t, 'trade_id', i), symbol: str(t, 'symbol', i), entryTs: num(t, 'entry_ts', i), exitTs: num(t, 'exit_ts', i) },
        'trades',
      ),
    );
  };

  const counted =
    total === null ? '' : total > shown ? `${count(shown)} of ${compactCount(total)} trades, a uniform sample` : `${count(total)} trades`;
  const filtered = hasTradeFilters(route) ? 'filtered ' : '';
  const placeholder = state.error ? `Could not load: ${state.error}` : t ? `No ${filtered}trades closed in this range.` : 'Loading…';
  return (
    <Card
      ref={ref}
      title="Trade excursions"
      data-testid="trade-scatter-card"
      aside={
        <span className="scatter-controls">
          <span className="hint" data-testid="trade-scatter-count">
            {counted}
            {counted ? ' · ' : ''}green won, red lost · click a point to open its trade
          </span>
          {(['mae', 'mfe'] as const).map((e) => (
            <button key={e} type="button" aria-pressed={excursion === e} data-testid={`scatter-${e}`} onClick={() => setExcursion(e)}>
              {e.toUpperCase()}
            </button>
          ))}
        </span>
      }
    >
      <Scatter
        testId="trade-scatter"
        x={x}
        y={y}
        height={HEIGHT}
        exact={!state.stale}
        xLabel={AXIS_LABEL[excursion]}
        yLabel="Return"
        tickFormat={tickPercent}
        describe={describe}
        onPick={open}
        placeholder={placeholder}
      />
    </Card>
  );
});
