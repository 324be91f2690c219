// The planners' SQL at the string level, without a store (as Mosaic tests its SQL without a
// database): the shape of representative plans, and that every value a client sends reaches DuckDB
// as a bound parameter, never as SQL text. The catalog is built by hand; its names are ones a
// backtest may well hold (quotes, SQL comments) and that must never be read as SQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DuckDBValue } from '@duckdb/node-api';
import type { QueryRequest } from '../../shared/messages.js';
import { planRequest } from '../../server/session/queries/index.js';
import { NOTHING_TO_READ, type Statement } from '../../server/session/queries/plan.js';
import type { Catalog } from '../../server/session/store.js';
import { TEST_CUT_RANGE, testCatalog } from '../support/test-catalog.js';

const RUN = "base' OR '1'='1";
const OTHER_RUN = 'alt';
const SECTOR = "Tech'; DROP TABLE bars; --";
const SYMBOL = "x' OR 1=1 --";
const OTHER_SYMBOL = 'AAPL';
const TAG = 'breakout"; --';
/** Pieces of the values above that would change a query's meaning if they were SQL text. */
const INJECTED = ["' OR", 'OR 1=1', 'DROP TABLE', '--', '";'];


function catalog(): Catalog {
  return testCatalog({ runs: [RUN, OTHER_RUN], symbols: [[SYMBOL, SECTOR], [OTHER_SYMBOL, 'Energy']], tags: [TAG], tradeCount: 1000 });
}

/** A range that cuts the first and the last day: answered from day rollups and bar tables. */
const CUT_RANGE = TEST_CUT_RANGE;
const EVERY_FILTER = { sectors: [SECTOR], symbols: [SYMBOL], tags: [TAG], sides: ['long' as const], pnl: { min: -100, max: 100 } };

interface Planned {
  /** The look-ups the planner ran, in order, then the statements of its plan. */
  lookups: Statement[];
  statements: Statement[];
}

/** Plans a request; look-ups get plausible answers by what they ask for. */
async function plan(request: QueryRequest): Promise<Planned> {
  const lookups: Statement[] = [];
  const answer = (sql: string): unknown[][] => {
    if (/AS bucket/.test(sql)) return [[0n, 100n], [1n, 50n]];
    if (/^\s*SELECT rk_/.test(sql)) return [[10], [11], [12]];
    if (/min\(/.test(sql)) return [[-5, 5]];
    return [[42n]];
  };
  const planned = await planRequest(request, catalog())(
    async (sql, params) => {
      lookups.push({ sql, params });
      return answer(sql);
    },
    async (sql, params) => {
      lookups.push({ sql, params });
      // A read of no rows: every column empty.
      return new Map<string, Float64Array | Int32Array>([
        ['ri', new Int32Array(0)],
        ['day', new Float64Array(0)],
      ]);
    },
  );
  return { lookups, statements: planned.statements };
}

const request = (query: QueryRequest['query'], params: object) => ({ type: 'request', id: 1, query, params }) as QueryRequest;

/** Placeholders of the text and the bound parameters are the same set; no client value is text. */
function assertBound(statement: Statement, clientValues: readonly string[]): void {
  const placeholders = new Set([...statement.sql.matchAll(/\$(\w+)/g)].map((m) => m[1]!));
  assert.deepEqual([...placeholders].sort(), Object.keys(statement.params).sort(), `placeholders and parameters differ in\n${statement.sql}`);
  for (const value of clientValues) assert.ok(!statement.sql.includes(value), `${JSON.stringify(value)} is in the SQL text:\n${statement.sql}`);
  for (const piece of INJECTED) assert.ok(!statement.sql.includes(piece), `${JSON.stringify(piece)} is in the SQL text:\n${statement.sql}`);
}

function boundValues(statement: Statement): DuckDBValue[] {
  return Object.values(statement.params);
}

/** CTEs are named for what they hold: no `m`, `t`, `den`. */
function assertNamedCtes(sql: string): void {
  const names = [...sql.matchAll(/(?:WITH|,)\s*(\w+) AS \(/g)].map((m) => m[1]!);
  for (const name of names) assert.ok(name.length > 3, `CTE ${name} is not named for what it holds`);
}

const EVERY_CLIENT_VALUE = [RUN, SECTOR, SYMBOL, TAG];

test('breakdown by symbol over a cut range with every filter: named CTEs, a bound window, nothing inlined', async () => {
  const { lookups, statements } = await plan(
    request('breakdown', { by: 'symbol', runs: [RUN], ...CUT_RANGE, filters: EVERY_FILTER, sort: { column: 'pnl', descending: true }, limit: 50, offset: 10 }),
  );
  assert.equal(lookups.length, 0);
  assert.equal(statements.length, 1);
  const [statement] = statements as [Statement];
  assertBound(statement, EVERY_CLIENT_VALUE);
  assertNamedCtes(statement.sql);
  const ctes = [...statement.sql.matchAll(/(?:WITH|,)\s*(\w+) AS \(/g)].map((m) => m[1]);
  for (const name of ['capitals', 'group_measures', 'run_bars', 'group_trades', 'group_totals', 'group_rows']) assert.ok(ctes.includes(name), `no CTE ${name}: ${ctes.join(', ')}`);
  assert.match(statement.sql, /ORDER BY pnl DESC NULLS LAST, g\.gkey ASC\s+LIMIT \$\w+::BIGINT OFFSET \$\w+::BIGINT/);
  assert.equal(statement.totalColumn, 'total_groups');
  const values = boundValues(statement);
  // Doubles are bound as their shortest round-trip text and cast back (Binder.number: exact for any finite double).
  for (const value of [RUN, SECTOR, SYMBOL, TAG, 'long', 50n, 10n, '-100', '100']) assert.ok(values.includes(value), `${String(value)} is not bound`);
});

test('breakdown by hour without filters reads portfolio bars; its run list is the catalog, bound', async () => {
  const { statements } = await plan(request('breakdown', { by: 'hour', limit: 24 }));
  const [statement] = statements as [Statement];
  assertBound(statement, EVERY_CLIENT_VALUE);
  assertNamedCtes(statement.sql);
  assert.match(statement.sql, /FROM portfolio_bar/);
  assert.match(statement.sql, /hour\(ts\)::INTEGER AS gkey/);
  assert.ok(boundValues(statement).includes(RUN), 'the runs of the capital list are bound');
});

test('trades with no filter: one statement, a window of ranks known without a look-up', async () => {
  const { lookups, statements } = await plan(request('trades', { limit: 100, offset: 200 }));
  assert.equal(lookups.length, 0);
  const [statement] = statements as [Statement];
  assertBound(statement, []);
  assert.match(statement.sql, /FROM trade_list\s+WHERE rk_entry_ts BETWEEN \$\w+::BIGINT AND \$\w+::BIGINT\s+ORDER BY rk_entry_ts ASC/);
  assert.deepEqual(boundValues(statement), [200n, 299n]);
});

test('trades under a symbols filter: a count, then a sorted window of the base trades, every value bound', async () => {
  const { lookups, statements } = await plan(
    request('trades', { runs: [RUN], filters: { symbols: [SYMBOL], tags: [TAG] }, sort: { column: 'pnl', descending: true }, limit: 20 }),
  );
  assert.equal(lookups.length, 1);
  assert.match(lookups[0]!.sql, /^SELECT count\(\*\) FROM \(SELECT t\.run_id/);
  const [statement] = statements as [Statement];
  for (const s of [...lookups, statement]) {
    assertBound(s, EVERY_CLIENT_VALUE);
    assert.match(s.sql, /FROM trades t LEFT JOIN symbols s ON s\.symbol = t\.symbol LEFT JOIN runs r ON r\.run_id = t\.run_id\s+WHERE t\.symbol IN \(\$\w+\)/);
    for (const value of [RUN, SYMBOL, TAG]) assert.ok(boundValues(s).includes(value), `${value} is not bound`);
  }
  assert.match(statement.sql, /ORDER BY pnl DESC NULLS FIRST, run_id DESC, trade_id DESC LIMIT \$\w+::BIGINT OFFSET \$\w+::BIGINT/);
});

test('trades under a sector filter sorted by pnl: rank histogram, ranks, then the rows from the clustered copy', async () => {
  const { lookups, statements } = await plan(request('trades', { ...CUT_RANGE, filters: { sectors: [SECTOR], tags: [TAG] }, sort: { column: 'pnl' }, limit: 20, offset: 5 }));
  assert.equal(lookups.length, 2);
  assert.match(lookups[0]!.sql, /SELECT \(rk_pnl \/\/ 4096\)::BIGINT AS bucket, count\(\*\)::BIGINT AS n\s+FROM trade_list WHERE/);
  assert.match(lookups[1]!.sql, /^SELECT rk_pnl FROM trade_list_by_pnl\s+WHERE rk_pnl BETWEEN/);
  const [statement] = statements as [Statement];
  assert.match(statement.sql, /FROM trade_list_by_pnl\s+WHERE rk_pnl BETWEEN \$\w+::BIGINT AND \$\w+::BIGINT AND /);
  assert.match(statement.sql, /ORDER BY rk_pnl ASC$/);
  for (const s of [...lookups, statement]) {
    assertBound(s, EVERY_CLIENT_VALUE);
    for (const value of [SECTOR, TAG]) assert.ok(boundValues(s).includes(value), `${value} is not bound`);
  }
  // The rows between the first and last rank the look-up found.
  assert.ok(boundValues(statement).includes(10n) && boundValues(statement).includes(12n));
});

test('equity: the bar table the filters need, the range as bound microseconds, computed in the session', async () => {
  const cases: [object, RegExp][] = [
    [{}, /FROM portfolio_bar WHERE/],
    [{ filters: { sectors: [SECTOR] } }, /FROM sector_bar WHERE/],
    [{ filters: { symbols: [SYMBOL] } }, /FROM bars WHERE/],
  ];
  for (const [params, table] of cases) {
    const { lookups, statements } = await plan(request('equity', { width: 800, runs: [RUN], ...CUT_RANGE, ...params }));
    assert.equal(lookups.length, 0);
    const [statement] = statements as [Statement];
    assertBound(statement, EVERY_CLIENT_VALUE);
    assert.match(statement.sql, table);
    assert.match(statement.sql, /\(ts >= make_timestamp\(\$\w+::BIGINT\)\) AND \(ts < make_timestamp\(\$\w+::BIGINT\)\)/);
    assert.ok(boundValues(statement).includes(BigInt(CUT_RANGE.from * 1000)), 'from is bound in microseconds');
    assert.ok(boundValues(statement).includes(BigInt((CUT_RANGE.to + 1) * 1000)), 'to holds through its millisecond');
    assert.ok(boundValues(statement).includes(RUN));
    assert.equal(typeof statement.compute, 'function');
  }
});

test('histogram of a trade field with bounds given: no bounds look-up, one pass grouping the values by their estimated bin', async () => {
  const { lookups, statements } = await plan(request('histogram', { field: 'pnl', bins: 30, min: -50, max: 75, runs: [RUN], filters: EVERY_FILTER }));
  assert.equal(lookups.length, 1);
  const [groups] = lookups as [Statement];
  assertBound(groups, EVERY_CLIENT_VALUE);
  assertNamedCtes(groups.sql);
  assert.match(groups.sql, /WITH field_values AS \(SELECT run_id, pnl::DOUBLE AS v FROM/);
  assert.match(groups.sql, /count\(\*\)::INTEGER AS n, min\(v\) AS vmin, max\(v\) AS vmax\s+FROM field_values GROUP BY run_id, floor\(\(v - \$\w+::DOUBLE\) \* \$\w+::DOUBLE\)$/);
  // 30 bins over [-50, 75]: the estimate's scale is bins / (max - min), bound like min.
  for (const value of ['-50', String(30 / 125), RUN, SECTOR, SYMBOL, TAG]) assert.ok(boundValues(groups).includes(value), `${String(value)} is not bound`);
  assert.deepEqual(statements.map((s) => s.sql), [NOTHING_TO_READ]);
});

test('histogram of daily returns without bounds: a look-up of the bounds, then the values grouped over the daily rows', async () => {
  const { lookups } = await plan(request('histogram', { field: 'daily_return', bins: 20, runs: [RUN], ...CUT_RANGE, filters: { sectors: [SECTOR] } }));
  assert.equal(lookups.length, 2);
  assert.match(lookups[0]!.sql, /SELECT min\(v\), max\(v\) FROM field_values$/);
  for (const s of lookups) {
    assertBound(s, EVERY_CLIENT_VALUE);
    assertNamedCtes(s.sql);
    assert.match(s.sql, /WITH capitals AS \(/);
    assert.match(s.sql, /calendar AS \(/);
    assert.match(s.sql, /level_days AS \(/);
    assert.match(s.sql, /daily AS \(/);
    assert.ok(boundValues(s).includes(SECTOR));
  }
  // The bounds the look-up found (-5, 5) place the groups: 20 bins over 10.
  assert.ok(boundValues(lookups[1]!).includes('-5') && boundValues(lookups[1]!).includes('2'));
});

test("runs are selected by run_key and run_id on the rollups, by run_id alone on the base tables bars and trades", async () => {
  const keys = catalog().runKeys;
  const keyOf = (statement: Statement) => {
    const m = /run_key IN \(\$(\w+)::INTEGER\)/.exec(statement.sql);
    return m ? statement.params[m[1]!] : undefined;
  };
  // One run of two: the day rollups, keyed with the catalog's key of that run.
  const summary = await plan(request('summary', { runs: [RUN], ...CUT_RANGE }));
  const keyed = summary.lookups.filter((s) => /FROM (portfolio_day|portfolio_bar)/.test(s.sql));
  assert.ok(keyed.length > 0);
  for (const s of keyed) assert.equal(keyOf(s), keys.get(RUN), s.sql);
  // A series reads bars (as a column look-up): no run_key there.
  const series = await plan(request('series', { runs: [RUN], symbol: SYMBOL, width: 10 }));
  const onBars = [...series.lookups, ...series.statements].filter((s) => /FROM bars\b/.test(s.sql));
  assert.ok(onBars.length > 0);
  for (const s of onBars) {
    assert.doesNotMatch(s.sql.split(/FROM trades\b/)[0]!, /run_key/, 'bars have no run_key');
    assert.match(s.sql, /run_id IN \(\$\w+\)/);
  }
  // The base trades under a symbols filter get the run's key from the runs table.
  const trades = await plan(request('trades', { runs: [RUN], filters: { symbols: [SYMBOL] }, limit: 10 }));
  assert.match(trades.lookups[0]!.sql, /LEFT JOIN runs r ON r\.run_id = t\.run_id/);
  assert.equal(keyOf(trades.lookups[0]!), keys.get(RUN));
  // Every run: no run condition at all.
  const every = await plan(request('summary', {}));
  for (const s of [...every.lookups, ...every.statements]) assert.doesNotMatch(s.sql, /run_key IN|run_id IN/);
});

test('a value the dataset does not have is refused before any SQL is written', async () => {
  await assert.rejects(plan(request('breakdown', { by: 'symbol', limit: 10, filters: { symbols: ["nope' OR 1=1 --"] } })), /unknown symbol/);
  await assert.rejects(plan(request('trades', { limit: 10, filters: { tags: ['nope'] } })), /unknown tag/);
});
