// The histogram's binning (no database): exactBin against the edges the answer reports, and the
// planner's one pass, whose groups are counted in the bin their bounds share, or read again with
// every value tested against the edges when one group straddles an edge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Columns, OutColumn } from '../../server/session/compute.js';
import { exactBin } from '../../server/session/queries/histogram.js';
import { planRequest } from '../../server/session/queries/index.js';
import type { QueryRequest } from '../../shared/messages.js';
import { testCatalog } from '../support/test-catalog.js';

const RUNS = ['base', 'alt'];
const catalog = () => testCatalog({ runs: RUNS, symbols: [['AAPL', 'Tech']], tradeCount: 100 });

/** The edges as the answer reports them (histogramColumns). */
const edge = (lo: number, hi: number, bins: number, k: number) => lo + ((hi - lo) * k) / bins;

/** The bin by its reported edges, found by walking them all. */
function binByEdges(v: number, lo: number, hi: number, bins: number): number {
  if (v < lo) return -1;
  if (v > hi) return bins;
  if (hi === lo) return 0;
  for (let k = bins - 1; k >= 0; k--) if (v >= edge(lo, hi, bins, k)) return k;
  return 0;
}

test('exactBin puts every value in the bin whose reported edges hold it', () => {
  const cases: [number, number, number][] = [
    [-3046.92, 5012.5, 60],
    [0.1, 0.7, 3],
    [-(2 ** 63), 2 ** 63, 2],
    [-1e-9, 1e-9, 7],
    [5, 5, 4],
  ];
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (const [lo, hi, bins] of cases) {
    const values = [lo, hi, lo - 1, hi + 1, -5, 0, 5];
    for (let k = 0; k <= bins; k++) {
      const e = edge(lo, hi, bins, k);
      // On an edge and an ulp either side of it: where the quotient rounds the wrong way.
      values.push(e, e + Math.abs(e) * Number.EPSILON, e - Math.abs(e) * Number.EPSILON, e + Number.MIN_VALUE, e - Number.MIN_VALUE);
    }
    for (let i = 0; i < 500; i++) values.push(lo + (hi - lo) * random());
    for (const v of values) assert.equal(exactBin(v, lo, hi, bins), binByEdges(v, lo, hi, bins), `v ${v} over [${lo}, ${hi}] in ${bins} bins`);
  }
  // With bounds far larger than the values, the quotient alone put -5 in the bin [0, 2^63).
  assert.equal(exactBin(-5, -(2 ** 63), 2 ** 63, 2), 0);
});

interface Asked {
  sql: string;
}

/** Plans a histogram whose look-ups answer from `answers` in turn; returns what it asked and the answer's columns. */
async function histogram(params: Record<string, unknown>, answers: Columns[]): Promise<{ asked: Asked[]; columns: Map<string, unknown[]> }> {
  const asked: Asked[] = [];
  const request = { type: 'request', id: 1, query: 'histogram', params } as unknown as QueryRequest;
  const plan = await planRequest(request, catalog())(
    async (sql) => {
      asked.push({ sql });
      return [[-10, 20]];
    },
    async (sql) => {
      asked.push({ sql });
      const next = answers.shift();
      assert.ok(next, `an unexpected look-up: ${sql}`);
      return next;
    },
  );
  const out = plan.statements[0]!.compute!(new Map()) as OutColumn[];
  const columns = new Map<string, unknown[]>();
  for (const c of out) {
    columns.set(c.name, c.kind === 'utf8' ? Array.from(c.index, (i) => c.names[i]) : Array.from(c.values));
  }
  return { asked, columns };
}

const groups = (rows: [number, number, number, number][]): Columns =>
  new Map<string, Float64Array | Int32Array>([
    ['ri', Int32Array.from(rows.map((r) => r[0]))],
    ['n', Int32Array.from(rows.map((r) => r[1]))],
    ['vmin', Float64Array.from(rows.map((r) => r[2]))],
    ['vmax', Float64Array.from(rows.map((r) => r[3]))],
  ]);

test('groups whose bounds share a bin are counted in it, with no second pass', async () => {
  // Three bins over [0, 30] (given): edges 0, 10, 20, 30.
  const { asked, columns } = await histogram({ field: 'pnl', bins: 3, min: 0, max: 30 }, [
    groups([
      [0, 4, 0, 9.5],
      [0, 2, 10, 19],
      [1, 1, 30, 30],
      [1, 3, -4, -1],
      [1, 5, 31, 40],
    ]),
  ]);
  assert.equal(asked.length, 1);
  // Runs in the scope's order: alt (ri 0), then base.
  assert.deepEqual(columns.get('run_id'), ['alt', 'alt', 'alt', 'base', 'base', 'base', 'base', 'base']);
  assert.deepEqual(columns.get('bin'), [0, 1, 2, -1, 0, 1, 2, 3]);
  assert.deepEqual(columns.get('count'), [4, 2, 0, 3, 0, 0, 1, 5]);
  assert.deepEqual(columns.get('lo'), [0, 10, 20, -Infinity, 0, 10, 20, 30]);
});

test('a group that straddles an edge sends the binning to the pass that tests every value', async () => {
  const exact: Columns = new Map<string, Float64Array | Int32Array>([
    ['ri', Int32Array.from([0, 0])],
    ['bin', Int32Array.from([0, 1])],
    ['n', Int32Array.from([3, 1])],
  ]);
  // Bounds from the look-up: [-10, 20] in 3 bins, edges -10, 0, 10, 20; the group holds -0.5 and 0.
  const { asked, columns } = await histogram({ field: 'pnl', bins: 3 }, [groups([[0, 4, -0.5, 0]]), exact]);
  assert.equal(asked.length, 3);
  assert.match(asked[2]!.sql, /WHEN b0 > 0 AND v < /);
  assert.deepEqual(columns.get('bin'), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(columns.get('count'), [3, 1, 0, 0, 0, 0]);
});
