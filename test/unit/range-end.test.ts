// A range's end `to` (epoch ms, inclusive) holds through its whole millisecond, for trades and
// bars alike: a close at 23:59:59.999500 (Nautilus writes nanoseconds) is in the range that ends at
// 23:59:59.999, as it is in its day, and never falls between two adjacent ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rangeEndCondition, timeCondition } from '../../server/session/queries/scope.js';
import { Binder } from '../../server/session/queries/sql.js';
import { DAY_US, msRangeOfCut, planTradeRange } from '../../server/session/queries/trade-source.js';

const DAY_MS = 86_400_000;
const D = Date.UTC(2024, 0, 2);
const day = D / DAY_MS;

test('a range of whole UTC days ending at .999 is whole days for the trades: no cut window', () => {
  assert.deepEqual(planTradeRange(D, D + DAY_MS - 1), { full: { lo: day, hi: day }, cuts: [] });
  assert.deepEqual(planTradeRange(D, D + 3 * DAY_MS - 1), { full: { lo: day, hi: day + 2 }, cuts: [] });
});

test("a range that ends inside a day cuts it through the end of its last millisecond", () => {
  const to = D + DAY_MS - 2;
  assert.deepEqual(planTradeRange(D, to), { full: null, cuts: [{ from: D * 1000, to: to * 1000 + 999 }] });
  // Two adjacent ranges, [D, t] and [t + 1, ...], share no microsecond and miss none.
  const first = planTradeRange(D, D + 1000);
  const second = planTradeRange(D + 1001, D + 2000);
  assert.equal(second.cuts[0]!.from, first.cuts[0]!.to + 1);
  // A cut that starts mid-day and ends at a day boundary.
  const late = planTradeRange(D - 5, D + DAY_MS - 1);
  assert.deepEqual(late, { full: { lo: day, hi: day }, cuts: [{ from: (D - 5) * 1000, to: day * DAY_US - 1 }] });
});

test('msRangeOfCut maps a cut window back to the range planTradeRange makes it from', () => {
  for (const [from, to] of [[D, D + 1234], [D - 5, D + DAY_MS - 1], [D + 17, D + 3 * DAY_MS + 250]] as const) {
    for (const cut of planTradeRange(from, to).cuts) {
      const ms = msRangeOfCut(cut);
      assert.deepEqual(planTradeRange(ms.from, ms.to).cuts, [cut], `cut ${JSON.stringify(cut)}`);
    }
  }
});

test('the SQL end of a range is before the next millisecond', () => {
  const b = new Binder();
  const sql = timeCondition(b, 'close_ts', { from: D, to: D + 5 });
  assert.match(sql, /close_ts >= make_timestamp\(\$\w+::BIGINT\)/);
  assert.match(sql, /close_ts < make_timestamp\(\$\w+::BIGINT\)/);
  assert.deepEqual(Object.values(b.params), [BigInt(D * 1000), BigInt((D + 6) * 1000)]);
  const end = new Binder();
  assert.match(rangeEndCondition(end, 'ts', D), /^ts < /);
  assert.deepEqual(Object.values(end.params), [BigInt((D + 1) * 1000)]);
});
