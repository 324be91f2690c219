// The parameter surface: one sweep metric over one parameter (a line) or two (a heatmap). Each
// cell is a distinct value (pair) of the runs in scope, holding the median and the best of the
// metric over its runs, computed from the very per-run metrics the leaderboard ranks (sweep.ts),
// so a cell of one run is exactly that run's leaderboard value.
import type { SurfaceParams } from '../../../shared/messages.js';
import type { OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import { sourceOf, type Planner } from './plan.js';
import { dailyRiskFree } from './risk-metrics.js';
import { hasTradeFilters, resolveScope } from './scope.js';
import { checkParamName, filterByParams, paramColumn, sweepStatement, type SweepMetrics } from './sweep.js';

export function planSurface(params: SurfaceParams, catalog: Catalog): Planner {
  const scope = resolveScope(params, catalog);
  checkParamName(params.x, catalog, 'x');
  if (params.y !== undefined) {
    checkParamName(params.y, catalog, 'y');
    if (params.y === params.x) throw new BadParamsError(`x and y are both ${JSON.stringify(params.x)}; a surface is over two different parameters`);
  }
  const axes = params.y === undefined ? [params.x] : [params.x, params.y];
  const selected = filterByParams(scope.runs, params.params, catalog);
  // A run without a value of an axis has no cell.
  const placed = selected.filter((run) => axes.every((axis) => catalog.runs.get(run)?.params[axis] != null));
  const rfDaily = dailyRiskFree(params.riskFreeRate ?? catalog.riskFreeRate);
  return async (lookup) => {
    const { statement, sources } = await sweepStatement(lookup, scope, catalog, rfDaily, (metrics) => surfaceColumns(placed, axes, params.metric, metrics, catalog));
    const unplaced = selected.length - placed.length;
    return {
      statements: [statement],
      source: sourceOf(sources),
      notes: [
        ...(unplaced > 0 ? [`${unplaced} of ${selected.length} runs have no value of ${axes.join(' or ')} and are in no cell`] : []),
        ...(params.metric === 'deflated_sharpe' ? [`deflated Sharpe: ${catalog.runs.size} trials (every run of the dataset)`] : []),
        ...(hasTradeFilters(scope) ? ['trade filters restrict the trade statistics only; P&L and returns are over every position of the selected runs and dimensions'] : []),
      ],
    };
  };
}

/** An axis's value of each run as a sortable key: the number, or the text. */
interface Axis {
  column: OutColumn;
  key: (i: number) => number | string;
}

function axisOf(name: string, column: string, runs: readonly string[], catalog: Catalog): Axis {
  const values = paramColumn(name, column, runs, catalog);
  return { column: values, key: values.kind === 'utf8' ? (i) => values.names[values.index[i]!]! : (i) => (values as { values: Float64Array }).values[i]! };
}

const compare = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);

/** The median of the non-NaN values (NaN if none): the mean of the two middle ones for an even count. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

function surfaceColumns(runs: readonly string[], axes: readonly string[], metric: SurfaceParams['metric'], metrics: SweepMetrics, catalog: Catalog): OutColumn[] {
  const indexOf = new Map(metrics.runs.map((run, i) => [run, i]));
  const all = metrics.values.get(metric)!;
  const names = ['x', 'y'];
  const axisColumns = axes.map((axis, a) => axisOf(axis, names[a]!, runs, catalog));
  // Cells keyed by their values' keys; runs in run_id order, so the best's ties go to the first run.
  const cells = new Map<string, number[]>();
  runs.forEach((_, i) => {
    const id = JSON.stringify(axisColumns.map((axis) => axis.key(i)));
    (cells.get(id) ?? cells.set(id, []).get(id)!).push(i);
  });
  const order = [...cells.values()].sort((p, q) => {
    for (const axis of axisColumns) {
      const c = compare(axis.key(p[0]!), axis.key(q[0]!));
      if (c !== 0) return c;
    }
    return 0;
  });
  const first = order.map((members) => members[0]!);
  const pick = (column: OutColumn): OutColumn =>
    column.kind === 'utf8'
      ? { ...column, index: Int32Array.from(first, (i) => column.index[i]!) }
      : { ...column, values: Float64Array.from(first, (i) => column.values[i]!) } as OutColumn;
  const bestRuns: string[] = [];
  const bestIndex = new Int32Array(order.length);
  const best = new Float64Array(order.length);
  const value = new Float64Array(order.length);
  order.forEach((members, c) => {
    const values = members.map((i) => all[indexOf.get(runs[i]!)!]!);
    value[c] = median(values);
    let at = -1;
    values.forEach((v, k) => {
      if (!Number.isNaN(v) && (at < 0 || v > values[at]!)) at = k;
    });
    best[c] = at < 0 ? Number.NaN : values[at]!;
    bestIndex[c] = at < 0 ? -1 : bestRuns.push(runs[members[at]!]!) - 1;
  });
  return [
    ...axisColumns.map((axis) => pick(axis.column)),
    { name: 'runs', kind: 'i32', values: Int32Array.from(order, (members) => members.length) },
    { name: 'value', kind: 'f64', values: value },
    { name: 'best', kind: 'f64', values: best },
    { name: 'best_run_id', kind: 'utf8', index: bestIndex, names: bestRuns },
  ];
}
