// The runs leaderboard: every run in scope (the scope's runs, then the `params` filters, both
// decided from the catalog, so the total is known before any read) as a row of its parameters
// and its sweep metrics over the range and filters (sweep.ts: summary's KPIs, the excess return
// and the deflated Sharpe ratio), sorted and windowed in the session: a thousand runs are a
// thousand rows, so the sort is cheaper than a second round trip through DuckDB.
import { LEADERBOARD_METRICS, PARAM_COLUMN_PREFIX, type LeaderboardMetric } from '../../../shared/constants.js';
import type { LeaderboardParams } from '../../../shared/messages.js';
import type { OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import { sourceOf, type Planner } from './plan.js';
import { dailyRiskFree } from './risk-metrics.js';
import { hasTradeFilters, resolveScope } from './scope.js';
import { checkParamName, filterByParams, paramColumn, paramColumnName, paramNames, sweepStatement, type SweepMetrics } from './sweep.js';

const INTEGER_METRICS: ReadonlySet<LeaderboardMetric> = new Set(['trade_count']);

/** A sort key: each run's value (by its index in the metrics); NaN or undefined when it has none. */
type SortKey = (run: string, r: number) => number | string | undefined;

export function planLeaderboard(params: LeaderboardParams, catalog: Catalog): Planner {
  const scope = resolveScope(params, catalog);
  const selected = filterByParams(scope.runs, params.params, catalog);
  const column = params.sort?.column ?? 'run_id';
  const descending = params.sort?.descending ?? false;
  checkSortColumn(column, catalog);
  const rfDaily = dailyRiskFree(params.riskFreeRate ?? catalog.riskFreeRate);
  const offset = params.offset ?? 0;
  const names = paramNames(catalog);
  return async (lookup) => {
    const { statement, sources } = await sweepStatement(lookup, scope, catalog, rfDaily, (metrics) => {
      const indexOf = new Map(metrics.runs.map((run, i) => [run, i]));
      const key = sortKey(column, metrics, catalog);
      const ordered = sortRuns(selected, (run) => indexOf.get(run)!, key, descending);
      const window = ordered.slice(offset, offset + params.limit);
      return leaderboardColumns(window, window.map((run) => indexOf.get(run)!), metrics, names, catalog);
    });
    return {
      statements: [statement],
      source: sourceOf(sources),
      total: selected.length,
      notes: [
        `deflated Sharpe: ${catalog.runs.size} trials (every run of the dataset)`,
        ...(hasTradeFilters(scope) ? ['trade filters restrict the trade statistics only; P&L and returns are over every position of the selected runs and dimensions'] : []),
      ],
    };
  };
}

function checkSortColumn(column: string, catalog: Catalog): void {
  if (column === 'run_id' || column === 'name' || (LEADERBOARD_METRICS as readonly string[]).includes(column)) return;
  if (column.startsWith(PARAM_COLUMN_PREFIX)) {
    checkParamName(column.slice(PARAM_COLUMN_PREFIX.length), catalog, `sort column ${JSON.stringify(column)}`);
    return;
  }
  throw new BadParamsError(
    `unknown sort column ${JSON.stringify(column)}; sort by run_id, name, ${PARAM_COLUMN_PREFIX}<parameter> or one of ${LEADERBOARD_METRICS.join(', ')}`,
  );
}

function sortKey(column: string, metrics: SweepMetrics, catalog: Catalog): SortKey {
  if (column === 'run_id') return (run) => run;
  if (column === 'name') return (run) => catalog.runs.get(run)?.name ?? run;
  if (column.startsWith(PARAM_COLUMN_PREFIX)) {
    const values = paramColumn(column.slice(PARAM_COLUMN_PREFIX.length), column, metrics.runs, catalog);
    if (values.kind === 'utf8') return (_, r) => (values.index[r]! < 0 ? undefined : values.names[values.index[r]!]);
    if (values.kind === 'f64') return (_, r) => values.values[r]!;
  }
  const values = metrics.values.get(column as LeaderboardMetric)!;
  return (_, r) => values[r]!;
}

const missing = (v: number | string | undefined) => v === undefined || (typeof v === 'number' && Number.isNaN(v));

/**
 * The runs sorted by the key (numbers numerically, text by code point), missing values last in
 * either direction, ties by run_id.
 */
function sortRuns(runs: readonly string[], indexOf: (run: string) => number, key: SortKey, descending: boolean): string[] {
  const sign = descending ? -1 : 1;
  const value = new Map(runs.map((run) => [run, key(run, indexOf(run))]));
  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...runs].sort((a, b) => {
    const x = value.get(a);
    const y = value.get(b);
    if (missing(x) || missing(y)) return missing(x) === missing(y) ? byId(a, b) : missing(x) ? 1 : -1;
    return x === y ? byId(a, b) : (x! < y! ? -1 : 1) * sign;
  });
}

function leaderboardColumns(runs: readonly string[], at: readonly number[], metrics: SweepMetrics, names: readonly string[], catalog: Catalog): OutColumn[] {
  const index = Int32Array.from(runs, (_, i) => i);
  return [
    { name: 'run_id', kind: 'utf8', index, names: runs },
    { name: 'name', kind: 'utf8', index, names: runs.map((run) => catalog.runs.get(run)?.name ?? run) },
    ...names.map((name) => paramColumn(name, paramColumnName(name), runs, catalog)),
    ...LEADERBOARD_METRICS.map((name): OutColumn => {
      const all = metrics.values.get(name)!;
      const values = Float64Array.from(at, (r) => all[r]!);
      return INTEGER_METRICS.has(name) ? { name, kind: 'i32', values: Int32Array.from(values) } : { name, kind: 'f64', values };
    }),
  ];
}
