// The sweep queries (leaderboard, surface, rundiff) on a dataset this test writes: six runs of a
// grid over two parameters (fast x slow; plus a text parameter and one only a run has), four
// symbols in two sectors, ten daily bars, and trades; the first two runs' trades are built so
// that their differences are known. Prepared by the real pipeline, queried through the session's
// path, checked against the independent computation that checks `summary` (test/support/
// reference.ts) and the deflated Sharpe ratio written here from the paper's formula.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { near, scopeParams } from '../support/checks.js';
import { LocalSession } from '../support/local-session.js';
import { dailySeries, loadRaw, marketRef, summaryRef, type RawData, type RefScope } from '../support/reference.js';

const DAY = 86_400_000;
/** The daily bar of day d closes at 21:00 UTC. */
const DAY0 = Date.UTC(2024, 2, 4, 21);
const at = (d: number) => DAY0 + d * DAY;
const RUNS = [
  { run: 'r1', params: { fast: 5, slow: 50, mode: 'long' } },
  { run: 'r2', params: { fast: 5, slow: 100, mode: 'long' } },
  { run: 'r3', params: { fast: 10, slow: 50, mode: 'long' } },
  { run: 'r4', params: { fast: 10, slow: 100, mode: 'both' } },
  { run: 'r5', params: { fast: 20, slow: 50, mode: 'both' } },
  { run: 'r6', params: { fast: 20, slow: 100, mode: 'both', label: 'x' } },
];
const SYMBOLS = [['AAA', 'Tech'], ['BBB', 'Tech'], ['CCC', 'Energy'], ['DDD', 'Energy']] as const;
const METRICS = ['total_pnl', 'total_return', 'cagr', 'sharpe', 'sortino', 'max_drawdown', 'calmar', 'trade_count', 'trade_win_rate', 'turnover', 'fees'] as const;

/**
 * The constructed trades of r1 (a) and r2 (b), [symbol, side, entry day, exit day, pnl]:
 * AAA a1 [1,4] +100 and b1 [2,5] +40 overlap: matched, difference 60. AAA a2 [6,8] -50 overlaps
 * b2 [6,7] -20 and b3 [7,9] +10 by one day each: the earlier entry (b2) is matched, b3 is only in
 * b. BBB a3 [2,3] +30: only in a. CCC a4 [5,6] +25 and b4 [1,2] -15 do not overlap: one only in
 * each.
 */
const PAIR_TRADES: [string, number, string, string, number, number, number][] = [
  ['r1', 1, 'AAA', 'long', 1, 4, 100],
  ['r1', 2, 'AAA', 'long', 6, 8, -50],
  ['r1', 3, 'BBB', 'short', 2, 3, 30],
  ['r1', 4, 'CCC', 'long', 5, 6, 25],
  ['r2', 1, 'AAA', 'long', 2, 5, 40],
  ['r2', 2, 'AAA', 'long', 6, 7, -20],
  ['r2', 3, 'AAA', 'short', 7, 9, 10],
  ['r2', 4, 'CCC', 'long', 1, 2, -15],
];

let dir = '';
let session: LocalSession;
let raw: RawData;
const capital = () => 1_000_000;

before(async () => {
  await mkdir(path.resolve('.cache'), { recursive: true });
  dir = await mkdtemp(path.resolve('.cache', 'sweep-queries-'));
  await mkdir(path.join(dir, 'trades'));
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    await c.run(`COPY (SELECT * FROM (VALUES ${SYMBOLS.map(([s, sector]) => `('${s}', '${sector}', 'x')`).join(', ')}) v(symbol, sector, industry))
      TO '${dir}/symbols.parquet' (FORMAT parquet)`);
    const runs = RUNS.map(({ run, params }) => `('${run}', 'Run ${run}', '${JSON.stringify({ capital: 1_000_000, ...params })}')`);
    await c.run(`COPY (SELECT * FROM (VALUES ${runs.join(', ')}) v(run_id, name, params)) TO '${dir}/runs.parquet' (FORMAT parquet)`);
    for (const [ri, { run, params }] of RUNS.entries()) {
      await mkdir(path.join(dir, 'bars', `run_id=${run}`), { recursive: true });
      // Daily P&L varying by run, symbol and day (skewed: squares of the day), a drift by `fast`.
      await c.run(`COPY (
        SELECT make_timestamp((${DAY0} + d * ${DAY})::BIGINT * 1000) AS ts, s.symbol, 100 + s.i * 10 + d * (s.i - 1.5) AS price,
          (s.i + 1) * 100.0 AS position_qty, (s.i + 1) * 100.0 * (100 + s.i * 10 + d * (s.i - 1.5)) AS position_value,
          CASE WHEN d % 3 = 0 THEN 10.0 ELSE 0 END AS trade_qty, CASE WHEN d % 3 = 0 THEN 2.0 ELSE 0 END AS fees,
          ((${ri} * 7 + s.i * 3 + d * 5 + d * d) % 13 - 6) * 150.0 * (1 + ${ri} * 0.2) + ${params.fast} * 3.0 - CASE WHEN d % 3 = 0 THEN 2.0 ELSE 0 END AS pnl
        FROM (SELECT unnest([${SYMBOLS.map(([s]) => `'${s}'`).join(', ')}]) AS symbol, generate_subscripts([${SYMBOLS.map(([s]) => `'${s}'`).join(', ')}], 1) - 1 AS i) s,
          range(10) t(d)) TO '${dir}/bars/run_id=${run}/part-0.parquet' (FORMAT parquet)`);
    }
    // The other runs: one trade per symbol, two days long, starting on a day set by run and symbol.
    const others = RUNS.slice(2).flatMap(({ run }, ri) =>
      SYMBOLS.map(([symbol], si) => {
        const entry = (ri * 3 + si * 2) % 7;
        return [run, si + 1, symbol, si % 2 === 0 ? 'long' : 'short', entry, entry + 2, (ri - si) * 17.5 + 3] as const;
      }),
    );
    const values = [...PAIR_TRADES, ...others].map(
      ([run, id, symbol, side, entry, exit, pnl]) =>
        `('${run}', ${id}, '${symbol}', '${side}', make_timestamp(${at(entry)}::BIGINT * 1000), make_timestamp(${at(exit)}::BIGINT * 1000), ${pnl}::DOUBLE)`,
    );
    await c.run(`COPY (SELECT run_id, trade_id, symbol, side, entry_ts, exit_ts, 10.0 AS qty, 100.0 AS entry_price, 101.0 AS exit_price,
        1.0 AS fees, pnl, pnl / 1000 AS ret, 2 AS bars_held, -0.01 AS mae, 0.02 AS mfe, 'q' AS tag
      FROM (VALUES ${values.join(', ')}) v(run_id, trade_id, symbol, side, entry_ts, exit_ts, pnl))
      TO '${dir}/trades/trades.parquet' (FORMAT parquet)`);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
  session = await LocalSession.open(dir);
  raw = await loadRaw(dir);
});

after(async () => {
  session?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The deflated Sharpe ratio from Bailey & López de Prado (2014), eq. 2, written independently
// of risk-metrics.ts: the normal CDF by Simpson's rule, its inverse by bisection.

function normCdf(z: number): number {
  const n = 4000;
  const h = z / n;
  let s = 0;
  for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2) * Math.exp(-((i * h) ** 2) / 2);
  return 0.5 + ((h / 3) * s) / Math.sqrt(2 * Math.PI);
}

function normInv(p: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Per run: SR (daily, non-annualised), skewness, kurtosis (non-excess), T; then DSR given the SRs of every trial. */
function dsrRef(returnsByRun: Map<string, number[]>, rfDaily: number): Map<string, number> {
  const stats = new Map<string, { sr: number; skew: number; kurt: number; t: number }>();
  for (const [run, r] of returnsByRun) {
    const t = r.length;
    const mean = r.reduce((a, x) => a + x, 0) / t;
    const sd = Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / (t - 1));
    const m2 = r.reduce((a, x) => a + (x - mean) ** 2, 0) / t;
    const m3 = r.reduce((a, x) => a + (x - mean) ** 3, 0) / t;
    const m4 = r.reduce((a, x) => a + (x - mean) ** 4, 0) / t;
    stats.set(run, { sr: (mean - rfDaily) / sd, skew: m3 / m2 ** 1.5, kurt: m4 / m2 ** 2, t });
  }
  const srs = [...stats.values()].map((s) => s.sr);
  const n = srs.length;
  const mean = srs.reduce((a, x) => a + x, 0) / n;
  const v = srs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
  const gamma = 0.5772156649015329;
  const sr0 = n === 1 ? 0 : Math.sqrt(v) * ((1 - gamma) * normInv(1 - 1 / n) + gamma * normInv(1 - 1 / (n * Math.E)));
  return new Map(
    [...stats].map(([run, s]) => [run, normCdf(((s.sr - sr0) * Math.sqrt(s.t - 1)) / Math.sqrt(1 - s.skew * s.sr + ((s.kurt - 1) / 4) * s.sr ** 2))]),
  );
}

/** Every run's daily returns over the scope's range and filters (the runs of the dataset: the DSR's trials). */
function returnsOf(scope: RefScope): Map<string, number[]> {
  const daily = dailySeries(raw, { ...scope, runs: undefined }, capital);
  const out = new Map<string, number[]>();
  for (const d of daily) (out.get(d.run) ?? out.set(d.run, []).get(d.run)!).push(d.ret!);
  return out;
}

/** Total return minus the benchmark (the equal-weighted market) compounded over the run's days. */
function excessRef(scope: RefScope, run: string, totalReturn: number): number {
  const market = marketRef(raw);
  let growth = 1;
  for (const d of dailySeries(raw, { ...scope, runs: [run] }, capital)) {
    const m = market.get(d.day);
    if (m !== null && m !== undefined) growth *= 1 + m;
  }
  return totalReturn - (growth - 1);
}

const SCOPES: RefScope[] = [
  {},
  { from: at(2) - 3_600_000, to: at(7) },
  // Whole days after the whole history: a slice of the days the session kept (queries/sweep-days.ts).
  { from: at(3) - 12 * 3_600_000, to: at(6) + 12 * 3_600_000 - 1 },
  // A drag: whole daily bars, UTC days cut at both ends (their trades read by close time).
  { from: at(2) + 3_600_000, to: at(7) - 3_600_000 },
  { from: at(1) - 60_000, to: at(8) + 60_000 },
  { sectors: ['Energy'] },
  { runs: ['r2', 'r3', 'r5'], from: at(1) },
  { symbols: ['AAA'], sides: ['long'] },
];

test('leaderboard: every run with its parameters and the KPIs summary gives it, the excess return and the deflated Sharpe', async () => {
  for (const scope of SCOPES) {
    const what = `leaderboard ${JSON.stringify(scope)}`;
    const answer = await session.ask({ query: 'leaderboard', params: { ...scopeParams(scope), limit: 100 } });
    const want = summaryRef(raw, scope, capital);
    assert.equal(answer.outcome.total, want.length, what);
    assert.deepEqual(answer.rows.map((r) => r['run_id']), want.map((r) => r['run_id']), `${what}: sorted by run_id by default`);
    const dsr = dsrRef(returnsOf(scope), 0);
    answer.rows.forEach((row, i) => {
      const run = String(row['run_id']);
      const params = RUNS.find((r) => r.run === run)!.params as Record<string, unknown>;
      assert.equal(row['name'], `Run ${run}`);
      assert.equal(row['param.fast'], params['fast']);
      assert.equal(row['param.slow'], params['slow']);
      assert.equal(row['param.capital'], 1_000_000);
      assert.equal(row['param.mode'], params['mode']);
      assert.equal(row['param.label'], params['label'] ?? null);
      for (const metric of METRICS) near(row[metric], want[i]![metric], `${what} ${run} ${metric}`, 1e-8);
      near(row['excess_return'], excessRef(scope, run, want[i]!['total_return'] as number), `${what} ${run} excess_return`, 1e-8);
      near(row['deflated_sharpe'], dsr.get(run)!, `${what} ${run} deflated_sharpe`, 1e-7);
    });
  }
});

test('leaderboard: sorted by a metric, a parameter or the name, either way; missing values last; windowed', async () => {
  const all = (await session.ask({ query: 'leaderboard', params: { limit: 100 } })).rows;
  for (const column of ['sharpe', 'total_pnl', 'deflated_sharpe', 'param.fast', 'param.mode', 'param.label', 'name']) {
    for (const descending of [false, true]) {
      const rows = (await session.ask({ query: 'leaderboard', params: { limit: 100, sort: { column, descending } } })).rows;
      const key = (r: Record<string, unknown>) => r[column] as number | string | null;
      const present = all.filter((r) => key(r) !== null);
      const sorted = [...present].sort((x, y) => {
        const [p, q] = [key(x)!, key(y)!];
        const c = p < q ? -1 : p > q ? 1 : 0;
        return (descending ? -c : c) || (String(x['run_id']) < String(y['run_id']) ? -1 : 1);
      });
      const want = [...sorted, ...all.filter((r) => key(r) === null)].map((r) => r['run_id']);
      assert.deepEqual(rows.map((r) => r['run_id']), want, `sorted by ${column}${descending ? ' descending' : ''}`);
    }
  }
  const full = (await session.ask({ query: 'leaderboard', params: { limit: 100, sort: { column: 'sharpe', descending: true } } })).rows;
  const window = await session.ask({ query: 'leaderboard', params: { offset: 2, limit: 3, sort: { column: 'sharpe', descending: true } } });
  assert.deepEqual(window.rows.map((r) => r['run_id']), full.slice(2, 5).map((r) => r['run_id']));
  assert.equal(window.outcome.total, 6);
});

test('leaderboard: parameter filters select runs; the deflated Sharpe still counts every run as a trial', async () => {
  const answer = await session.ask({ query: 'leaderboard', params: { limit: 100, params: [{ name: 'fast', values: [5, 20] }, { name: 'slow', min: 60 }] } });
  assert.deepEqual(answer.rows.map((r) => r['run_id']), ['r2', 'r6']);
  assert.equal(answer.outcome.total, 2);
  const unfiltered = (await session.ask({ query: 'leaderboard', params: { limit: 100 } })).rows;
  for (const row of answer.rows) {
    const same = unfiltered.find((r) => r['run_id'] === row['run_id'])!;
    assert.equal(row['deflated_sharpe'], same['deflated_sharpe']);
  }
  const text = await session.ask({ query: 'leaderboard', params: { limit: 100, params: [{ name: 'mode', values: ['both'] }] } });
  assert.deepEqual(text.rows.map((r) => r['run_id']), ['r4', 'r5', 'r6']);
  const none = await session.ask({ query: 'leaderboard', params: { limit: 100, params: [{ name: 'label', values: ['y'] }] } });
  assert.equal(none.outcome.total, 0);
  assert.equal(none.rows.length, 0);
});

test('bad params: unknown parameters, sort columns, axes and runs are named', async () => {
  await assert.rejects(session.ask({ query: 'leaderboard', params: { limit: 10, params: [{ name: 'nope' }] } }), /unknown parameter "nope".*capital, fast, label, mode, slow/);
  await assert.rejects(session.ask({ query: 'leaderboard', params: { limit: 10, sort: { column: 'param.nope' } } }), /unknown parameter "nope"/);
  await assert.rejects(session.ask({ query: 'leaderboard', params: { limit: 10, sort: { column: 'bogus' } } }), /unknown sort column "bogus"/);
  await assert.rejects(session.ask({ query: 'surface', params: { x: 'nope', metric: 'sharpe' } }), /unknown parameter "nope" in x/);
  await assert.rejects(session.ask({ query: 'surface', params: { x: 'fast', y: 'fast', metric: 'sharpe' } }), /x and y are both "fast"/);
  await assert.rejects(session.ask({ query: 'rundiff', params: { a: 'r1', b: 'r1' } }), /a and b are both "r1"/);
  await assert.rejects(session.ask({ query: 'rundiff', params: { a: 'r1', b: 'r9' } }), /unknown run b "r9"/);
});

test('surface: cells over one or two parameters equal the leaderboard (median and best of a cell\'s runs)', async () => {
  for (const scope of [SCOPES[0]!, SCOPES[1]!]) {
    const board = (await session.ask({ query: 'leaderboard', params: { ...scopeParams(scope), limit: 100 } })).rows;
    const byRun = new Map(board.map((r) => [r['run_id'], r]));
    for (const metric of ['sharpe', 'total_pnl', 'deflated_sharpe', 'trade_count'] as const) {
      const grid = (await session.ask({ query: 'surface', params: { ...scopeParams(scope), x: 'fast', y: 'slow', metric } })).rows;
      assert.equal(grid.length, 6);
      assert.deepEqual(grid.map((c) => [c['x'], c['y']]), [[5, 50], [5, 100], [10, 50], [10, 100], [20, 50], [20, 100]]);
      for (const cell of grid) {
        const run = RUNS.find((r) => r.params.fast === cell['x'] && r.params.slow === cell['y'])!.run;
        assert.equal(cell['runs'], 1);
        assert.equal(cell['value'], byRun.get(run)![metric], `${metric} of ${run}`);
        assert.equal(cell['best'], byRun.get(run)![metric]);
        assert.equal(cell['best_run_id'], run);
      }
      const line = (await session.ask({ query: 'surface', params: { ...scopeParams(scope), x: 'fast', metric } })).rows;
      assert.deepEqual(line.map((c) => c['x']), [5, 10, 20]);
      for (const cell of line) {
        const runs = RUNS.filter((r) => r.params.fast === cell['x']).map((r) => r.run);
        const values = runs.map((run) => byRun.get(run)![metric] as number);
        assert.equal(cell['runs'], 2);
        near(cell['value'], (values[0]! + values[1]!) / 2, `${metric} median at fast ${String(cell['x'])}`, 1e-12);
        assert.equal(cell['best'], Math.max(...values));
        assert.equal(cell['best_run_id'], runs[values.indexOf(Math.max(...values))]);
      }
    }
  }
  const text = await session.ask({ query: 'surface', params: { x: 'label', metric: 'sharpe' } });
  assert.deepEqual(text.rows.map((c) => [c['x'], c['runs'], c['best_run_id']]), [['x', 1, 'r6']]);
  assert.match(text.outcome.notes.join(' '), /5 of 6 runs have no value of label/);
});

test('rundiff: the constructed pair: matched trades, trades only in each, the P&L difference by sector and symbol', async () => {
  const answer = await session.ask({ query: 'rundiff', params: { a: 'r1', b: 'r2' } });
  const part = (name: string) => answer.parts.get(name)!;
  const matched = part('matched');
  assert.deepEqual(matched.map((m) => [m['symbol'], m['a_trade_id'], m['b_trade_id'], m['a_pnl'], m['b_pnl'], m['pnl_difference']]), [
    ['AAA', 1, 1, 100, 40, 60],
    ['AAA', 2, 2, -50, -20, -30],
  ]);
  assert.equal(matched[0]!['overlap_ms'], 2 * DAY);
  assert.deepEqual(part('only_a').map((t) => [t['trade_id'], t['symbol'], t['pnl']]), [[3, 'BBB', 30], [4, 'CCC', 25]]);
  assert.deepEqual(part('only_b').map((t) => [t['trade_id'], t['symbol'], t['pnl']]), [[4, 'CCC', -15], [3, 'AAA', 10]]);
  // The P&L difference by symbol and sector, from the raw bars.
  const pnl = (run: string, pick: (b: RawData['bars'][number]) => boolean) => raw.bars.filter((b) => b.run === run && pick(b)).reduce((a, b) => a + b.pnl, 0);
  for (const s of part('symbols')) {
    const symbol = String(s['symbol']);
    near(s['a_pnl'], pnl('r1', (b) => b.symbol === symbol), `a_pnl ${symbol}`);
    near(s['b_pnl'], pnl('r2', (b) => b.symbol === symbol), `b_pnl ${symbol}`);
    near(s['difference'], pnl('r1', (b) => b.symbol === symbol) - pnl('r2', (b) => b.symbol === symbol), `difference ${symbol}`);
  }
  assert.equal(part('symbols').length, 4);
  const sectors = part('sectors');
  assert.deepEqual(sectors.map((s) => s['sector']).sort(), ['Energy', 'Tech']);
  for (const s of sectors) near(s['difference'], pnl('r1', (b) => b.sector === s['sector']) - pnl('r2', (b) => b.sector === s['sector']), `sector ${String(s['sector'])}`);
  const [summary] = part('summary');
  const totals = summaryRef(raw, { runs: ['r1', 'r2'] }, capital);
  assert.deepEqual([summary!['run_a'], summary!['run_b'], summary!['a_trades'], summary!['b_trades'], summary!['matched'], summary!['only_a'], summary!['only_b']], ['r1', 'r2', 4, 4, 2, 2, 2]);
  near(summary!['a_pnl'], totals[0]!['total_pnl'], 'a_pnl is the summary\'s total P&L');
  near(summary!['b_pnl'], totals[1]!['total_pnl'], 'b_pnl is the summary\'s total P&L');
  assert.equal(summary!['pnl_difference'], sectors.reduce((a, s) => a + (s['difference'] as number), 0), 'the sector rows sum to the difference');
  assert.deepEqual([summary!['matched_pnl_difference'], summary!['only_a_pnl'], summary!['only_b_pnl']], [30, 55, -5]);
});

test('rundiff over a range and a sector: trades closing in the range, P&L of the range', async () => {
  const scope = { from: at(3), to: at(6), sectors: ['Tech'] };
  const answer = await session.ask({ query: 'rundiff', params: { a: 'r1', b: 'r2', from: scope.from, to: scope.to, filters: { sectors: scope.sectors } } });
  // a: AAA [1,4] and BBB [2,3] close in [3,6]; AAA [6,8] does not; CCC is Energy. b: AAA [2,5].
  assert.deepEqual(answer.parts.get('matched')!.map((m) => [m['a_trade_id'], m['b_trade_id']]), [[1, 1]]);
  assert.deepEqual(answer.parts.get('only_a')!.map((t) => t['trade_id']), [3]);
  assert.deepEqual(answer.parts.get('only_b')!, []);
  const inRange = (b: RawData['bars'][number]) => b.ts >= scope.from && b.ts <= scope.to && b.sector === 'Tech';
  const want = raw.bars.filter((b) => b.run === 'r1' && inRange(b)).reduce((a, b) => a + b.pnl, 0) - raw.bars.filter((b) => b.run === 'r2' && inRange(b)).reduce((a, b) => a + b.pnl, 0);
  near(answer.parts.get('summary')![0]!['pnl_difference'], want, 'difference over the range');
  assert.deepEqual(answer.parts.get('sectors')!.map((s) => s['sector']), ['Tech']);
});
