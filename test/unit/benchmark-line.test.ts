// The benchmark's line on the equity chart's axis (client/src/benchmark-line.ts): zero at the
// range start, each day's value reached at its last bar from the day before's at its first, flat
// over closed hours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchmarkOnAxis } from '../../client/src/benchmark-line.js';
import type { ColumnTable } from '../../client/src/worker/types.js';

const H = 3600;
const answer: ColumnTable = {
  length: 3,
  columns: {
    run_id: { codes: Int32Array.from([0, 0, 1]), dict: ['a', 'b'] },
    start_ts: Float64Array.from([10 * H, 34 * H, 10 * H].map((s) => s * 1000)),
    ts: Float64Array.from([16 * H, 40 * H, 16 * H].map((s) => s * 1000)),
    equity: Float64Array.from([100, 40, -7]),
  },
};

test('benchmark line: linear within each trading day, flat overnight, zero at the start', () => {
  const x = Float64Array.from([10, 13, 16, 20, 34, 37, 40, 45].map((h) => h * H));
  assert.deepEqual([...benchmarkOnAxis(answer, 'a', x)!], [0, 50, 100, 100, 100, 70, 40, 40]);
  assert.deepEqual([...benchmarkOnAxis(answer, 'b', Float64Array.from([10 * H, 16 * H]))!], [0, -7]);
});

test('benchmark line: a run without days in the answer has none', () => {
  assert.equal(benchmarkOnAxis(answer, 'c', Float64Array.from([10 * H])), null);
  assert.equal(benchmarkOnAxis({ length: 0, columns: {} }, 'a', Float64Array.from([1])), null);
});
