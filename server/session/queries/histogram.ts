// Distribution of a trade field (pnl, return, holding time, MAE, MFE) or of daily returns, in
// `bins` equal-width bins over [min, max] (the data's own bounds unless given), per run with the
// same bins for every run. Bin i holds lo + (hi - lo) * i / bins <= v < the next edge, the last
// bin also its upper edge. With explicit bounds, values below and above are counted in bins -1
// and `bins` (edges -Infinity / +Infinity), so nothing is silently dropped.
import type { HistogramParams } from '../../../shared/protocol.js';
import { StoreTable } from '../../store/format.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import { sourceOf, type Planner } from './plan.js';
import { resolveScope, tradeConditions, tradeFilterNote } from './scope.js';
import { capitalsSql, dailyCtes } from './sources.js';
import { Binder } from './sql.js';
import { tradeFrom } from './trade-source.js';

const TRADE_FIELDS = new Set<string>(['pnl', 'ret', 'bars_held', 'holding_ms', 'mae', 'mfe']);

export function planHistogram(params: HistogramParams, catalog: Catalog): Planner {
  const scope = resolveScope(params, catalog);
  if (params.min !== undefined && params.max !== undefined && params.min > params.max) {
    throw new BadParamsError(`histogram bounds are reversed: min ${params.min} is above max ${params.max}`);
  }
  if (params.field !== 'daily_return' && !TRADE_FIELDS.has(params.field)) {
    // The field is one of the protocol's literals, never client text; checked again here.
    throw new BadParamsError(`no histogram of ${JSON.stringify(params.field)}`);
  }
  const capitalOf = (run: string) => catalog.runs.get(run)?.capital ?? null;
  /** The CTEs yielding hv(run_id, v) and the run list, with their own parameters. */
  const valuesOf = (b: Binder) => {
    if (params.field === 'daily_return') {
      const daily = dailyCtes(b, scope, capitalOf);
      return {
        ctes: `${daily.ctes}, hv AS (SELECT run_id, ret AS v FROM daily WHERE ret IS NOT NULL), hr AS (SELECT run_id FROM caps)`,
        sources: daily.sources,
        notes: tradeFilterNote(scope, 'daily returns'),
      };
    }
    return {
      ctes: `hr AS (${capitalsSql(b, scope.runs, () => null)}),
        hv AS (SELECT run_id, ${params.field}::DOUBLE AS v FROM ${tradeFrom(b, scope)}
               WHERE ${tradeConditions(b, scope)} AND ${params.field} IS NOT NULL)`,
      sources: [scope.symbols ? StoreTable.trades : StoreTable.tradeList],
      notes: [],
    };
  };
  return async (lookup) => {
    // The bounds first (a single aggregate), so the binning pass has constants to work with.
    let lo: number | null = params.min ?? null;
    let hi: number | null = params.max ?? null;
    if (lo === null || hi === null) {
      const b = new Binder();
      const v = valuesOf(b);
      const [[min, max]] = (await lookup(`WITH ${v.ctes} SELECT min(v), max(v) FROM hv`, b.params)) as [[number | null, number | null]];
      lo ??= min;
      hi ??= max;
    }
    const b = new Binder();
    const v = valuesOf(b);
    const bins = b.number(params.bins);
    const l = lo === null ? 'NULL::DOUBLE' : b.number(lo);
    const h = hi === null ? 'NULL::DOUBLE' : b.number(hi);
    const sql = `
      WITH ${v.ctes},
      hg AS (
        SELECT run_id,
          (CASE WHEN v < ${l} THEN -1 WHEN v > ${h} THEN ${bins} WHEN ${h} = ${l} THEN 0
                ELSE least(floor((v - ${l}) / (${h} - ${l}) * ${bins}), ${bins} - 1) END)::INTEGER AS bin
        FROM hv
      ),
      hc AS (SELECT run_id, bin, count(*) AS n FROM hg GROUP BY run_id, bin),
      grid AS (
        SELECT r.run_id, i::INTEGER AS bin FROM hr r, range(0, ${bins}::BIGINT) t(i)
        UNION SELECT run_id, bin FROM hc
      )
      SELECT g.run_id, g.bin,
        CASE WHEN g.bin < 0 THEN '-Infinity'::DOUBLE WHEN g.bin >= ${bins} THEN ${h} ELSE ${l} + (${h} - ${l}) * g.bin / ${bins} END AS lo,
        CASE WHEN g.bin < 0 THEN ${l} WHEN g.bin >= ${bins} THEN 'Infinity'::DOUBLE ELSE ${l} + (${h} - ${l}) * (g.bin + 1) / ${bins} END AS hi,
        coalesce(c.n, 0)::INTEGER AS count
      FROM grid g LEFT JOIN hc c ON c.run_id = g.run_id AND c.bin = g.bin
      ORDER BY g.run_id, g.bin`;
    return { statements: [{ sql, params: b.params }], source: sourceOf(v.sources), notes: v.notes };
  };
}
