// The benchmark's own line, per run over the range: what the run's capital would have made in the
// benchmark, capital x (prod(1 + b) - 1) over the run's days so far, restarting at the range start
// as the equity curve does; a day without a benchmark return carries the line flat. Each day's
// value is reached at its last bar in the range (`ts`) from the day before's at its first
// (`start_ts`), so the line lies on the equity chart's trading-time axis.
import type { BenchmarkParams } from '../../../shared/messages.js';
import type { Columns, OutColumn } from '../compute.js';
import { midnightOf, type Catalog } from '../store.js';
import { assertColumnLookup, NOTHING_TO_READ, sourceOf, type Planner } from './plan.js';
import { resolveScope } from './scope.js';
import { dailyRowsWithBenchmark } from './run-kpis.js';
import { capitalOfRun } from './sources.js';

export function planBenchmark(params: BenchmarkParams, catalog: Catalog): Planner {
  const scope = resolveScope(params, catalog);
  // Only the runs' calendars matter here, not the filtered P&L: the line is the benchmark's. Without
  // dimension filters these are the summary's and risk's daily rows, read once for the three.
  const { sectors: _sectors, symbols: _symbols, ...calendarScope } = scope;
  const bars = new Map(catalog.days.map((d) => [midnightOf(d.iso), d]));
  const capitals = scope.runs.map((run) => capitalOfRun(catalog, run) ?? Number.NaN);
  return async (_lookup, lookupColumns) => {
    assertColumnLookup(lookupColumns, 'benchmark reads its daily rows');
    const daily = await dailyRowsWithBenchmark(lookupColumns, calendarScope, catalog);
    return {
      statements: [{ sql: NOTHING_TO_READ, params: {}, compute: () => benchmarkColumns(daily.columns, scope.runs, capitals, (day) => {
        const d = bars.get(day);
        return d ? [Math.max(d.first, scope.from ?? -Infinity), Math.min(d.last, scope.to ?? Infinity)] : [day, day];
      }) }],
      source: sourceOf(daily.sources),
      notes: [`benchmark: ${catalog.benchmark.name}`],
    };
  };
}

function benchmarkColumns(columns: Columns, runs: readonly string[], capitals: readonly number[], barsOf: (day: number) => [number, number]): OutColumn[] {
  const ri = columns.get('ri') as Int32Array;
  const day = columns.get('day') as Float64Array;
  const ret = columns.get('bret') as Float64Array;
  const start = new Float64Array(ri.length);
  const ts = new Float64Array(ri.length);
  const equity = new Float64Array(ri.length);
  let growth = 1;
  for (let i = 0; i < ri.length; i++) {
    if (i === 0 || ri[i] !== ri[i - 1]) growth = 1;
    if (!Number.isNaN(ret[i]!)) growth *= 1 + ret[i]!;
    [start[i], ts[i]] = barsOf(day[i]!);
    equity[i] = capitals[ri[i]!]! * (growth - 1);
  }
  return [
    { name: 'run_id', kind: 'utf8', index: ri, names: runs },
    { name: 'day', kind: 'f64', values: day },
    { name: 'start_ts', kind: 'f64', values: start },
    { name: 'ts', kind: 'f64', values: ts },
    { name: 'ret', kind: 'f64', values: ret },
    { name: 'equity', kind: 'f64', values: equity },
  ];
}
