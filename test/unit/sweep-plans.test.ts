// The sweep queries' plans (leaderboard, surface, rundiff) at the string level, without a store:
// what they read, that every client value (hostile run ids, parameter values) is bound; the
// session-side parts (sorting and windowing the runs, the surface's cells, the one-to-one trade
// matching) on columns given here; and the normal quantile and SR0 of the deflated Sharpe ratio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QueryRequest, RunInfo } from '../../shared/messages.js';
import type { Columns, OutColumn } from '../../server/session/compute.js';
import { planRequest } from '../../server/session/queries/index.js';
import type { QueryPlan, Statement } from '../../server/session/queries/plan.js';
import { expectedMaxSharpe, normalCdf, normalQuantile } from '../../server/session/queries/risk-metrics.js';
import { compareTrades, matchTrades, splitByRun, tradeIdAt } from '../../server/session/queries/rundiff.js';
import type { Catalog } from '../../server/session/store.js';
import { TEST_CUT_RANGE, TEST_DAY1, testCatalog } from '../support/test-catalog.js';

const RUN = "base'; DROP TABLE runs; --";
const OTHER = 'alt';
const THIRD = 'z3';
const SECTOR = "Tech' OR 1=1 --";
const INJECTED = ['DROP TABLE', 'OR 1=1', "'; ", 'evil'];

function catalog(): Catalog {
  const c = testCatalog({ runs: [RUN, OTHER, THIRD], symbols: [['AAPL', SECTOR], ['XOM', 'Energy']], tradeCount: 1000 });
  const params: Record<string, RunInfo['params']> = {
    [RUN]: { fast: 5, mode: "evil' --" },
    [OTHER]: { fast: 10, mode: 'b' },
    [THIRD]: { fast: 10 },
  };
  for (const [run, info] of c.runs) info.params = params[run]!;
  return c;
}

async function plan(
  query: 'leaderboard' | 'surface' | 'rundiff',
  params: object,
  answer: (sql: string) => unknown[][] = () => [],
  store = catalog(),
  columns: (sql: string) => Columns = () => new Map(),
) {
  const lookups: Statement[] = [];
  const planned: QueryPlan = await planRequest({ type: 'request', id: 1, query, params } as QueryRequest, store)(
    async (sql, bound) => {
      lookups.push({ sql, params: bound });
      return answer(sql);
    },
    async (sql, bound) => {
      lookups.push({ sql, params: bound });
      return columns(sql);
    },
  );
  return { lookups, planned };
}

/**
 * P&L of a and of b by position ("p,p,,p": none where empty), as the rundiff trades look-up
 * answers, with trade ids (a's from 11, b's from 21, or as given) in ID_PARTS' three columns.
 */
function pnlColumns(a: string, b: string, ids?: bigint[]): Columns {
  const values = (text: string) => (text === '' ? [] : text.split(',').map((v) => (v === '' ? Number.NaN : Number(v))));
  const [va, vb] = [values(a), values(b)];
  const id = ids ?? [...va.map((_, i) => BigInt(11 + i)), ...vb.map((_, i) => BigInt(21 + i))];
  const part = (shift: bigint, mask: bigint | null) => Int32Array.from(id, (x) => Number(mask === null ? x >> shift : (x >> shift) & mask));
  return new Map<string, Float64Array | Int32Array>([
    ['run', Int32Array.from([...va.map(() => 0), ...vb.map(() => 1)])],
    ['pos', Int32Array.from([...va.keys(), ...vb.keys()])],
    ['pnl', Float64Array.from([...va, ...vb])],
    ['id_hi', part(42n, null)],
    ['id_mid', part(21n, 2097151n)],
    ['id_lo', part(0n, 2097151n)],
  ]);
}

/** Candidate pairs [a, b, a, b, ...] as the rundiff candidates look-up answers. */
function pairColumns(...flat: number[]): Columns {
  return new Map<string, Float64Array | Int32Array>([
    ['a_pos', Int32Array.from(flat.filter((_, i) => i % 2 === 0))],
    ['b_pos', Int32Array.from(flat.filter((_, i) => i % 2 === 1))],
  ]);
}

/** The rundiff look-ups' answers: the candidates, then both runs' P&L. */
const rundiffColumns = (pairs: Columns, pnl: Columns) => (sql: string) => (sql.includes('JOIN tb') ? pairs : pnl);

function assertBound(statement: Statement): void {
  const placeholders = new Set([...statement.sql.matchAll(/\$(\w+)/g)].map((m) => m[1]!));
  assert.deepEqual([...placeholders].sort(), Object.keys(statement.params).sort(), `placeholders and parameters differ in\n${statement.sql}`);
  for (const value of INJECTED) assert.ok(!statement.sql.includes(value), `${value} is in the SQL text`);
}

/** Daily rows (dailyKpiSql's columns) for every run of the catalog: run i earns `pnl[i][d]` on day d. */
function dailyColumns(pnl: number[][]): Columns {
  const ri: number[] = [];
  const day: number[] = [];
  const p: number[] = [];
  pnl.forEach((days, r) => days.forEach((v, d) => (ri.push(r), day.push(TEST_DAY1 + d * 86_400_000), p.push(v))));
  const zeros = () => new Float64Array(p.length);
  return new Map<string, Float64Array | Int32Array>([
    ['ri', Int32Array.from(ri)],
    ['day', Float64Array.from(day)],
    ['pnl', Float64Array.from(p)],
    ['fees', zeros()],
    ['traded_value', zeros()],
    ['gross_sum', zeros()],
    ['net_sum', zeros()],
    ['long_sum', zeros()],
    ['short_sum', zeros()],
    ['bars', Float64Array.from(p, () => 78)],
    ['bret', Float64Array.from(p, () => 0.001)],
  ]);
}

/** A computed column's values as plain JS (strings or numbers, null for absent). */
function values(columns: OutColumn[], name: string): unknown[] {
  const column = columns.find((c) => c.name === name);
  assert.ok(column, `no column ${name} in ${columns.map((c) => c.name).join(', ')}`);
  if (column.kind === 'utf8') return [...column.index].map((i) => (i < 0 ? null : column.names[i]));
  return [...column.values].map((v) => (Number.isNaN(v) ? null : v));
}

// Daily P&L, a row per run in id order (alt, base', z3): alt loses, base' gains steadily, z3 gains most but with one bad day.
const PNL = [
  [-1000, 500, -2000, 300],
  [1000, 1200, 900, 1100],
  [5000, -3000, 6000, 4000],
];

test('leaderboard: trade statistics then every run\'s daily rows with the benchmark; all bound; total from the catalog', async () => {
  const { lookups, planned } = await plan('leaderboard', { runs: [RUN, OTHER], limit: 10, ...TEST_CUT_RANGE, filters: { sectors: [SECTOR] } });
  assert.equal(lookups.length, 1);
  assert.match(lookups[0]!.sql, /sum\(trades\)/);
  const [statement] = planned.statements as [Statement];
  assert.match(statement.sql, /LEFT JOIN benchmark_day m ON m\.day = d\.day/);
  // The deflated Sharpe's trials are every run: the daily rows are not restricted to the selection.
  assert.ok(Object.values(statement.params).includes(THIRD), 'every run of the dataset is read');
  for (const s of [...lookups, statement]) assertBound(s);
  assert.equal(planned.total, 2);
  assert.match(planned.notes.join(' '), /3 trials/);
});

test('leaderboard: sorted by a metric (missing last), a numeric or a text parameter; windowed; parameter columns typed', async () => {
  const run = async (params: object) => {
    const { planned } = await plan('leaderboard', { limit: 10, ...params });
    return { planned, columns: planned.statements[0]!.compute!(dailyColumns(PNL)) };
  };
  const bySharpe = await run({ sort: { column: 'sharpe', descending: true } });
  assert.deepEqual(values(bySharpe.columns, 'run_id'), [RUN, THIRD, OTHER]);
  const ascending = await run({ sort: { column: 'sharpe' } });
  assert.deepEqual(values(ascending.columns, 'run_id'), [OTHER, THIRD, RUN]);
  const byFast = await run({ sort: { column: 'param.fast', descending: true } });
  assert.deepEqual(values(byFast.columns, 'run_id'), [OTHER, THIRD, RUN], 'ties by run_id');
  assert.deepEqual(values(byFast.columns, 'param.fast'), [10, 10, 5]);
  const byMode = await run({ sort: { column: 'param.mode' } });
  assert.deepEqual(values(byMode.columns, 'run_id'), [OTHER, RUN, THIRD], 'absent last');
  assert.deepEqual(values(byMode.columns, 'param.mode'), ['b', "evil' --", null]);
  assert.equal(byMode.columns.find((c) => c.name === 'param.fast')!.kind, 'f64');
  assert.equal(byMode.columns.find((c) => c.name === 'param.mode')!.kind, 'utf8');
  const window = await run({ sort: { column: 'sharpe', descending: true }, offset: 1, limit: 1 });
  assert.deepEqual(values(window.columns, 'run_id'), [THIRD]);
  assert.equal(window.planned.total, 3);
  // excess_return: total return minus the benchmark's 0.1% a day compounded over the four days.
  const total = values(bySharpe.columns, 'total_return') as number[];
  const excess = values(bySharpe.columns, 'excess_return') as number[];
  total.forEach((t, i) => assert.ok(Math.abs(excess[i]! - (t - (1.001 ** 4 - 1))) < 1e-15));
  assert.deepEqual(values(bySharpe.columns, 'trade_count'), [0, 0, 0]);
  assert.deepEqual(
    bySharpe.columns.map((c) => c.name),
    ['run_id', 'name', 'param.fast', 'param.mode', 'total_pnl', 'total_return', 'cagr', 'sharpe', 'sortino', 'max_drawdown', 'calmar', 'trade_count',
      'trade_win_rate', 'turnover', 'fees', 'excess_return', 'deflated_sharpe'],
  );
});

test('leaderboard and surface: the metrics of a range and filters are kept; another sort, window or surface of it reads nothing', async () => {
  const store = catalog();
  const first = await plan('leaderboard', { limit: 10, ...TEST_CUT_RANGE, sort: { column: 'sharpe' } }, () => [], store);
  const computed = first.planned.statements[0]!.compute!(dailyColumns(PNL));
  const again = await plan('leaderboard', { limit: 1, ...TEST_CUT_RANGE, sort: { column: 'sharpe', descending: true } }, () => [], store);
  assert.equal(again.lookups.length, 0);
  assert.match(again.planned.statements[0]!.sql, /WHERE FALSE/);
  assert.deepEqual(values(again.planned.statements[0]!.compute!(new Map()), 'run_id'), [values(computed, 'run_id').at(-1)]);
  const surface = await plan('surface', { x: 'fast', metric: 'sharpe', ...TEST_CUT_RANGE }, () => [], store);
  assert.equal(surface.lookups.length, 0);
  const otherRange = await plan('leaderboard', { limit: 10, sort: { column: 'sharpe' } }, () => [], store);
  assert.equal(otherRange.lookups.length, 1, 'another range is computed');
  const otherRate = await plan('leaderboard', { limit: 10, ...TEST_CUT_RANGE, riskFreeRate: 0.05 }, () => [], store);
  assert.equal(otherRate.lookups.length, 1, 'another risk-free rate is computed');
});

test('leaderboard: once the whole history is read, a range of whole days is a slice of it: no look-up, nothing read, the same metrics', async () => {
  const store = catalog();
  // The whole history: its statement reads the trade statistics of each day beside the daily rows.
  const whole = await plan('leaderboard', { limit: 10 }, () => [], store);
  assert.match(whole.planned.statements[0]!.sql, /FROM trade_day d JOIN/);
  const withTrades = (columns: Columns) => {
    const rows = (columns.get('ri') as Int32Array).length;
    for (const name of ['t_n', 't_wins', 't_pnl_n', 't_gross_profit', 't_gross_loss', 't_holding_sum', 't_holding_n', 't_bars_held_sum', 't_bars_held_n',
      't_long_n', 't_long_pnl', 't_long_wins', 't_short_n', 't_short_pnl', 't_short_wins']) columns.set(name, new Float64Array(rows));
    return columns;
  };
  whole.planned.statements[0]!.compute!(withTrades(dailyColumns(PNL)));
  // Days 2 and 3 (whole days: from before the first bar to after the last).
  const range = { from: TEST_DAY1 + 86_400_000, to: TEST_DAY1 + 3 * 86_400_000 - 1 };
  const sliced = await plan('leaderboard', { limit: 10, sort: { column: 'run_id' }, ...range }, () => [], store);
  // The range ends at 23:59:59.999, through its whole millisecond (rangeEndCondition): its last
  // UTC day is whole for the trades too, so nothing is looked up.
  assert.equal(sliced.lookups.length, 0);
  // One millisecond less cuts that day: its trades are looked up by close time (planTradeRange).
  const short = await plan('leaderboard', { limit: 10, from: range.from, to: range.to - 1 }, () => [], store);
  assert.equal(short.lookups.length, 1);
  assert.match(short.lookups[0]!.sql, /FROM trade_list WHERE \(?close_ts BETWEEN/);
  assert.match(sliced.planned.statements[0]!.sql, /WHERE FALSE/);
  const fromSlice = sliced.planned.statements[0]!.compute!(new Map());
  // The same range read from the store (another catalog: nothing kept), given those two days' rows.
  const read = await plan('leaderboard', { limit: 10, sort: { column: 'run_id' }, ...range });
  assert.equal(read.lookups.length, 1);
  const fromRead = read.planned.statements[0]!.compute!(dailyColumns(PNL.map((days) => days.slice(1, 3))).set('day', Float64Array.from(PNL.flatMap(() => [1, 2].map((d) => TEST_DAY1 + d * 86_400_000)))));
  for (const name of ['total_pnl', 'sharpe', 'max_drawdown', 'excess_return', 'deflated_sharpe']) assert.deepEqual(values(fromSlice, name), values(fromRead, name), name);
  // A range that cuts days: the slice of its whole day, plus what the kept days do not hold: the
  // trades of the two UTC days it cuts (a look-up each, by close time, not trade_day) and the
  // bars of the two days it cuts (its statement, which reads no day rollup).
  const cut = await plan('leaderboard', { limit: 10, ...TEST_CUT_RANGE }, () => [], store);
  assert.equal(cut.lookups.length, 2);
  for (const lookup of cut.lookups) {
    assert.doesNotMatch(lookup.sql, /trade_day/);
    assert.match(lookup.sql, /FROM trade_list WHERE \(?close_ts BETWEEN/);
  }
  assert.match(cut.planned.statements[0]!.sql, /portfolio_bar/);
  assert.doesNotMatch(cut.planned.statements[0]!.sql, /portfolio_day/);
  // A dimension filter reads as before.
  assert.equal((await plan('leaderboard', { limit: 10, ...range, filters: { sectors: ['Energy'] } }, () => [], store)).lookups.length, 1);
});

test('leaderboard and surface: parameter filters decide the runs before any read; unknown names are bad params', async () => {
  const { planned } = await plan('leaderboard', { limit: 10, params: [{ name: 'fast', values: [10] }, { name: 'mode', values: ['b'] }] });
  assert.equal(planned.total, 1);
  assert.deepEqual(values(planned.statements[0]!.compute!(dailyColumns(PNL)), 'run_id'), [OTHER]);
  const range = await plan('leaderboard', { limit: 10, params: [{ name: 'fast', min: 6, max: 10 }] });
  assert.equal(range.planned.total, 2);
  await assert.rejects(plan('leaderboard', { limit: 10, params: [{ name: 'slow' }] }), /unknown parameter "slow" in params filters; the runs' parameters are fast, mode/);
  await assert.rejects(plan('leaderboard', { limit: 10, params: [{ name: 'fast', min: 3, max: 1 }] }), /reversed/);
  await assert.rejects(plan('leaderboard', { limit: 10, sort: { column: 'param.slow' } }), /unknown parameter "slow" in sort column/);
  await assert.rejects(plan('surface', { x: 'fast', y: 'slow', metric: 'sharpe' }), /unknown parameter "slow" in y/);
  await assert.rejects(plan('surface', { x: 'mode', y: 'mode', metric: 'sharpe' }), /x and y are both/);
});

test('surface: one cell per value, median and best of its runs, sorted by the axis; runs without the axis in no cell', async () => {
  const { planned, lookups } = await plan('surface', { x: 'fast', metric: 'total_pnl' });
  for (const s of [...lookups, ...planned.statements]) assertBound(s);
  const columns = planned.statements[0]!.compute!(dailyColumns(PNL));
  assert.deepEqual(values(columns, 'x'), [5, 10]);
  assert.deepEqual(values(columns, 'runs'), [1, 2]);
  // fast 5: base' alone (4200); fast 10: alt (-2200) and z3 (12000).
  assert.deepEqual(values(columns, 'value'), [4200, (-2200 + 12000) / 2]);
  assert.deepEqual(values(columns, 'best'), [4200, 12000]);
  assert.deepEqual(values(columns, 'best_run_id'), [RUN, THIRD]);
  const two = await plan('surface', { x: 'mode', y: 'fast', metric: 'total_pnl' });
  const grid = two.planned.statements[0]!.compute!(dailyColumns(PNL));
  assert.deepEqual(values(grid, 'x'), ['b', "evil' --"]);
  assert.deepEqual(values(grid, 'y'), [10, 5]);
  assert.match(two.planned.notes.join(' '), /1 of 3 runs have no value of mode or fast/);
});

test('rundiff: candidates, the P&L and the P&L by sector side by side, then the shown trades in one read; five parts computed, the symbols part SQL; every value bound', async () => {
  // Trades by position (trade id order). Candidates (largest overlap first): 0-0, then 1-0 (b's 0
  // taken), then 1-1. P&L of a: 10, -5, none, 8; of b: 4, 1, -20. Ids: a's 11.., b's 21..
  const pnl: Record<string, number | null> = { a11: 10, a12: -5, a13: null, a14: 8, b21: 4, b22: 1, b23: -20 };
  const row = (run: 'a' | 'b', id: number) => [run === 'a', String(id), id, `S${id}`, SECTOR, run === 'a' ? 'long' : 'short', id * 1000, id % 2 ? null : id * 1000 + 500, id * 1000 + 500, 2, pnl[`${run}${id}`], 0.5];
  const answer = (sql: string): unknown[][] => {
    if (sql.includes('AS is_a')) return [row('a', 11), row('a', 12), row('a', 13), row('a', 14), row('b', 21), row('b', 22), row('b', 23)];
    if (sql.startsWith('SELECT sector, a_pnl, b_pnl')) return [[SECTOR, 30, 45], ['Other', -7, 3]];
    return [];
  };
  const { lookups, planned } = await plan('rundiff', { a: RUN, b: OTHER, limit: 50, ...TEST_CUT_RANGE, filters: { sectors: [SECTOR] } }, answer, catalog(), rundiffColumns(pairColumns(0, 0, 1, 0, 1, 1), pnlColumns('10,-5,,8', '4,1,-20')));
  assert.equal(lookups.length, 4, 'the candidates and the P&L as columns and the P&L by sector, then the shown trades');
  assert.match(lookups[2]!.sql, /^SELECT sector, a_pnl, b_pnl/);
  const shown = lookups[3]!;
  assert.match(lookups[0]!.sql, /JOIN tb ON tb\.symbol = ta\.symbol AND ta\.entry_ts <= tb\.close_ts AND tb\.entry_ts <= ta\.close_ts/);
  assert.match(lookups[0]!.sql, /ORDER BY epoch_ms\(least\(ta\.close_ts, tb\.close_ts\)\) - epoch_ms\(greatest\(ta\.entry_ts, tb\.entry_ts\)\) DESC, ta\.entry_ts, tb\.entry_ts, a_pos, b_pos/);
  assert.match(lookups[0]!.sql, /row_number\(\) OVER \(ORDER BY trade_id\) - 1\)::INTEGER AS pos/);
  assert.match(lookups[1]!.sql, /ORDER BY run, pos/);
  assert.doesNotMatch(lookups.map((l) => l.sql).join(' '), /string_agg/);
  // The shown trades of both runs in one read, by id, not numbered again: pairs 0-0 and 1-1 (|6| and
  // |-6| tie: by a's position), a's 14 (|8|) and 13 (no P&L), b's 23.
  assert.doesNotMatch(shown.sql, /row_number/);
  assert.ok(Object.values(shown.params).includes('11,12,14,13') && Object.values(shown.params).includes('21,22,23'));
  assert.deepEqual(planned.statements.map((s) => s.part), ['summary', 'matched', 'only_a', 'only_b', 'sectors', 'symbols']);
  for (const s of [...lookups, ...planned.statements]) assertBound(s);
  const computed = (i: number) => new Map(planned.statements[i]!.compute!(new Map()).map((c) => [c.name, c]));
  const texts = (c: OutColumn | undefined) => (c?.kind === 'utf8' ? [...c.index].map((k) => (k < 0 ? null : c.names[k])) : assert.fail('not text'));
  const numbers = (c: OutColumn | undefined) => (c?.kind === 'f64' || c?.kind === 'i32' ? [...c.values] : assert.fail('not numbers'));
  // The summary: 4 and 3 trades, 2 matched, 2 and 1 only; P&L from the sectors (30 - 7, 45 + 3).
  const summary = computed(0);
  assert.deepEqual(['a_trades', 'b_trades', 'matched', 'only_a', 'only_b'].map((n) => numbers(summary.get(n))[0]), [4, 3, 2, 2, 1]);
  assert.deepEqual(['a_pnl', 'b_pnl', 'pnl_difference', 'matched_pnl_difference', 'only_a_pnl', 'only_b_pnl'].map((n) => numbers(summary.get(n))[0]), [23, 48, -25, 0, 8, -20]);
  assert.equal(summary.get('a_trades')!.kind, 'i32');
  assert.deepEqual(texts(summary.get('run_a')), [RUN]);
  const matched = computed(1);
  assert.deepEqual(numbers(matched.get('a_trade_id')), [11, 12]);
  assert.deepEqual(numbers(matched.get('b_trade_id')), [21, 22]);
  assert.deepEqual(numbers(matched.get('pnl_difference')), [6, -6]);
  assert.deepEqual(texts(matched.get('b_side')), ['short', 'short']);
  // Overlap: the earlier close less the later entry (ms).
  assert.deepEqual(numbers(matched.get('overlap_ms')), [11_500 - 21_000, 12_500 - 22_000]);
  // a's 11 has no exit (null), 12 has one.
  assert.ok(Number.isNaN(numbers(matched.get('a_exit_ts'))[0]!) && numbers(matched.get('a_exit_ts'))[1] === 12_500);
  assert.deepEqual(numbers(computed(2).get('trade_id')), [14, 13]);
  assert.ok(Number.isNaN(numbers(computed(2).get('pnl'))[1]!));
  assert.deepEqual(numbers(computed(3).get('trade_id')), [23]);
  // Sectors: the largest absolute difference first.
  assert.deepEqual(texts(computed(4).get('sector')), [SECTOR, 'Other']);
  assert.deepEqual(numbers(computed(4).get('difference')), [-15, -10]);
  assert.match(planned.statements[5]!.sql, /symbol_day/);
  assert.doesNotMatch(planned.statements[5]!.sql, /FROM bars\b/, 'whole days from rollups');
  // Two runs of three: each run's rows in a branch of their own (an equality prunes, an IN list does not).
  const symbols = planned.statements[5]!;
  const runBranches = [...symbols.sql.matchAll(/run_id IN \(\$(\w+)\)/g)].map((m) => symbols.params[m[1]!]);
  assert.deepEqual([...new Set(runBranches)].sort(), [OTHER, RUN].sort());
  assert.doesNotMatch(symbols.sql, /run_id IN \(\$\w+, /);
  // The whole history by symbol: the per-symbol totals, not every day row.
  const whole = await plan('rundiff', { a: RUN, b: OTHER }, () => [], catalog(), rundiffColumns(pairColumns(), pnlColumns('', '')));
  const bySymbol = whole.planned.statements[5]!;
  assertBound(bySymbol);
  assert.match(bySymbol.sql, /FROM symbol_total t JOIN symbols s/);
  assert.doesNotMatch(bySymbol.sql, /symbol_day/);
  await assert.rejects(plan('rundiff', { a: RUN, b: RUN }), /a and b are both/);
  await assert.rejects(plan('rundiff', { a: RUN, b: 'nope' }), /unknown run b "nope"/);
});

test('matchTrades: the candidates in their order, a pair kept when neither trade is matched yet', () => {
  assert.deepEqual(matchTrades(Int32Array.of(1, 1, 2), Int32Array.of(2, 1, 2), 3, 3), { a: [1], b: [2] });
  assert.deepEqual(matchTrades(Int32Array.of(1, 2, 2), Int32Array.of(1, 1, 2), 3, 3), { a: [1, 2], b: [1, 2] });
  assert.deepEqual(matchTrades(new Int32Array(0), new Int32Array(0), 0, 0), { a: [], b: [] });
});

test('tradeIdAt: a trade id through three INTEGER columns is exact for any BIGINT', () => {
  const ids = [0n, 1n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 3n, 2n ** 63n - 1n, -(2n ** 63n), 4398046511104n, 123456789012345678n];
  const columns = pnlColumns(ids.map(() => '1').join(','), '', ids);
  assert.deepEqual(ids.map((_, i) => tradeIdAt(columns, i)), ids.map(String));
});

test('splitByRun: the P&L look-up (a then b, each by position) as one array per run', () => {
  const columns = pnlColumns('10,,3', '4');
  const [a, b] = splitByRun(columns.get('run') as Int32Array, columns.get('pnl') as Float64Array);
  assert.deepEqual([...a], [10, Number.NaN, 3]);
  assert.deepEqual([...b], [4]);
  const [onlyB, bAgain] = splitByRun(Int32Array.of(1, 1), Float64Array.of(1, 2));
  assert.deepEqual([onlyB.length, bAgain.length], [0, 2], 'a has no trades in scope');
});

test('compareTrades: counts and sums as SQL would (a missing P&L adds nothing), the shown rows largest first, missing last, ties by position', () => {
  const pnl = (text: string) => (text === '' ? new Float64Array(0) : Float64Array.from(text.split(','), (v) => (v === '' ? Number.NaN : Number(v))));
  const a = pnl('10,-5,,8,8');
  const b = pnl('4,1,-20,');
  assert.ok(Number.isNaN(a[2]!));
  const t = compareTrades(a, b, { a: [0, 1, 2], b: [0, 1, 3] }, 2);
  assert.deepEqual([t.aTrades, t.bTrades, t.matched, t.onlyA, t.onlyB], [5, 4, 3, 2, 1]);
  assert.deepEqual([t.matchedPnlDifference, t.onlyAPnl, t.onlyBPnl], [6 + -6, 16, -20]);
  // |6| and |-6| tie: by a's position; the pair without a P&L difference last (cut by the limit).
  assert.deepEqual(t.shownPairs, { a: [0, 1], b: [0, 1] });
  assert.deepEqual(t.shownOnlyA, [3, 4], 'a P&L tie, by position');
  assert.deepEqual(compareTrades(pnl(',1'), pnl(''), { a: [], b: [] }, 5).shownOnlyA, [1, 0], 'no P&L last');
  const none = compareTrades(pnl(''), pnl(''), { a: [], b: [] }, 5);
  assert.deepEqual([none.aTrades, none.matched, none.matchedPnlDifference, none.shownOnlyA], [0, 0, 0, []]);
});

test('normalQuantile inverts normalCdf; SR0 of the deflated Sharpe ratio', () => {
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959963984540054) < 1e-13);
  assert.ok(Math.abs(normalQuantile(0.5)) < 1e-15);
  for (const z of [-7, -3.2, -1, -0.01, 0.3, 1.5, 2.5, 5]) assert.ok(Math.abs(normalQuantile(normalCdf(z)) - z) < 1e-9 * Math.max(1, Math.abs(z)), `z ${z}`);
  assert.equal(expectedMaxSharpe(1, 0.5), 0);
  // 100 trials of variance 1/2: sqrt(1/2) x ((1 - g) Z^-1(0.99) + g Z^-1(1 - 1/(100 e))), about sqrt(1/2) x 2.531.
  const g = 0.5772156649015329;
  const want = Math.sqrt(0.5) * ((1 - g) * 2.3263478740408408 + g * normalQuantile(1 - 1 / (100 * Math.E)));
  assert.ok(Math.abs(expectedMaxSharpe(100, 0.5) - want) < 1e-12);
  assert.ok(Math.abs(expectedMaxSharpe(100, 0.5) / Math.sqrt(0.5) - 2.5312) < 1e-3);
});
