// The sweep explorer's rules in the UI, without a browser: the default pin (best by Sharpe plus
// the median run), pinning and unpinning within MAX_PINNED_RUNS, the header's words, the
// parameter filter as request conditions (typed as the runs have them), and the sweep's part of
// the URL read back as written; the worker's decoding of a rundiff answer's parts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromArrays } from 'apache-arrow';
import { MAX_PINNED_RUNS, RUNDIFF_PARTS } from '../../shared/constants.js';
import { PART_METADATA_KEY } from '../../shared/frame.js';
import { decodeAnswer } from '../../client/src/worker/decode.js';
import { chooseDefaultPin, pinnedLabel, pinnedRuns, pinRun, togglePin } from '../../client/src/pinned-runs.js';
import { paramFilters, paramValues, sweptParams, toggleParamValue } from '../../client/src/run-params.js';
import { parseSweepRoute, writeSweepRoute } from '../../client/src/sweep-route.js';
import type { ColumnTable, DatasetSchema } from '../../client/src/worker/types.js';

function dataset(n: number): DatasetSchema {
  const runs = Array.from({ length: n }, (_, i) => ({
    runId: `r${String(i).padStart(2, '0')}`,
    name: `r${i}`,
    capital: 1e6,
    capitalSource: 'runs.capital',
    params: { window: [5, 10, 20][i % 3]!, mode: i % 2 ? 'fast' : 'slow', label: 'same' },
  }));
  return { runs } as unknown as DatasetSchema;
}

/** A leaderboard answer by Sharpe descending (NaN last), as the server sorts it. */
function bySharpe(rows: [string, number][]): ColumnTable {
  const sorted = [...rows].sort((a, b) => (Number.isNaN(a[1]) ? 1 : Number.isNaN(b[1]) ? -1 : b[1] - a[1]));
  return {
    length: sorted.length,
    columns: {
      run_id: { codes: Int32Array.from(sorted, (_, i) => i), dict: sorted.map((r) => r[0]) },
      sharpe: Float64Array.from(sorted, (r) => r[1]),
    },
  };
}

test('default pin: the 3 best by Sharpe and the median of the runs with a Sharpe, in dataset order', () => {
  const ds = dataset(12);
  // Sharpe = run index, but r11 has none: ranked r10..r00 (11 runs), median the 6th = r05.
  const table = bySharpe(ds.runs.map((r, i) => [r.runId, i === 11 ? Number.NaN : i]));
  const pin = chooseDefaultPin(table, ds);
  assert.deepEqual(pin.runs, ['r05', 'r08', 'r09', 'r10']);
  assert.equal(pin.of, 12);
  assert.equal(pinnedLabel(ds, pin.runs, pin), 'pinned: 3 best by Sharpe + median of 12 runs');
  // An even count: the lower middle (rank floor((n-1)/2) from the top).
  const even = chooseDefaultPin(bySharpe(ds.runs.map((r, i) => [r.runId, i])), ds);
  assert.deepEqual(even.runs, ['r06', 'r09', 'r10', 'r11']);
});

test('pinned runs: with few runs every run unless the URL names some; with many, the default until pinned', () => {
  const few = dataset(3);
  assert.deepEqual(pinnedRuns({}, few, null), ['r00', 'r01', 'r02']);
  assert.deepEqual(pinnedRuns({ runs: ['r01'] }, few, null), ['r01']);
  const many = dataset(20);
  assert.equal(pinnedRuns({}, many, null), null, 'unknown until the default is chosen');
  assert.deepEqual(pinnedRuns({}, many, { runs: ['r03', 'r07'], of: 20 }), ['r03', 'r07']);
});

test('toggling pins: dataset order, at most MAX_PINNED_RUNS, none left means the default (or every run)', () => {
  const many = dataset(20);
  const defaults = { runs: ['r01', 'r02'], of: 20 };
  const route = { runs: ['r01', 'r02'] };
  assert.deepEqual(togglePin(route, many, defaults, 'r00')?.runs, ['r00', 'r01', 'r02']);
  assert.deepEqual(togglePin(route, many, defaults, 'r02')?.runs, ['r01']);
  assert.equal(togglePin({ runs: ['r01'] }, many, defaults, 'r01')?.runs, undefined, 'unpinning the last brings the default back');
  const full = { runs: many.runs.slice(0, MAX_PINNED_RUNS).map((r) => r.runId) };
  assert.equal(togglePin(full, many, defaults, 'r19'), null, `no ninth pin`);
  assert.deepEqual(pinRun(full, many, defaults, 'r03')?.runs, full.runs, 'pinning a pinned run changes nothing');
  assert.equal(pinnedLabel(many, ['r01'], defaults), 'pinned: 1 of 20 runs');
  // A trade of a run unpinned is left.
  assert.equal(togglePin({ runs: ['r01', 'r02'], trade: { run: 'r02', id: 4 } }, many, defaults, 'r02')?.trade, undefined);
  // Few runs: all of them pinned is the plain "every run".
  const few = dataset(3);
  assert.equal(togglePin({ runs: ['r00', 'r01'] }, few, null, 'r02')?.runs, undefined);
  assert.deepEqual(togglePin({ runs: undefined }, few, null, 'r02')?.runs, ['r00', 'r01']);
});

test('parameters: swept ones, values in order, the filter typed as the runs have it', () => {
  const ds = dataset(6);
  assert.deepEqual(sweptParams(ds), ['mode', 'window'], 'a parameter with one value is no axis');
  assert.deepEqual(paramValues(ds, 'window'), [5, 10, 20], 'numbers in numeric order');
  let route: { pfilter?: Record<string, string[]> } = {};
  route = toggleParamValue(route, 'window', 10);
  route = toggleParamValue(route, 'window', 5);
  route = toggleParamValue(route, 'mode', 'fast');
  assert.deepEqual(paramFilters(route, ds), [
    { name: 'mode', values: ['fast'] },
    { name: 'window', values: [10, 5] },
  ]);
  route = toggleParamValue(toggleParamValue(route, 'mode', 'fast'), 'window', 10);
  assert.deepEqual(paramFilters(route, ds), [{ name: 'window', values: [5] }]);
  assert.equal(paramFilters(toggleParamValue(route, 'window', 5), ds), undefined);
});

test('the sweep part of the URL reads back as written, names and values with : and , included', () => {
  const fields = {
    level: 'diff',
    lsort: { column: 'param.look.back', descending: true },
    pfilter: { 'a:b': ['1', 'x,y'], window: ['10'] },
    surface: { x: 'window', y: 'a:b', metric: 'calmar' as const },
    diff: { a: 'r01', b: 'r02' },
  };
  const q = new URLSearchParams();
  writeSweepRoute(q, fields);
  const back = parseSweepRoute(new URLSearchParams(q.toString()), 'diff');
  assert.equal(back.level, 'diff');
  assert.deepEqual(back.fields, { lsort: fields.lsort, pfilter: fields.pfilter, surface: fields.surface, diff: fields.diff });
  assert.equal(parseSweepRoute(new URLSearchParams('a=r01'), 'diff').level, 'runs', 'a diff without both runs is the leaderboard');
  assert.equal(parseSweepRoute(new URLSearchParams('sx=w&sm=nonsense'), 'runs').fields.surface?.metric, 'sharpe');
});

test("the worker decodes a rundiff answer into one column table per part, each from its own frames", () => {
  const framed = (part: string, batchIndex: number, columns: Record<string, string[] | Float64Array>) => {
    const table = tableFromArrays(columns as Parameters<typeof tableFromArrays>[0]);
    table.schema.metadata.set(PART_METADATA_KEY, part);
    return { batchIndex, table };
  };
  const frames = [
    framed('matched', 2, { symbol: ['S2'], pnl_difference: Float64Array.from([-4]) }),
    framed('summary', 0, { run_a: ['a'], pnl_difference: Float64Array.from([12.5]) }),
    framed('matched', 1, { symbol: ['S1'], pnl_difference: Float64Array.from([9]) }),
    framed('sectors', 3, { sector: ['Energy', 'Tech'], difference: Float64Array.from([20, -7.5]) }),
  ];
  const data = decodeAnswer('rundiff', frames);
  assert.deepEqual(Object.keys(data).sort(), [...RUNDIFF_PARTS].sort());
  assert.equal(data.summary.length, 1);
  assert.deepEqual([...(data.summary.columns.pnl_difference as Float64Array)], [12.5]);
  assert.deepEqual((data.matched.columns.symbol as { dict: string[] }).dict, ['S1', 'S2'], 'batches in their order');
  assert.deepEqual([...(data.matched.columns.pnl_difference as Float64Array)], [9, -4]);
  assert.equal(data.sectors.length, 2);
  assert.equal(data.only_a.length, 0, 'a part without frames is empty');
});
