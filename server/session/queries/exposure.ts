// Gross, net, long and short exposure per run over time, M4-downsampled (each of the four series
// keeps its exact first, last, minimum and maximum per pixel column). From the bar table of the
// level the filters need; M4 runs in the session (compute.ts).
import type { ExposureParams } from '../../../shared/protocol.js';
import { byRunAndTime, m4, pick, reorder, type Columns, type OutColumn } from '../compute.js';
import type { TradingTime } from '../../../shared/trading-time.js';
import type { Catalog } from '../store.js';
import { sourceOf, type QueryPlan } from './plan.js';
import { resolveScope, tradeFilterNote } from './scope.js';
import { perBarSeries } from './sources.js';
import { Binder } from './sql.js';

const SERIES = ['gross', 'net', 'long', 'short'] as const;

export function planExposure(params: ExposureParams, catalog: Catalog): QueryPlan {
  const scope = resolveScope(params, catalog);
  const b = new Binder();
  const rows = perBarSeries(b, scope, SERIES);
  return {
    statements: [{ sql: rows.sql, params: b.params, compute: (columns) => exposureColumns(columns, scope.runs, params.width, catalog.tradingTime) }],
    source: sourceOf(rows.sources),
    notes: tradeFilterNote(scope, 'exposures'),
  };
}

function exposureColumns(columns: Columns, runs: readonly string[], width: number, time: TradingTime): OutColumn[] {
  const { order, run, t } = byRunAndTime(columns);
  const series = SERIES.map((s) => reorder(columns.get(s) as Float64Array, order));
  const kept = m4(run, time.toTradingAll(t), series, width);
  return [
    { name: 'run_id', kind: 'utf8', index: pick(run, kept), names: runs },
    { name: 'ts', kind: 'f64', values: pick(t, kept) },
    ...SERIES.map((name, i) => ({ name, kind: 'f64' as const, values: pick(series[i]!, kept) })),
  ];
}
