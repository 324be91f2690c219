// Trade windows and the scatter of a dataset in segments (runs added to it: server/store/segments.ts),
// whose trade_list ranks compare only within a segment (Catalog.tradeRanks false): the plans
// sort the matching trades by the columns themselves and never read a rank column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planScatter } from '../../server/session/queries/scatter.js';
import { planTrades } from '../../server/session/queries/trades.js';
import { testCatalog } from '../support/test-catalog.js';

const catalog = testCatalog({ runs: ['a', 'b'], symbols: [['AAPL', 'Tech'], ['XOM', 'Energy']], tradeCount: 1000, tradeRanks: false });

async function planned(planner: ReturnType<typeof planTrades>, count: bigint) {
  const lookups: string[] = [];
  const plan = await planner(async (sql) => {
    lookups.push(sql);
    // A scatter's key look-up: all of its cap (100) keys found, the largest 5.
    return /max\(sample_key\)/.test(sql) ? [[100n, 5n]] : [[count]];
  });
  return { lookups, plan, sql: plan.statements.map((s) => s.sql).join('\n') };
}

test('a window of every trade, sorted descending by P&L at an offset: counted, then sorted with LIMIT and OFFSET, no rank', async () => {
  const { lookups, plan, sql } = await planned(planTrades({ sort: { column: 'pnl', descending: true }, offset: 500, limit: 25 }, catalog), 1000n);
  assert.equal(lookups.length, 1);
  assert.match(lookups[0]!, /^SELECT count\(\*\) FROM trade_list WHERE/);
  assert.equal(plan.total, 1000);
  assert.match(sql, /FROM trade_list WHERE .*ORDER BY pnl DESC NULLS FIRST, run_id DESC, trade_id DESC\s+LIMIT \$\w+::BIGINT OFFSET \$\w+::BIGINT/s);
  assert.deepEqual(Object.values(plan.statements[0]!.params).slice(-2), [25n, 500n]);
  assert.doesNotMatch(`${lookups.join('\n')}\n${sql}`, /rk_|trade_list_by_/);
});

test('a filtered window sorts the matching trades the same way', async () => {
  const { sql } = await planned(planTrades({ runs: ['a'], filters: { sectors: ['Tech'] }, sort: { column: 'symbol' }, offset: 0, limit: 10 }, catalog), 7n);
  assert.match(sql, /ORDER BY symbol ASC NULLS LAST, run_id ASC, trade_id ASC/);
  assert.doesNotMatch(sql, /rk_/);
});

test('a scatter sample takes the smallest sample keys and sorts by entry order, not by rank', async () => {
  const every = await planned(planScatter({}, catalog, 100), 1000n);
  // The union of the segments' trade_sample holds the dataset's smallest keys.
  assert.match(every.lookups[0]!, /FROM trade_sample WHERE TRUE AND sample_key < \$\w+::UBIGINT ORDER BY sample_key LIMIT 100\)$/);
  assert.match(every.sql, /FROM trade_sample WHERE TRUE AND sample_key <= \$\w+::UBIGINT ORDER BY entry_ts ASC NULLS LAST, run_id ASC, trade_id ASC$/);
  assert.doesNotMatch(every.sql, /rk_/);
  assert.equal(every.plan.total, 1000);
  const few = await planned(planScatter({ runs: ['b'] }, catalog, 100), 12n);
  assert.match(few.sql, /FROM trade_list WHERE .* ORDER BY entry_ts ASC NULLS LAST, run_id ASC, trade_id ASC$/s);
  assert.doesNotMatch(few.sql, /rk_/);
});
