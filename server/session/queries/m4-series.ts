// Time series of the scope's bar measures per run, downsampled with M4 in the session: for each
// pixel column the exact first and last points and the points of every series' minimum and
// maximum, so a chart drawn from the rows is pixel-identical to the full series. DuckDB reads and
// sums the bars (perBarSeries); the series and M4 are one pass here (compute.ts). What the equity
// and exposure queries are.
import { byRunAndTime, m4, pick, reorder, type Columns, type OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { sourceOf, type QueryPlan } from './plan.js';
import { resolveScope, tradeFilterNote, type ScopeParams } from './scope.js';
import { perBarSeries } from './sources.js';
import { Binder } from './sql.js';

export interface M4Series {
  /** The bar measures read (columns of barRows), summed per run and bar over the scope. */
  measures: readonly string[];
  /** What the series show, for the note when trade filters were given. */
  what: string;
  /** The series sent, from the measures (in `measures` order), in (run, time) order. */
  series: (measures: Float64Array[], run: Int32Array) => { name: string; values: Float64Array }[];
}

/** Rows run_id, ts and every series, M4-downsampled to `width` pixel columns of trading time. */
export function planM4Series(params: ScopeParams & { width: number }, catalog: Catalog, spec: M4Series): QueryPlan {
  const scope = resolveScope(params, catalog);
  const b = new Binder();
  const rows = perBarSeries(b, scope, spec.measures);
  const compute = (columns: Columns): OutColumn[] => {
    const { order, run, t } = byRunAndTime(columns);
    const series = spec.series(
      spec.measures.map((m) => reorder(columns.get(m) as Float64Array, order)),
      run,
    );
    const kept = m4(run, catalog.tradingTime.toTradingAll(t), series.map((s) => s.values), params.width);
    return [
      { name: 'run_id', kind: 'utf8', index: pick(run, kept), names: scope.runs },
      { name: 'ts', kind: 'f64', values: pick(t, kept) },
      ...series.map(({ name, values }) => ({ name, kind: 'f64' as const, values: pick(values, kept) })),
    ];
  };
  return {
    statements: [{ sql: rows.sql, params: b.params, compute }],
    source: sourceOf(rows.sources),
    notes: tradeFilterNote(scope, spec.what),
  };
}
