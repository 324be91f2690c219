// The sweep scales' grids, checked without generating them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIXTURE_SCALES, isFixtureScale, SCALES } from '../../fixtures/generate.js';
import { SWEEP_GRID, SWEEP_SMALL_GRID, sweepRunId, sweepRuns } from '../../fixtures/sweep.js';

test('the sweep scale is 200 runs with distinct params over 500 symbols and 504 days', () => {
  assert.deepEqual(SCALES.sweep.sweep, SWEEP_GRID);
  assert.equal(SCALES.sweep.symbols, 500);
  assert.equal(SCALES.sweep.days, 504);
  const runs = sweepRuns(SWEEP_GRID);
  assert.equal(runs.length, 200);
  assert.equal(new Set(runs.map((r) => JSON.stringify(r.params))).size, 200);
  assert.equal(new Set(runs.map((r) => r.run_id)).size, 200);
  assert.equal(new Set(runs.map((r) => r.name)).size, 200);
  // Every combination of the grid's values, each a JSON object of the three scalar parameters.
  for (const lookback of SWEEP_GRID.lookback) {
    for (const quantile of SWEEP_GRID.quantile) {
      for (const hold_days of SWEEP_GRID.hold_days) {
        assert.ok(runs.some((r) => r.params.lookback === lookback && r.params.quantile === quantile && r.params.hold_days === hold_days), `${lookback} ${quantile} ${hold_days}`);
      }
    }
  }
  for (const r of runs) assert.deepEqual(Object.keys(r.params), ['lookback', 'quantile', 'hold_days']);
  // Listed in run id order, which is the grid's order.
  assert.deepEqual(runs.map((r) => r.run_id), [...runs.map((r) => r.run_id)].sort());
});

test('sweep run ids are readable and sort by the grid', () => {
  assert.equal(sweepRunId({ lookback: 20, quantile: 0.2, hold_days: 5 }), 'lb20-q0.20-h05');
  assert.equal(sweepRunId({ lookback: 5, quantile: 0.05, hold_days: 10 }), 'lb05-q0.05-h10');
  const ids = sweepRuns(SWEEP_GRID).map((r) => r.run_id);
  assert.equal(ids[0], 'lb05-q0.05-h01');
  assert.equal(ids.at(-1), 'lb60-q0.40-h10');
});

test('sweep-small is the same parameters over a subset of the values: 18 runs, 33 symbols, 60 days', () => {
  assert.deepEqual(SCALES['sweep-small'].sweep, SWEEP_SMALL_GRID);
  assert.equal(SCALES['sweep-small'].symbols, 33);
  assert.equal(SCALES['sweep-small'].days, 60);
  const small = sweepRuns(SWEEP_SMALL_GRID);
  assert.equal(small.length, 18);
  const full = new Set(sweepRuns(SWEEP_GRID).map((r) => r.run_id));
  for (const r of small) assert.ok(full.has(r.run_id), r.run_id);
});

test('a grid point outside the strategy\'s domain is refused, naming the point', () => {
  assert.throws(() => sweepRuns({ lookback: [0], quantile: [0.2], hold_days: [1] }), /lookback 0/);
  assert.throws(() => sweepRuns({ lookback: [5], quantile: [0.6], hold_days: [1] }), /quantile 0\.6/);
  assert.throws(() => sweepRuns({ lookback: [5], quantile: [0.2], hold_days: [1.5] }), /hold_days 1\.5/);
});

test('fixture scale names: every scale has its parameters, and only those are scales', () => {
  assert.deepEqual([...FIXTURE_SCALES].sort(), Object.keys(SCALES).sort());
  assert.ok(isFixtureScale('sweep-small'));
  assert.ok(!isFixtureScale('huge'));
});
