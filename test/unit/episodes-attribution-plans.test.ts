// The episodes and attribution planners at the string level, without a store: which tables answer
// them (never the bar table), every client value bound, and the episode pass over hand-made
// daily P&L whose episodes are worked out by hand below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QueryRequest } from '../../shared/messages.js';
import { planRequest } from '../../server/session/queries/index.js';
import { RECENT_BARS } from '../../server/session/queries/attribution.js';
import { deepestFirst, drawdownEpisodes } from '../../server/session/queries/episodes.js';
import type { Statement } from '../../server/session/queries/plan.js';
import { tradingCalendar, type Catalog } from '../../server/session/store.js';
import { TEST_CUT_RANGE, TEST_DAY1, testCatalog } from '../support/test-catalog.js';

const RUN = "base' OR '1'='1";
const SECTOR = "Tech'; DROP TABLE bars; --";
const SYMBOL = "x' OR 1=1 --";
const INJECTED = ["' OR", 'OR 1=1', 'DROP TABLE', '--'];
const BAR = 5 * 60_000;
const DAY1 = TEST_DAY1;

function catalog(): Catalog {
  return testCatalog({ runs: [RUN, 'alt'], symbols: [[SYMBOL, SECTOR], ['AAPL', 'Energy']], tags: ['q1'], tradeCount: 10 });
}

const CUT_RANGE = TEST_CUT_RANGE;

/** The look-ups a plan ran and its statements; a look-up answers an empty result. */
async function planned(query: 'episodes' | 'attribution', params: object): Promise<{ lookups: Statement[]; statements: Statement[] }> {
  const request = { type: 'request', id: 1, query, params } as QueryRequest;
  const lookups: Statement[] = [];
  const plan = await planRequest(request, catalog())(async (sql, values) => {
    lookups.push({ sql, params: values });
    return [];
  });
  return { lookups, statements: plan.statements };
}

async function statementsOf(query: 'episodes' | 'attribution', params: object): Promise<Statement[]> {
  return (await planned(query, params)).statements;
}

function assertBound(statement: Statement): void {
  const placeholders = new Set([...statement.sql.matchAll(/\$(\w+)/g)].map((m) => m[1]!));
  assert.deepEqual([...placeholders].sort(), Object.keys(statement.params).sort(), `placeholders and parameters differ in\n${statement.sql}`);
  for (const piece of [RUN, SECTOR, SYMBOL, ...INJECTED]) assert.ok(!statement.sql.includes(piece), `${JSON.stringify(piece)} is in the SQL text`);
}

/** Tables named after FROM or JOIN. */
const tablesOf = (sql: string) => new Set([...sql.matchAll(/\b(?:FROM|JOIN)\s+([a-z_]+)/g)].map((m) => m[1]!));

test('episodes read the day rollups and the bar rollups for cut days, never bars', async () => {
  for (const params of [{ limit: 5 }, { limit: 5, runs: [RUN], ...CUT_RANGE }, { limit: 5, ...CUT_RANGE, filters: { sectors: [SECTOR] } }]) {
    const [statement] = (await statementsOf('episodes', params)) as [Statement];
    assertBound(statement);
    assert.equal(typeof statement.compute, 'function');
    const tables = tablesOf(statement.sql);
    assert.ok(tables.has('portfolio_day'), [...tables].join(', '));
    assert.ok(!tables.has('bars'), `episodes read bars:\n${statement.sql}`);
  }
});

test('attribution of a cut range: day rollups, bars_by_time for the cut days and the positions, never bars', async () => {
  for (const params of [{ ...CUT_RANGE }, { ...CUT_RANGE, sector: SECTOR }, { runs: [RUN], ...CUT_RANGE, filters: { sectors: [SECTOR], tags: ['q1'] } }]) {
    const [statement] = (await statementsOf('attribution', params)) as [Statement];
    assertBound(statement);
    const tables = tablesOf(statement.sql);
    assert.ok(!tables.has('bars'), `attribution read bars:\n${statement.sql}`);
    assert.ok(tables.has('bars_by_time') || tables.has('sector_bar'), [...tables].join(', '));
    // The starting positions: the last bar before `from`, exclusive; the marks: the last at or
    // before `to`, through its whole millisecond (before to + 1 ms).
    assert.match(statement.sql, /ts < make_timestamp\(\$\w+::BIGINT\)/);
    assert.ok(Object.values(statement.params).includes(BigInt(CUT_RANGE.from * 1000)));
    assert.ok(Object.values(statement.params).includes(BigInt((CUT_RANGE.to + 1) * 1000)));
  }
});

test('attribution by symbol of one sector binds the sector; an unknown sector is refused', async () => {
  const [statement] = (await statementsOf('attribution', { sector: SECTOR })) as [Statement];
  assert.ok(Object.values(statement.params).includes(SECTOR));
  assert.match(statement.sql, /symbol AS key/);
  await assert.rejects(statementsOf('attribution', { sector: 'Nope' }), /unknown sector "Nope"/);
});

test('attribution: positions are read from the recent window and symbol_day_gaps, never every earlier day', async () => {
  // A catalog of 3 days is all within the window: no lower bound, no gap rows needed.
  const few = await planned('attribution', CUT_RANGE);
  // Its only look-ups are the cut days' (below), none for the day-end rows.
  for (const l of few.lookups) assert.match(l.sql, /FROM bars_by_time[^]*FROM symbol_day_by_day WHERE/);
  const [fewStatement] = few.statements as [Statement];
  assert.doesNotMatch(fewStatement.sql, /symbol_day_gaps/);
  // A longer history: each boundary reads its last POSITION_LOOKBACK_DAYS days of symbol_day and, for
  // symbols without a row there, the gap rows before them whose next row is after them.
  const long = catalog();
  const days = Array.from({ length: 12 }, (_, i) => {
    const midnight = DAY1 + i * 86_400_000;
    return { iso: new Date(midnight).toISOString().slice(0, 10), first: midnight + 14.5 * 3_600_000, last: midnight + 21 * 3_600_000 };
  });
  const wide = { ...long, days, calendar: tradingCalendar(days, BAR) };
  const range = { from: days[9]!.first + 3_600_000, to: days[11]!.first + 3_600_000 };
  const lookups: Statement[] = [];
  const plan = await planRequest({ type: 'request', id: 1, query: 'attribution', params: { ...range, runs: [RUN] } } as QueryRequest, wide)(async (sql, values) => {
    lookups.push({ sql, params: values });
    return [];
  });
  // Both boundaries cut a day an hour in: one look-up each, whether the last bars before them hold every symbol.
  assert.equal(lookups.length, 2, lookups.map((l) => l.sql).join('\n'));
  for (const l of lookups) assert.match(l.sql, /FROM bars_by_time[^]*FROM symbol_day_by_day WHERE/);
  const [statement] = plan.statements as [Statement];
  assertBound(statement);
  const held = statement.sql.slice(statement.sql.indexOf('group_held AS ('), statement.sql.indexOf('group_trades AS ('));
  // Both boundaries: a recent window with a lower bound, and a gap branch bounded by its next row.
  assert.equal([...held.matchAll(/FROM symbol_day_by_day\s+WHERE[^]*?day >= \$\w+::DATE/g)].length, 2, held);
  assert.equal([...held.matchAll(/FROM symbol_day_gaps\s+WHERE[^]*?next_day IS NULL OR next_day >= \$\w+::DATE/g)].length, 2, held);
});

test('attribution inside a cut day: the last RECENT_BARS bars when every symbol has one there, the whole day before the boundary when not', async () => {
  const days = Array.from({ length: 3 }, (_, i) => {
    const midnight = DAY1 + i * 86_400_000;
    return { iso: new Date(midnight).toISOString().slice(0, 10), first: midnight + 14.5 * 3_600_000, last: midnight + 21 * 3_600_000 };
  });
  const wide = { ...catalog(), days, calendar: tradingCalendar(days, BAR) };
  const range = { from: days[1]!.first + 3_600_000, to: days[2]!.first + 2 * 3_600_000 };
  const cutReads = async (everySymbolRecent: boolean) => {
    const lookups: Statement[] = [];
    const plan = await planRequest({ type: 'request', id: 1, query: 'attribution', params: range } as QueryRequest, wide)(async (sql, values) => {
      lookups.push({ sql, params: values });
      return [[everySymbolRecent]];
    });
    const [statement] = plan.statements as [Statement];
    assertBound(statement);
    for (const l of lookups) assertBound(l);
    // The lower bounds of the bars_by_time reads of the positions (the two cut days).
    const held = statement.sql.slice(statement.sql.indexOf('group_held AS ('), statement.sql.indexOf('group_trades AS ('));
    const names = [...held.matchAll(/FROM bars_by_time\s+WHERE \(ts >= make_timestamp\(\$(\w+)::BIGINT\)\)/g)].map((m) => m[1]!);
    return { lookups, lows: names.map((name) => Number(statement.params[name]) / 1000) };
  };
  const recent = await cutReads(true);
  assert.equal(recent.lookups.length, 2);
  assert.deepEqual(recent.lows, [range.from - RECENT_BARS * BAR, range.to - RECENT_BARS * BAR]);
  // The look-up compares the symbols with a bar in those bars with the symbols with a row that day.
  assert.ok(Object.values(recent.lookups[0]!.params).includes(days[1]!.iso));
  assert.ok(Object.values(recent.lookups[0]!.params).includes(BigInt((range.from - RECENT_BARS * BAR) * 1000)));
  const whole = await cutReads(false);
  assert.deepEqual(whole.lows, [days[1]!.first, days[2]!.first]);
  // A boundary within RECENT_BARS bars of its day's first bar reads from that bar, no look-up.
  const early = { from: days[1]!.first + BAR, to: days[2]!.first + 2 * BAR };
  const lookups: Statement[] = [];
  await planRequest({ type: 'request', id: 1, query: 'attribution', params: early } as QueryRequest, wide)(async (sql, values) => {
    lookups.push({ sql, params: values });
    return [[true]];
  });
  assert.equal(lookups.length, 0);
});

test('attribution over everything has no starting positions (nothing is held before the first bar)', async () => {
  const [statement] = (await statementsOf('attribution', {})) as [Statement];
  assert.match(statement.sql, /group_held AS \(SELECT NULL::VARCHAR AS run_id/);
});

test('drawdown episodes of a compounding wealth index, worked by hand', () => {
  // Capital 100: wealth 1.1, 0.99, 1.089, 1.2, 1.08, 1.08 -> episodes: peak day 0 (1.1), trough day 1,
  // recovery day 3 (1.2 >= 1.1); then peak day 3, trough day 4, open at the end.
  const wealth = [1.1, 0.99, 1.089, 1.2, 1.08, 1.08];
  const pnl = wealth.map((w, i) => (w / (i === 0 ? 1 : wealth[i - 1]!) - 1) * 100);
  const episodes = drawdownEpisodes(pnl, 100);
  assert.equal(episodes.length, 2);
  const [first, second] = episodes as [(typeof episodes)[0], (typeof episodes)[0]];
  assert.deepEqual([first.peak, first.trough, first.recovery], [0, 1, 3]);
  assert.ok(Math.abs(first.depth - (0.99 / 1.1 - 1)) < 1e-12);
  assert.ok(Math.abs(first.depthPnl - pnl[1]!) < 1e-12);
  assert.deepEqual([second.peak, second.trough, second.recovery], [3, 4, null]);
  assert.ok(Math.abs(second.depth - (1.08 / 1.2 - 1)) < 1e-12);
  assert.deepEqual(deepestFirst(episodes, true).map((e) => e.peak), [0, 3]);
});

test('drawdown episodes from the start, and in dollars without a capital base', () => {
  // Cumulative P&L -5, -8, 2, 2, -1: from the start (peak -1) to day 1, recovered day 2; then
  // the level 2 at days 2 and 3: the peak is the last of them, day 3; trough day 4, open.
  const episodes = drawdownEpisodes([-5, -3, 10, 0, -3], null);
  assert.deepEqual(
    episodes.map((e) => [e.peak, e.trough, e.recovery, e.depthPnl]),
    [
      [-1, 1, 2, -8],
      [3, 4, null, -3],
    ],
  );
  assert.ok(episodes.every((e) => Number.isNaN(e.depth)));
  assert.deepEqual(deepestFirst(episodes, false).map((e) => e.depthPnl), [-8, -3]);
  assert.deepEqual(drawdownEpisodes([], null), []);
  assert.deepEqual(drawdownEpisodes([1, 2, 0], 100), []);
});
