// The session's in-process passes (server/session/compute.ts) against brute force: M4 over runs
// with NULLs (NaN), ties and infinities, and the collector that reads a DuckDB result's chunks
// into typed arrays (NULLs as NaN, across chunk boundaries).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { ColumnCollector, m4 } from '../../server/session/compute.js';
import { mulberry32 } from '../support/random.js';

/** The M4 definition, row by row: per (run, pixel column) the first, last and each series' first min and max. */
function m4Reference(run: Int32Array, t: Float64Array, series: Float64Array[], width: number): number[] {
  const n = t.length;
  if (n === 0) return [];
  const t0 = Math.min(...t);
  const span = Math.max(Math.max(...t) - t0, 1);
  const px = (i: number) => Math.min(Math.floor(((t[i]! - t0) / span) * width), width - 1);
  const keep = new Set<number>();
  const groups = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = `${run[i]}:${px(i)}`;
    const rows = groups.get(key) ?? groups.set(key, []).get(key)!;
    rows.push(i);
  }
  for (const rows of groups.values()) {
    keep.add(rows[0]!);
    keep.add(rows.at(-1)!);
    for (const values of series) {
      const valid = rows.filter((i) => !Number.isNaN(values[i]!));
      if (valid.length === 0) continue;
      const min = Math.min(...valid.map((i) => values[i]!));
      const max = Math.max(...valid.map((i) => values[i]!));
      keep.add(valid.find((i) => values[i] === min)!);
      keep.add(valid.find((i) => values[i] === max)!);
    }
  }
  return [...keep].sort((a, b) => a - b);
}

test('m4 keeps exactly the first, last, min and max rows of every run and pixel column', () => {
  const rng = mulberry32(11);
  for (const [rows, width] of [[0, 10], [1, 10], [7, 3], [500, 40], [5000, 120], [3000, 5000]] as const) {
    const runs = 3;
    const run = new Int32Array(rows);
    const t = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      run[i] = Math.floor((i * runs) / rows);
      t[i] = 1_700_000_000_000 + (i % Math.ceil(rows / runs)) * 300_000 + (rng() < 0.1 ? 86_400_000 : 0) * Math.floor(i / 50);
    }
    // Rows sorted by (run, t), as m4 requires.
    const order = [...Array(rows).keys()].sort((a, b) => run[a]! - run[b]! || t[a]! - t[b]!);
    const sortedRun = Int32Array.from(order, (i) => run[i]!);
    const sortedT = Float64Array.from(order, (i) => t[i]!);
    const series = [0, 1, 2].map((s) =>
      Float64Array.from({ length: rows }, () => {
        const r = rng();
        if (r < 0.05) return Number.NaN;
        if (s === 2 && r < 0.07) return r < 0.06 ? Infinity : -Infinity;
        // Few distinct values, so ties are common.
        return Math.round(rng() * 8) - 4;
      }),
    );
    const got = [...m4(sortedRun, sortedT, series, width)];
    assert.deepEqual(got, m4Reference(sortedRun, sortedT, series, width), `${rows} rows, width ${width}`);
  }
});

test('m4 keeps no extreme for a column whose values are all NULL', () => {
  const run = new Int32Array([0, 0, 0]);
  const t = new Float64Array([0, 1, 2]);
  const kept = m4(run, t, [new Float64Array([Number.NaN, Number.NaN, Number.NaN])], 1);
  assert.deepEqual([...kept], [0, 2]);
});

test('the column collector reads every chunk of a result, NULLs as NaN', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const result = await connection.stream(
      `SELECT i::INTEGER AS i, CASE WHEN i % 7 = 3 OR i BETWEEN 2040 AND 2060 THEN NULL ELSE i * 0.5::DOUBLE END AS v
       FROM range(5000) r(i) ORDER BY i`,
    );
    const collector = new ColumnCollector(result.columnNames(), result.columnTypes());
    let chunks = 0;
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      collector.append(chunk);
      chunks++;
    }
    assert.ok(chunks > 1, 'the result spans several chunks');
    const columns = collector.columns();
    const i = columns.get('i') as Int32Array;
    const v = columns.get('v') as Float64Array;
    assert.equal(i.length, 5000);
    for (let k = 0; k < 5000; k++) {
      assert.equal(i[k], k);
      const isNull = k % 7 === 3 || (k >= 2040 && k <= 2060);
      if (isNull) assert.ok(Number.isNaN(v[k]), `row ${k} is NULL`);
      else assert.equal(v[k], k * 0.5, `row ${k}`);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});
