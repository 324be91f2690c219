// What the leaderboard and the surface share: the runs' parameters (runs.params, flattened in the
// catalog) as columns and filters, and the per-run metrics of a parameter sweep over a range and
// filters. The metrics are summary's KPIs (run-kpis.ts: one computation) plus the excess return
// over the benchmark and the deflated Sharpe ratio, which needs every run of the dataset (its
// trials): so every run's daily rows are read, whichever runs the request selects.
import { PARAM_COLUMN_PREFIX, type LeaderboardMetric } from '../../../shared/constants.js';
import type { ParamFilters } from '../../../shared/messages.js';
import { textColumn, type Columns, type OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import { NOTHING_TO_READ, type Lookup, type Statement } from './plan.js';
import { dailySharpe, deflatedSharpe, finiteVariance } from './risk-metrics.js';
import { dailyKpiSql, runKpis, tradeStatsByRun, type KpiName } from './run-kpis.js';
import { planRange, type Scope } from './scope.js';
import { capitalOfRun } from './sources.js';
import { Binder } from './sql.js';
import { keepWholeDays, sliceWholeDays, wholeDaysSql, withRows, type Segments } from './sweep-days.js';
import { msRangeOfCut } from './trade-source.js';

type ParamValue = number | string | boolean | null;

/** Every parameter name of the dataset's runs, sorted. */
export function paramNames(catalog: Pick<Catalog, 'runs'>): string[] {
  const names = new Set<string>();
  for (const run of catalog.runs.values()) for (const key of Object.keys(run.params)) names.add(key);
  return [...names].sort();
}

/** Throws bad-params unless `name` is a parameter of the dataset; `what` says where it was named. */
export function checkParamName(name: string, catalog: Pick<Catalog, 'runs'>, what: string): void {
  const known = paramNames(catalog);
  if (known.includes(name)) return;
  throw new BadParamsError(
    `unknown parameter ${JSON.stringify(name)} in ${what}; ${known.length === 0 ? 'the runs of this dataset have no parameters' : `the runs' parameters are ${known.join(', ')}`}`,
  );
}

/** A run's value of a parameter; undefined when it has none (absent or null). */
function valueOf(catalog: Pick<Catalog, 'runs'>, run: string, name: string): ParamValue | undefined {
  const value = catalog.runs.get(run)?.params[name];
  return value === null || value === undefined ? undefined : value;
}

/** The runs (in order) whose parameters pass every condition; a run without the parameter fails. */
export function filterByParams(runs: readonly string[], filters: ParamFilters | undefined, catalog: Pick<Catalog, 'runs'>): string[] {
  if (!filters || filters.length === 0) return [...runs];
  for (const f of filters) {
    checkParamName(f.name, catalog, 'params filters');
    if (f.min !== undefined && f.max !== undefined && f.min > f.max) {
      throw new BadParamsError(`params filter on ${JSON.stringify(f.name)} is reversed: min ${f.min} is above max ${f.max}`);
    }
  }
  return runs.filter((run) =>
    filters.every((f) => {
      const value = valueOf(catalog, run, f.name);
      if (value === undefined) return false;
      if (f.values && !f.values.some((v) => v === value)) return false;
      if (f.min !== undefined || f.max !== undefined) {
        if (typeof value !== 'number') return false;
        if (f.min !== undefined && value < f.min) return false;
        if (f.max !== undefined && value > f.max) return false;
      }
      return true;
    }),
  );
}

/**
 * A parameter's values over `runs` as an answer column: Float64 when every run of the dataset
 * that has it has a number (NaN where a run lacks it), else Utf8 (null where absent), so a
 * parameter's column type does not change with the selection.
 */
export function paramColumn(name: string, column: string, runs: readonly string[], catalog: Pick<Catalog, 'runs'>): OutColumn {
  const numeric = [...catalog.runs.keys()].every((run) => {
    const value = valueOf(catalog, run, name);
    return value === undefined || typeof value === 'number';
  });
  if (numeric) {
    return { name: column, kind: 'f64', values: Float64Array.from(runs, (run) => (valueOf(catalog, run, name) as number | undefined) ?? Number.NaN) };
  }
  return textColumn(
    column,
    runs.map((run) => {
      const value = valueOf(catalog, run, name);
      return value === undefined ? null : String(value);
    }),
  );
}

/** The column name of a parameter in answers and sort keys. */
export const paramColumnName = (name: string) => `${PARAM_COLUMN_PREFIX}${name}`;

/** Every run of the dataset with its sweep metrics (LEADERBOARD_METRICS), by run index. */
export interface SweepMetrics {
  runs: readonly string[];
  values: Map<LeaderboardMetric, Float64Array>;
}

const FROM_KPIS: readonly (KpiName & LeaderboardMetric)[] = ['total_pnl', 'total_return', 'cagr', 'sharpe', 'sortino', 'max_drawdown', 'calmar', 'trade_count', 'trade_win_rate', 'turnover', 'fees'];

/** Sweep metrics kept per store and scope (the store is read-only, so they never go stale). */
const CACHE_SIZE = 32;
const metricsByStore = new WeakMap<Catalog, Map<string, { metrics: SweepMetrics; sources: string[] }>>();

/**
 * The statement reading every run's daily rows over the scope's range and filters, and the
 * computation of the sweep metrics from them (trade statistics looked up first). `answer` turns
 * the metrics into the columns sent. The metrics of a range and filters are the same whatever
 * the sort, window, selection or surface: kept, so the next sort or surface of the same view
 * reads nothing.
 */
export async function sweepStatement(
  lookup: Lookup,
  scope: Scope,
  catalog: Catalog,
  rfDaily: number,
  answer: (metrics: SweepMetrics) => OutColumn[],
): Promise<{ statement: Statement; sources: string[] }> {
  const key = JSON.stringify([scope.from, scope.to, scope.sectors, scope.symbols, scope.trade, rfDaily]);
  const cache = metricsByStore.get(catalog) ?? metricsByStore.set(catalog, new Map()).get(catalog)!;
  const kept = cache.get(key);
  if (kept) {
    cache.delete(key);
    cache.set(key, kept);
    return { statement: { sql: NOTHING_TO_READ, params: {}, compute: () => answer(kept.metrics) }, sources: kept.sources };
  }
  const all: Scope = { ...scope, runs: [...catalog.runs.keys()].sort(), allRuns: true };
  const keep = (metrics: SweepMetrics, sources: string[]) => {
    cache.set(key, { metrics, sources });
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
    return answer(metrics);
  };
  const slice = sliceWholeDays(catalog, all);
  if (slice) {
    // What the kept whole days do not hold: the trades of the UTC days the range cuts, and the
    // daily rows of the days whose bars it cuts.
    const stats = slice.stats;
    // (Listed as read; sourceOf names each table once.)
    const sources = [...slice.sources];
    for (const window of slice.tradeCuts) {
      const trades = await tradeStatsByRun(lookup, { ...all, ...msRangeOfCut(window) }, stats);
      sources.push(...trades.sources);
    }
    if (all.range.cuts.length === 0) {
      const metrics = sweepMetrics(slice.columns, all.runs, catalog, stats, rfDaily, slice.segments);
      return { statement: { sql: NOTHING_TO_READ, params: {}, compute: () => keep(metrics, sources) }, sources };
    }
    const b = new Binder();
    const cutDays = all.range.cuts.map((cut) => dailyKpiSql(b, { ...all, from: cut.from, to: cut.to, range: planRange(cut.from, cut.to, catalog) }, catalog, { benchmark: true }));
    for (const day of cutDays) sources.push(...day.sources);
    const sql = cutDays.map((day) => `SELECT * FROM (${day.sql})`).join('\nUNION ALL\n');
    const compute = (read: Columns) => keep(sweepMetrics(withRows(slice.columns, slice.segments, read), all.runs, catalog, stats, rfDaily), sources);
    return { statement: { sql, params: b.params, compute }, sources };
  }
  const trades = await tradeStatsByRun(lookup, all);
  const b = new Binder();
  const whole = wholeDaysSql(b, all, catalog);
  const daily = whole ?? dailyKpiSql(b, all, catalog, { benchmark: true });
  const sources = [...daily.sources, ...trades.sources];
  const compute = (read: Columns) => {
    const columns = whole ? keepWholeDays(catalog, all.runs, read, trades.stats, sources) : read;
    return keep(sweepMetrics(columns, all.runs, catalog, trades.stats, rfDaily), sources);
  };
  return { statement: { sql: daily.sql, params: b.params, compute }, sources };
}

function sweepMetrics(
  columns: Columns,
  runs: readonly string[],
  catalog: Catalog,
  trades: Parameters<typeof runKpis>[3],
  rfDaily: number,
  segments?: Segments,
): SweepMetrics {
  const kpis = runKpis(columns, runs, (run) => capitalOfRun(catalog, run), trades, rfDaily, segments);
  const values = new Map<LeaderboardMetric, Float64Array>();
  for (const name of FROM_KPIS) values.set(name, kpis.values.get(name)!);
  const bret = kpis.columns.get('bret') as Float64Array;
  const totalReturn = kpis.values.get('total_return')!;
  // The benchmark compounded over the run's days that have a benchmark return: risk's benchmark_return.
  values.set(
    'excess_return',
    Float64Array.from(runs, (_, r) => {
      const { start, end } = kpis.rows[r]!;
      let growth = 1;
      let paired = 0;
      for (let i = start; i < end; i++) {
        if (Number.isNaN(bret[i]!)) continue;
        growth *= 1 + bret[i]!;
        paired++;
      }
      return paired > 0 ? totalReturn[r]! - (growth - 1) : Number.NaN;
    }),
  );
  const sharpes = Float64Array.from(kpis.returns, (returns) => dailySharpe(returns, rfDaily));
  const variance = finiteVariance(sharpes);
  values.set('deflated_sharpe', Float64Array.from(kpis.returns, (returns) => deflatedSharpe(returns, rfDaily, catalog.runs.size, variance)));
  return { runs, values };
}
