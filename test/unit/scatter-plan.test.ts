// The scatter's SQL and the close hour and weekday filters at the string level, without a store:
// which table answers, how the sample is drawn, and that every client value is bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QueryRequest } from '../../shared/messages.js';
import { planRequest } from '../../server/session/queries/index.js';
import type { Statement } from '../../server/session/queries/plan.js';
import { planScatter, sampleKeyBound, sampleSource } from '../../server/session/queries/scatter.js';
import { tradeSampleKeySql } from '../../server/store/format.js';
import { closeTimeConditions, hasTradeFilters, resolveScope, tradeConditions } from '../../server/session/queries/scope.js';
import { Binder } from '../../server/session/queries/sql.js';
import type { Catalog } from '../../server/session/store.js';
import { TEST_CUT_RANGE, testCatalog } from '../support/test-catalog.js';

const RUN = "base' OR '1'='1";
const SECTOR = "Tech'; DROP TABLE bars; --";
const SYMBOL = "x' OR 1=1 --";
const TAG = 'breakout"; --';
const INJECTED = ["' OR", 'OR 1=1', 'DROP TABLE', '--', '";'];

function catalog(zone = 'UTC'): Catalog {
  return testCatalog({ runs: [RUN, 'alt'], symbols: [[SYMBOL, SECTOR], ['AAPL', 'Energy']], tags: [TAG], tradeCount: 1000, zone });
}

const CUT_RANGE = TEST_CUT_RANGE;

/** Runs a planner whose count look-up answers `count`; returns the look-ups and the statement. */
async function planned(params: object, options: { cap?: number; count?: bigint; zone?: string } = {}) {
  const lookups: string[] = [];
  const plan = await planScatter(params as never, catalog(options.zone), options.cap)(async (sql) => {
    lookups.push(sql);
    return [[options.count ?? 42n]];
  });
  assert.equal(plan.statements.length, 1);
  return { lookups, plan, statement: plan.statements[0]! };
}

function assertBound(statement: Statement): void {
  const placeholders = new Set([...statement.sql.matchAll(/\$(\w+)/g)].map((m) => m[1]!));
  assert.deepEqual([...placeholders].sort(), Object.keys(statement.params).sort(), statement.sql);
  for (const piece of [RUN, SECTOR, SYMBOL, TAG, ...INJECTED]) assert.ok(!statement.sql.includes(piece), `${piece} in\n${statement.sql}`);
}

const noBars = (sql: string) => assert.doesNotMatch(sql, /\b(bars|bars_by_time|portfolio_bar|sector_bar)\b(?!_)/, sql);

/** Runs a planner whose count look-up answers `count` and whose key look-ups answer `keyed(sql)`. */
async function plannedAbove(params: object, cap: number, count: bigint, keyed: (sql: string) => [bigint, bigint | null]) {
  const lookups: string[] = [];
  const plan = await planScatter(params as never, catalog(), cap)(async (sql) => {
    lookups.push(sql);
    return [/max\(sample_key\)/.test(sql) ? keyed(sql) : [count]];
  });
  return { lookups, plan, statement: plan.statements[0]! };
}

test('scatter of every trade, more than the cap: the cap-th smallest key from trade_sample, then the points up to it in entry order', async () => {
  const { lookups, plan, statement } = await plannedAbove({}, 100, 0n, () => [100n, 123456789n]);
  assert.equal(lookups.length, 1, 'the catalog knows the count of every trade; one look-up finds the cap-th key');
  assert.match(lookups[0]!, /^SELECT count\(\*\), max\(sample_key\) FROM \(SELECT sample_key FROM trade_sample WHERE TRUE AND sample_key < \$\w+::UBIGINT ORDER BY sample_key LIMIT 100\)$/);
  assert.equal(plan.total, 1000);
  assert.equal(plan.source, 'trade_sample');
  assert.match(statement.sql, /FROM trade_sample WHERE TRUE AND sample_key <= \$\w+::UBIGINT ORDER BY rk_entry_ts$/);
  assert.deepEqual(Object.values(statement.params), ['123456789']);
  assert.doesNotMatch(statement.sql, /OVER|LIMIT/);
  assert.match(plan.notes.join(' '), /the 100 of 1000 trades with the smallest sample keys/);
  assertBound(statement);
  noBars(statement.sql);
});

test('scatter above the cap whose key bound lets too few through: the key is looked for again without the bound', async () => {
  const { lookups, plan, statement } = await plannedAbove({ ...CUT_RANGE }, 100, 1_200_000n, (sql) => (/sample_key </.test(sql) ? [99n, 5n] : [100n, 77n]));
  assert.equal(lookups.length, 3);
  // The count from trade_day's whole days and the cut days' trades, the sample's reads over trade_sample (pruned to the smallest keys).
  assert.match(lookups[0]!, /^SELECT coalesce\(sum\(trades\), 0\)::BIGINT FROM \(SELECT .* FROM trade_day WHERE .*\sUNION ALL\s.* FROM trade_list WHERE .*close_ts BETWEEN/s);
  assert.match(lookups[1]!, /FROM trade_sample WHERE .* AND sample_key < \$\w+::UBIGINT ORDER BY sample_key LIMIT 100\)$/s);
  assert.doesNotMatch(lookups[2]!, /sample_key </);
  assert.match(lookups[2]!, /FROM trade_sample WHERE/);
  assert.equal(plan.source, 'trade_sample');
  assert.match(statement.sql, /FROM trade_sample WHERE .* AND sample_key <= \$\w+::UBIGINT ORDER BY rk_entry_ts$/s);
  assert.ok(Object.values(statement.params).includes('77'));
  assertBound(statement);
});

test('a sample is read from whichever copy of the trade list holds it in the fewest rows', () => {
  const cat = catalog();
  const all = resolveScope({}, cat);
  const oneRunCut = resolveScope({ runs: [RUN], ...CUT_RANGE }, cat);
  assert.equal(sampleSource(all, cat, 100, 100), 'trade_list', 'within the cap: no sample');
  assert.equal(sampleSource(all, cat, 100, 1000), 'trade_sample', 'every trade: about a sixth of the keys');
  // One run of two over most of the days: the scope spans ~40% of trade_list.
  assert.equal(sampleSource(oneRunCut, cat, 100, 1000), 'trade_sample');
  assert.equal(sampleSource(oneRunCut, cat, 100, 300), 'trade_list', 'a scope a little above the cap lets most keys through');
  assert.equal(sampleSource(resolveScope({ filters: { symbols: [SYMBOL] } }, cat), cat, 100, 1000), 'trades', 'a symbols filter reads the base trades');
  // A sector of 30% of the trades: a sixth of its keys is a twentieth of the rows, in its own head.
  const sector = resolveScope({ filters: { sectors: ['Energy'] } }, cat);
  assert.equal(sampleSource(sector, cat, 100, 300), 'trade_sample_by_sector');
  assert.equal(sampleSource(resolveScope({ runs: [RUN], ...CUT_RANGE, filters: { sectors: ['Energy'] } }, cat), cat, 100, 150), 'trade_sample_by_sector');
  // A sector over a few hours: the range's rows of trade_list are fewer than the sector's head.
  const hours = { from: CUT_RANGE.from, to: CUT_RANGE.from + 3 * 3_600_000 };
  assert.equal(sampleSource(resolveScope({ ...hours, filters: { sectors: ['Energy'] } }, cat), cat, 100, 120), 'trade_list');
  assert.equal(sampleSource(resolveScope({ filters: { sectors: ['Energy'] } }, cat), cat, 100, 100), 'trade_list', 'within the cap');
});

test('a sector scatter above the cap samples the sector heads of trade_sample_by_sector', async () => {
  const { lookups, plan, statement } = await plannedAbove({ filters: { sectors: [SECTOR] } }, 100, 300n, () => [100n, 99n]);
  assert.equal(lookups.length, 2);
  assert.match(lookups[0]!, /FROM trade_day WHERE/, 'the count from trade_day');
  assert.match(lookups[1]!, /FROM trade_sample_by_sector WHERE .*sector IN .* AND sample_key < \$\w+::UBIGINT ORDER BY sample_key LIMIT 100\)$/s);
  assert.equal(plan.source, 'trade_sample_by_sector');
  assert.match(statement.sql, /FROM trade_sample_by_sector WHERE .* AND sample_key <= \$\w+::UBIGINT ORDER BY rk_entry_ts$/s);
  assert.match(plan.notes.join(' '), /the 100 of 300 trades with the smallest sample keys/);
  assertBound(statement);
});

test('the key bound: none when it would let nearly every trade through', () => {
  assert.equal(sampleKeyBound(20_000, 25_000), null);
  assert.equal(sampleKeyBound(20_000, 25_064), null);
  const bound = sampleKeyBound(20_000, 2_268_000)!;
  assert.ok(Math.abs((Number(bound) / 2 ** 64) * 2_268_000 - 25_064) < 1, String(bound));
  assert.throws(() => planScatter({}, catalog(), 0), /positive integer/);
});

test('scatter of filtered trades within the cap: every matching trade in entry order, values bound', async () => {
  const params = { runs: [RUN], ...CUT_RANGE, filters: { sectors: [SECTOR], tags: [TAG], sides: ['long'], pnl: { min: -100 }, hours: [14], weekdays: [1, 5] } };
  const { lookups, plan, statement } = await planned(params, { count: 42n });
  assert.equal(lookups.length, 1);
  assert.match(lookups[0]!, /^SELECT count\(\*\) FROM trade_list WHERE/);
  assert.equal(plan.total, 42);
  assert.deepEqual(plan.notes, []);
  assert.match(statement.sql, /FROM trade_list WHERE .* ORDER BY rk_entry_ts$/s);
  assert.doesNotMatch(statement.sql, /OVER|sample_key/);
  for (const value of [RUN, SECTOR, TAG, 'long', '-100', 14n, 1n, 5n]) assert.ok(Object.values(statement.params).includes(value), `${String(value)} is not bound`);
  assertBound(statement);
  noBars(statement.sql);
});

test('scatter under a symbols filter reads the base trades table, its sample keys computed as the store computes them', async () => {
  const lookups: string[] = [];
  const plan = await planScatter({ filters: { symbols: [SYMBOL] } } as never, catalog(), 10)(async (sql) => {
    lookups.push(sql);
    return [/max\(sample_key\)/.test(sql) ? [10n, 42n] : [50n]];
  });
  const statement = plan.statements[0]!;
  assert.match(lookups[0]!, /FROM \(SELECT t\.run_id.*FROM trades t LEFT JOIN symbols s/s);
  assert.equal(plan.source, 'trades');
  assert.ok(statement.sql.includes(`${tradeSampleKeySql('t.run_id', 't.trade_id')} AS sample_key`), statement.sql);
  assert.match(statement.sql, /AND sample_key <= \$\w+::UBIGINT ORDER BY entry_ts ASC NULLS LAST, run_id ASC, trade_id ASC$/);
  assertBound(statement);
  noBars(statement.sql);
});

test('the scatter request is validated by the protocol and dispatched', async () => {
  const planner = planRequest({ type: 'request', id: 1, query: 'scatter', params: { filters: { hours: [9] } } } as QueryRequest, catalog());
  const plan = await planner(async () => [[3n]]);
  assert.equal(plan.total, 3);
});

test('close hour and weekday filters: the exchange hour and UTC weekday of coalesce(exit_ts, entry_ts), bound', () => {
  const scope = resolveScope({ filters: { hours: [15, 9, 9], weekdays: [7, 1] } }, catalog('America/New_York'));
  assert.deepEqual(scope.trade.hours, [9, 15]);
  assert.deepEqual(scope.trade.weekdays, [1, 7]);
  assert.ok(hasTradeFilters(scope));
  const b = new Binder();
  const sql = closeTimeConditions(b, scope);
  assert.equal(
    sql,
    "(hour(timezone('America/New_York', timezone('UTC', coalesce(exit_ts, entry_ts)))) IN ($p0::BIGINT, $p1::BIGINT)) AND (isodow((coalesce(exit_ts, entry_ts))::DATE) IN ($p2::BIGINT, $p3::BIGINT))",
  );
  assert.deepEqual(Object.values(b.params), [9n, 15n, 1n, 7n]);
  // Part of every trade condition, so every trade measure honours them.
  assert.ok(tradeConditions(new Binder(), scope).includes('isodow('));
  // An empty list selects nothing, as an empty sector list does.
  assert.equal(closeTimeConditions(new Binder(), resolveScope({ filters: { hours: [] } }, catalog())), '(FALSE)');
  assert.equal(closeTimeConditions(new Binder(), resolveScope({}, catalog())), 'TRUE');
});

test('trade measures under an hour filter read the trades, not trade_day (which cannot cut a cut day by hour)', async () => {
  const tradeSql = async (filters?: object) => {
    const lookups: string[] = [];
    const params = { ...CUT_RANGE, ...(filters ? { filters } : {}) };
    await planRequest({ type: 'request', id: 1, query: 'summary', params } as QueryRequest, catalog())(
      async (sql) => {
        lookups.push(sql);
        return [];
      },
      // The daily rows: none.
      async () => new Map<string, Float64Array | Int32Array>([['ri', new Int32Array(0)], ['day', new Float64Array(0)]]),
    );
    return lookups.join('\n');
  };
  const filtered = await tradeSql({ hours: [10] });
  assert.doesNotMatch(filtered, /trade_day/);
  assert.match(filtered, /FROM trade_list WHERE .*hour\(coalesce\(exit_ts, entry_ts\)\) IN \(\$\w+::BIGINT\)/s);
  assert.match(await tradeSql(), /trade_day/);
});

test('hour and weekday filters out of their ranges are refused by the protocol', async () => {
  const { clientMessageValidator } = await import('../../shared/messages.js');
  for (const filters of [{ hours: [24] }, { hours: [-1] }, { hours: [1.5] }, { weekdays: [0] }, { weekdays: [8] }]) {
    const checked = clientMessageValidator.check({ type: 'request', id: 1, query: 'scatter', params: { filters } });
    assert.equal(checked.ok, false, JSON.stringify(filters));
  }
});
