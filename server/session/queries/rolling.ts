// Rolling Sharpe, volatility and beta over a window of N trading days on the daily returns of the
// range (the window restarts at the range start, as drawdown does). Beta is to the equal-weighted
// market of the dataset (market_day): cov(r, m) / var(m), population moments over the window's
// days where both are defined (empyrical's beta). Each metric is NULL until the window holds N
// days. DuckDB builds the daily rows; the windows are one pass in the session.
import type { RollingParams } from '../../../shared/messages.js';
import { StoreTable } from '../../store/format.js';
import type { Columns, OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { sourceOf, type QueryPlan } from './plan.js';
import { resolveScope, tradeFilterNote } from './scope.js';
import { dailyCtes, runIndexSql } from './sources.js';
import { ANNUALIZATION } from './summary.js';
import { Binder } from './sql.js';

export function planRolling(params: RollingParams, catalog: Catalog): QueryPlan {
  const scope = resolveScope(params, catalog);
  const b = new Binder();
  const daily = dailyCtes(b, scope, catalog);
  const sql = `
    WITH ${daily.ctes}
    SELECT ${runIndexSql(b, scope.runs)} AS ri, epoch_ms(d.day::TIMESTAMP)::DOUBLE AS day, d.ret, m.ret AS mret
    FROM daily d LEFT JOIN ${StoreTable.marketDay} m ON m.day = d.day
    ORDER BY ri, day`;
  return {
    statements: [{ sql, params: b.params, compute: (columns) => rollingColumns(columns, scope.runs, params.window) }],
    source: sourceOf(daily.sources, StoreTable.marketDay),
    notes: tradeFilterNote(scope, 'returns'),
  };
}

function rollingColumns(columns: Columns, runs: readonly string[], window: number): OutColumn[] {
  const ri = columns.get('ri') as Int32Array;
  const ret = columns.get('ret') as Float64Array;
  const market = columns.get('mret') as Float64Array;
  const n = ri.length;
  const sharpe = new Float64Array(n).fill(Number.NaN);
  const volatility = new Float64Array(n).fill(Number.NaN);
  const beta = new Float64Array(n).fill(Number.NaN);
  let start = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0 && ri[i] !== ri[i - 1]) start = i;
    if (i - start + 1 < window) continue;
    const from = i - window + 1;
    let mean = 0;
    for (let j = from; j <= i; j++) mean += ret[j]!;
    mean /= window;
    let sq = 0;
    for (let j = from; j <= i; j++) sq += (ret[j]! - mean) ** 2;
    const sd = Math.sqrt(sq / (window - 1));
    volatility[i] = sd * Math.sqrt(ANNUALIZATION);
    sharpe[i] = sd === 0 ? Number.NaN : (mean / sd) * Math.sqrt(ANNUALIZATION);
    let pairs = 0;
    let mr = 0;
    let mm = 0;
    for (let j = from; j <= i; j++) {
      if (Number.isNaN(market[j]!) || Number.isNaN(ret[j]!)) continue;
      pairs++;
      mr += ret[j]!;
      mm += market[j]!;
    }
    if (pairs === 0) continue;
    mr /= pairs;
    mm /= pairs;
    let cov = 0;
    let variance = 0;
    for (let j = from; j <= i; j++) {
      if (Number.isNaN(market[j]!) || Number.isNaN(ret[j]!)) continue;
      cov += (ret[j]! - mr) * (market[j]! - mm);
      variance += (market[j]! - mm) ** 2;
    }
    beta[i] = variance === 0 ? Number.NaN : cov / variance;
  }
  return [
    { name: 'run_id', kind: 'utf8', index: ri, names: runs },
    { name: 'day', kind: 'f64', values: columns.get('day') as Float64Array },
    { name: 'ret', kind: 'f64', values: ret },
    { name: 'sharpe', kind: 'f64', values: sharpe },
    { name: 'volatility', kind: 'f64', values: volatility },
    { name: 'beta', kind: 'f64', values: beta },
  ];
}
