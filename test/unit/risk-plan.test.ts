// The plans of `risk` and `benchmark` (no database): what they read, that every client value is
// bound, that whole days never touch a bar table; and the return statistics they compute
// (risk-metrics.ts) against values known in closed form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QueryRequest } from '../../shared/messages.js';
import { planRequest } from '../../server/session/queries/index.js';
import { NOTHING_TO_READ, type Statement } from '../../server/session/queries/plan.js';
import type { Columns } from '../../server/session/compute.js';
import { LOOKUP_CACHE_MAX_BYTES, lookupBytes } from '../../server/session/lookup-cache.js';
import { topTradeCountSql } from '../../server/session/queries/risk.js';
import { mem } from '../support/duckdb.js';
import { dailyRiskFree, moments, normalCdf, probabilisticSharpe, relative, sharpe, sortino } from '../../server/session/queries/risk-metrics.js';
import type { Catalog } from '../../server/session/store.js';
import { TEST_CUT_RANGE, TEST_DAY1, testCatalog } from '../support/test-catalog.js';

const RUN = "base'; DROP TABLE runs; --";
const OTHER_RUN = 'alt';
const SECTOR = "Tech' OR 1=1 --";
const SYMBOL = 'AAPL';
const DAY1 = TEST_DAY1;

function catalog(): Catalog {
  return testCatalog({ runs: [RUN, OTHER_RUN], symbols: [[SYMBOL, SECTOR], ['XOM', 'Energy']], tradeCount: 1000, riskFreeRate: 0.02 });
}

const CUT_RANGE = TEST_CUT_RANGE;

/** Look-up answers: the priced trades of trade_list, the best trades (run_id, n, k5, day, top1, top5, taken), the best symbols. */
interface Answers {
  priced?: number;
  bestTrades?: (sql: string) => unknown[][];
  bestSymbols?: (sql: string) => unknown[][];
  /** The daily rows (risk reads them as columns, beside its look-ups). */
  daily?: Columns;
}

/** No daily rows: the columns a read of none returns. */
const NO_DAYS: Columns = new Map<string, Float64Array | Int32Array>([
  ['ri', new Int32Array(0)],
  ['day', new Float64Array(0)],
]);

async function plan(query: 'risk' | 'benchmark', params: object, answers: Answers = {}) {
  const lookups: Statement[] = [];
  /** Reads as columns: the daily rows (risk and benchmark). */
  const columnReads: Statement[] = [];
  const planned = await planRequest({ type: 'request', id: 1, query, params } as QueryRequest, catalog())(
    async (sql, bound) => {
      lookups.push({ sql, params: bound });
      if (/^SELECT count\(pnl\)/.test(sql)) return [[answers.priced ?? 1000]];
      if (/AS taken/.test(sql)) return answers.bestTrades?.(sql) ?? [];
      if (/WITH rows AS NOT MATERIALIZED/.test(sql)) return answers.bestSymbols?.(sql) ?? [];
      return [];
    },
    async (sql, bound) => {
      columnReads.push({ sql, params: bound });
      return answers.daily ?? NO_DAYS;
    },
  );
  return { lookups, columnReads, statements: planned.statements, source: planned.source, notes: planned.notes };
}

function assertBound(statement: Statement): void {
  const placeholders = new Set([...statement.sql.matchAll(/\$(\w+)/g)].map((m) => m[1]!));
  assert.deepEqual([...placeholders].sort(), Object.keys(statement.params).sort(), `placeholders and parameters differ in\n${statement.sql}`);
  for (const value of [RUN, SECTOR, 'DROP TABLE', 'OR 1=1']) assert.ok(!statement.sql.includes(value), `${value} is in the SQL text`);
}

test('risk over everything: the best trades of each run with their counts from a rank bound, the symbols, the daily rows; no bar table', async () => {
  // 250 trades: the best 3 (1%, rounded up) and 13 (5%); all 13 come back from the bounded read.
  const found = [[RUN, 250, 13, Date.UTC(2024, 0, 2), 50, 120, 13]];
  const { lookups, columnReads, statements, source, notes } = await plan('risk', {}, { bestTrades: () => found });
  assert.equal(lookups.length, 3, lookups.map((l) => l.sql).join('\n---\n'));
  // The best trades' look-ups and the best symbols' run side by side: found by what they are.
  const [priced, best, symbols] = [/^SELECT count\(pnl\)/, /AS taken/, /WITH rows AS NOT MATERIALIZED/].map((re) => lookups.find((l) => re.test(l.sql))!);
  assert.match(priced!.sql, /^SELECT count\(pnl\)::DOUBLE FROM trade_list$/);
  assert.ok(lookups.indexOf(priced!) < lookups.indexOf(best!), 'the priced trades, then the best');
  // Each run's count in scope comes from the trade statistics in the same read, and gives its best 1% and 5%.
  assert.match(best!.sql, /^WITH counts AS \(SELECT run_id, sum\(pnl_n\)::DOUBLE AS n FROM \(.*FROM trade_day.*\) GROUP BY run_id\)/s);
  assert.match(best!.sql, /limits AS \(SELECT run_id, n, ceil\(round\(0\.01::DOUBLE \* n \* 1e9\) \/ 1e9\) AS k1, ceil\(round\(0\.05::DOUBLE \* n \* 1e9\) \/ 1e9\) AS k5 FROM counts WHERE n > 0\)/);
  // The best 5% are looked for among the best 4 x 5% of the 1000 priced trades: ranks 800 and up.
  // One read numbers every run's trades by P&L and keeps each run's best k1 and k5.
  assert.match(best!.sql, /row_number\(\) OVER \(PARTITION BY run_id ORDER BY rk_pnl DESC\) AS k FROM trade_list_by_pnl\s+WHERE .* AND pnl IS NOT NULL AND rk_pnl >= \$\w+::BIGINT\s/s);
  assert.match(best!.sql, /\) t JOIN limits l ON l\.run_id = t\.run_id\s+WHERE t\.k <= l\.k5/);
  assert.match(best!.sql, /FROM limits l LEFT JOIN best d ON d\.run_id = l\.run_id$/, 'a run with trades in scope has a row even when none came back');
  const values = Object.values(best!.params);
  assert.ok(values.includes(800n), JSON.stringify(best!.params, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  assert.match(symbols!.sql, /FROM symbol_day_by_day/);
  // The daily rows are read beside the look-ups, as columns (the summary's and the benchmark's
  // statement: dailyRowsWithBenchmark); the answer's statement reads nothing.
  const [statement] = columnReads as [Statement];
  assert.equal(columnReads.length, 1);
  assert.match(statement.sql, /LEFT JOIN benchmark_day m ON m\.day = d\.day$/);
  assert.deepEqual(statements.map((s) => s.sql), [NOTHING_TO_READ]);
  for (const s of [...lookups, statement]) {
    assertBound(s);
    assert.doesNotMatch(s.sql, /\bFROM (bars|bars_by_time|portfolio_bar|sector_bar)\b/, 'whole days come from rollups');
  }
  assert.doesNotMatch(source, /\bbars\b/);
  assert.deepEqual(notes, ['benchmark: Equal-weighted market (2 symbols)']);
});

test('risk: a run whose best trades are not all within the rank bound is read again without it, alone', async () => {
  const day = Date.UTC(2024, 0, 2);
  const { lookups } = await plan('risk', {}, {
    bestTrades: (sql) =>
      /rk_pnl >=/.test(sql)
        ? [[RUN, 250, 13, day, 50, 120, 12], [OTHER_RUN, 100, 5, day, 10, 20, 5]]
        : [[RUN, 250, 13, day, 50, 125, 13]],
  });
  const reads = lookups.filter((l) => /AS taken/.test(l.sql));
  assert.equal(reads.length, 2);
  assert.match(reads[0]!.sql, /rk_pnl >=/);
  assert.doesNotMatch(reads[1]!.sql, /rk_pnl >=/);
  assert.match(reads[1]!.sql, /FROM trade_list_by_pnl\s+WHERE .* AND pnl IS NOT NULL\s/s);
  assert.ok(Object.values(reads[1]!.params).includes(RUN) && !Object.values(reads[1]!.params).includes(OTHER_RUN), 'only the run whose best 5% did not all come back is read again');
});

test('risk over a cut range with dimension and trade filters: cut days from bar tables, every value bound', async () => {
  const { lookups, columnReads, notes } = await plan('risk', { runs: [RUN], ...CUT_RANGE, filters: { sectors: [SECTOR], sides: ['long'] } });
  const [statement] = columnReads as [Statement];
  for (const s of [...lookups, statement]) assertBound(s);
  assert.ok(Object.values(statement.params).includes(SECTOR) && Object.values(statement.params).includes(RUN));
  assert.match(statement.sql, /FROM sector_bar WHERE/);
  const ranking = lookups.find((l) => /PARTITION BY run_id ORDER BY pnl DESC, symbol/.test(l.sql))!;
  assert.match(ranking.sql, /FROM bars_by_time WHERE/, 'the symbols of cut days from the time-sorted bars');
  const best = lookups.find((l) => /AS taken/.test(l.sql))!;
  assert.ok(Object.values(best.params).includes('long'), 'the side filter selects the best trades');
  assert.equal(notes.length, 2);
});

test('risk: the range\'s symbol rows ranked, and only the best ten summed per day, from the same day-sorted tables, not materialized', async () => {
  const { lookups } = await plan('risk', CUT_RANGE);
  const best = lookups.find((l) => /WITH rows AS NOT MATERIALIZED/.test(l.sql))!;
  assertBound(best);
  assert.match(best.sql, /WITH rows AS NOT MATERIALIZED \(SELECT run_id, day, symbol, pnl FROM \(/);
  assert.match(best.sql, /FROM symbol_day_by_day/);
  assert.match(best.sql, /FROM bars_by_time WHERE/, 'cut days from the time-sorted bars');
  assert.doesNotMatch(best.sql, /FROM (symbol_day|bars) WHERE/, 'not the symbol-sorted tables');
  assert.match(best.sql, /WHERE k <= \$\w+::BIGINT/);
});

test("risk: the best symbols' names come on one row of each run, so the look-up stays small enough to be kept", async () => {
  const { lookups } = await plan('risk', {});
  assert.match(lookups.find((l) => /WITH rows AS NOT MATERIALIZED/.test(l.sql))!.sql, /CASE WHEN row_number\(\) OVER \(PARTITION BY names\.run_id\) = 1 THEN names\.top END AS top/);
  // Two runs, two days each: the names on the first row only, the later rows null.
  const day = (d: number) => DAY1 + d * 86_400_000;
  const daily: Columns = new Map<string, Float64Array | Int32Array>([
    ['ri', Int32Array.of(0, 0, 1, 1)],
    ['day', Float64Array.of(day(0), day(1), day(0), day(1))],
    ['pnl', Float64Array.of(10, -4, 5, 2)],
    ['bret', Float64Array.of(0.002, 0.001, 0.002, 0.001)],
  ]);
  const { statements } = await plan('risk', {}, {
    daily,
    bestSymbols: () => [
      [RUN, 'AAPL, XOM', 2, day(0), 5, 7, 7],
      [RUN, null, 2, day(1), -1, 2, 2],
      [OTHER_RUN, 'XOM, AAPL', 2, day(0), 3, 3, 4],
      [OTHER_RUN, null, 2, day(1), 1, 1, 1],
    ],
  });
  const columns = new Map(statements[0]!.compute!(new Map()).map((c) => [c.name, c]));
  const text = (name: string) => {
    const column = columns.get(name)!;
    assert.ok(column.kind === 'utf8');
    return [...column.index].map((i) => column.names[i]);
  };
  const topOf = new Map(text('run_id').map((run, i) => [run, text('top_symbols')[i]]));
  assert.deepEqual(topOf, new Map([[RUN, 'AAPL, XOM'], [OTHER_RUN, 'XOM, AAPL']]));
  // What the cache estimates for 8 runs over two years of days, with 10 names of 6 characters: kept.
  const names = Array.from({ length: 10 }, (_, i) => `SYM${String(i).padStart(3, '0')}`).join(', ');
  const rows = Array.from({ length: 8 * 504 }, (_, i) => [`run-${i % 8}-with-a-long-id`, i < 8 ? names : null, 500, day(i), 1.5, 2.5, 3.5]);
  assert.ok(lookupBytes(rows) < LOOKUP_CACHE_MAX_BYTES, `${lookupBytes(rows)} bytes`);
  assert.ok(lookupBytes(rows.map((r) => [r[0], names, ...r.slice(2)])) > LOOKUP_CACHE_MAX_BYTES, 'with the names on every row it was not');
});

test('risk with no trades in scope reads the best trades once, and has none to take out', async () => {
  const { lookups } = await plan('risk', {}, { bestTrades: () => [] });
  assert.equal(lookups.filter((l) => /AS taken/.test(l.sql)).length, 1, 'no run is read again');
});

test('benchmark: the runs calendar and benchmark_day, read as the summary and risk read them; dimension filters do not reach it', async () => {
  const { lookups, columnReads, statements } = await plan('benchmark', { runs: [RUN], filters: { sectors: [SECTOR] } });
  assert.equal(lookups.length, 0);
  const [read] = columnReads as [Statement];
  assert.equal(columnReads.length, 1);
  assertBound(read);
  assert.ok(!Object.values(read.params).includes(SECTOR));
  assert.match(read.sql, /FROM portfolio_day/);
  assert.match(read.sql, /LEFT JOIN benchmark_day/);
  assert.deepEqual(statements.map((s) => s.sql), [NOTHING_TO_READ]);
  // Without dimension filters, the very look-up risk makes (QueryRunner shares it while both run).
  const benchmark = await plan('benchmark', { runs: [RUN], ...CUT_RANGE });
  const risk = await plan('risk', { runs: [RUN], ...CUT_RANGE });
  assert.deepEqual(benchmark.columnReads, risk.columnReads);
});

test('the best 1% and 5% of n trades: at least one, rounded up, without floating-point overshoot', async () => {
  const counts = (share: number, ns: number[]) =>
    mem(async (q) => (await q(`SELECT ${topTradeCountSql(share, 'n')}::INTEGER AS k FROM unnest([${ns.join(', ')}]::DOUBLE[]) u(n)`)).map((r) => r.k));
  assert.deepEqual(await counts(0.01, [1, 99, 100, 101, 250, 2000]), [1, 1, 1, 2, 3, 20]);
  assert.deepEqual(await counts(0.05, [1, 20, 100, 101]), [1, 1, 5, 6]);
  assert.deepEqual(await counts(0.05, [0]), [0]);
});

test('normal distribution function: known values', () => {
  const known: [number, number][] = [
    [0, 0.5],
    [1, 0.8413447460685429],
    [-1, 0.15865525393145707],
    [1.959963984540054, 0.975],
    [0.3, 0.6179114221889527],
    [-3.5, 0.00023262907903552504],
    [6, 0.9999999990134123],
  ];
  for (const [z, p] of known) assert.ok(Math.abs(normalCdf(z) - p) < 1e-13, `Φ(${z}) = ${normalCdf(z)}, want ${p}`);
});

test('return statistics: risk-free rate, Sharpe, Sortino, moments, PSR and the benchmark-relative set', () => {
  assert.ok(Math.abs((1 + dailyRiskFree(0.05)) ** 252 - 1.05) < 1e-12);
  const r = [0.01, -0.02, 0.015, 0.003, -0.004];
  // mean 0.0008; squared deviations sum to 0.0007468
  assert.ok(Math.abs(sharpe(r, 0) - (0.0008 / Math.sqrt(0.0007468 / 4)) * Math.sqrt(252)) < 1e-12);
  assert.ok(Math.abs(sortino(r, 0) - (0.0008 * 252) / (Math.sqrt((0.0004 + 0.000016) / 5) * Math.sqrt(252))) < 1e-12);
  const symmetric = moments([-1, 0, 1]);
  assert.equal(symmetric.skew, 0);
  assert.ok(Math.abs(symmetric.kurtosis - 1.5) < 1e-12);
  // Normal-looking returns with a clearly positive Sharpe over many days: PSR near 1; one day: undefined.
  const many = Array.from({ length: 500 }, (_, i) => 0.001 + 0.01 * Math.sin(i * 2.399));
  assert.ok(probabilisticSharpe(many, 0) > 0.97);
  assert.ok(Number.isNaN(probabilisticSharpe([0.01], 0)));
  // A run that is twice its benchmark: beta 2, correlation 1, up and down capture above 1.
  const b = [0.01, -0.005, 0.002, -0.012, 0.007];
  const rel = relative(b.map((x) => 2 * x), b, 0);
  assert.ok(Math.abs(rel.beta - 2) < 1e-12 && Math.abs(rel.correlation - 1) < 1e-12);
  assert.ok(Math.abs(rel.alpha) < 1e-12);
  assert.ok(rel.upCapture > 1 && rel.downCapture > 1);
  const one = relative([0.01], [0.02], 0);
  assert.ok(Number.isNaN(one.beta) && Number.isNaN(one.correlation) && Number.isNaN(one.trackingError));
});
