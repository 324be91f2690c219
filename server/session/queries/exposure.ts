// Gross, net, long and short exposure per run over time, M4-downsampled (each of the four series
// keeps its exact first, last, minimum and maximum per pixel column). From the bar table of the
// level the filters need; M4 runs in the session (compute.ts).
import type { ExposureParams } from '../../../shared/protocol.js';
import { byRunAndTime, m4, pick, reorder, type Columns, type OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { sourceOf, type QueryPlan } from './plan.js';
import { resolveScope, timeCondition, tradeFilterNote } from './scope.js';
import { barRows, levelFor, onePerBar, runIndexSql } from './sources.js';
import { Binder } from './sql.js';

const SERIES = ['gross', 'net', 'long', 'short'] as const;

export function planExposure(params: ExposureParams, catalog: Catalog): QueryPlan {
  const scope = resolveScope(params, catalog);
  const b = new Binder();
  const level = levelFor(scope);
  const rows = barRows(b, level, scope, timeCondition(b, 'ts', scope));
  const ri = runIndexSql(b, scope.runs);
  const sql =
    onePerBar(level, scope)
      ? `SELECT ${ri} AS ri, epoch_ms(ts)::DOUBLE AS t, gross, net, long, short FROM (${rows.sql})`
      : `SELECT ${ri} AS ri, epoch_ms(ts)::DOUBLE AS t, sum(gross) AS gross, sum(net) AS net, sum(long) AS long, sum(short) AS short
         FROM (${rows.sql}) GROUP BY run_id, ts ORDER BY ri, t`;
  return {
    statements: [{ sql, params: b.params, compute: (columns) => exposureColumns(columns, scope.runs, params.width) }],
    source: sourceOf(rows.sources),
    notes: tradeFilterNote(scope, 'exposures'),
  };
}

function exposureColumns(columns: Columns, runs: readonly string[], width: number): OutColumn[] {
  const { order, run, t } = byRunAndTime(columns);
  const series = SERIES.map((s) => reorder(columns.get(s) as Float64Array, order));
  const kept = m4(run, t, series, width);
  return [
    { name: 'run_id', kind: 'utf8', index: pick(run, kept), names: runs },
    { name: 'ts', kind: 'f64', values: pick(t, kept) },
    ...SERIES.map((name, i) => ({ name, kind: 'f64' as const, values: pick(series[i]!, kept) })),
  ];
}
