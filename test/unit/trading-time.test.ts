// Trading time (shared/trading-time.ts): the time axis without the closed hours, which both the
// session (M4's pixel columns) and the UI (drawing, labels, brushing) use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TradingTime } from '../../shared/trading-time.js';
import { tradingCalendar } from '../../server/session/store.js';
import { mulberry32 } from '../support/random.js';

const MIN = 60_000;
const DAY = 86_400_000;
const BAR = 5 * MIN;
/** Three trading days, 14:35-21:00 UTC, Tuesday to Thursday, then Monday after a weekend. */
const OPEN = Date.UTC(2024, 0, 2, 14, 35);
const CLOSE = Date.UTC(2024, 0, 2, 21, 0);
const DAYS = [0, 1, 2, 6].map((d) => ({ iso: '', first: OPEN + d * DAY, last: CLOSE + d * DAY }));
const time = new TradingTime({ barMs: BAR, days: DAYS.flatMap((d) => [d.first, d.last]) });
const SESSION = CLOSE - OPEN;

test('within a day trading time runs as calendar time; closed hours count as one bar', () => {
  assert.equal(time.toTrading(OPEN), 0);
  assert.equal(time.toTrading(OPEN + 30 * MIN), 30 * MIN);
  assert.equal(time.toTrading(CLOSE), SESSION);
  // The next day's first bar is one bar after the previous day's last.
  assert.equal(time.toTrading(OPEN + DAY), SESSION + BAR);
  // The weekend too.
  assert.equal(time.toTrading(DAYS[3]!.first), 3 * (SESSION + BAR));
  // Halfway through the night: half a bar.
  const night = (CLOSE + OPEN + DAY) / 2;
  assert.equal(time.toTrading(night), SESSION + BAR / 2);
  // Before the first and after the last bar: calendar time.
  assert.equal(time.toTrading(OPEN - 7 * MIN), -7 * MIN);
  assert.equal(time.toTrading(DAYS[3]!.last + DAY), 3 * (SESSION + BAR) + SESSION + DAY);
});

test('fromTrading inverts toTrading, and both increase strictly', () => {
  const rng = mulberry32(5);
  const ts = Array.from({ length: 2000 }, () => OPEN - DAY + rng() * 10 * DAY).sort((a, b) => a - b);
  let previous = -Infinity;
  for (const t of ts) {
    const x = time.toTrading(t);
    assert.ok(x > previous, `increasing at ${new Date(t).toISOString()}`);
    previous = x;
    assert.ok(Math.abs(time.fromTrading(x) - t) < 1e-3, `round trip at ${new Date(t).toISOString()}`);
  }
});

test('toTradingAll equals toTrading, for ascending times and for rows sorted by run and time', () => {
  const rng = mulberry32(9);
  const run = Array.from({ length: 500 }, () => OPEN - DAY + rng() * 10 * DAY).sort((a, b) => a - b);
  const twoRuns = Float64Array.from([...run, ...run.slice(100)]);
  const all = time.toTradingAll(twoRuns);
  twoRuns.forEach((t, i) => assert.equal(all[i], time.toTrading(t), `row ${i}`));
  // In seconds, as the UI holds its x values.
  const seconds = time.toTradingAll(Float64Array.from(run, (t) => t / 1000), 1000);
  run.forEach((t, i) => assert.ok(Math.abs(seconds[i]! - time.toTrading(t) / 1000) < 1e-9, `row ${i} in seconds`));
  assert.ok(Number.isNaN(time.toTradingAll(Float64Array.of(Number.NaN))[0]));
});

test('with no trading days, trading time is calendar time', () => {
  const none = new TradingTime({ barMs: BAR, days: [] });
  assert.equal(none.toTrading(OPEN), OPEN);
  assert.equal(none.fromTrading(OPEN), OPEN);
  assert.deepEqual([...none.toTradingAll(Float64Array.of(1, 2))], [1, 2]);
});

test('a calendar whose days overlap or whose bar interval is not positive is refused, naming the day', () => {
  assert.throws(() => new TradingTime({ barMs: 0, days: [] }), /bar interval must be positive/);
  assert.throws(() => new TradingTime({ barMs: BAR, days: [OPEN, CLOSE, CLOSE, CLOSE + DAY] }), /day 1 .* not after day 0/);
  assert.throws(() => new TradingTime({ barMs: BAR, days: [CLOSE, OPEN] }), /day 0 .* is empty/);
});

test('the bar interval: intraday spacing, else the shortest gap between days, else a minute', () => {
  assert.equal(tradingCalendar(DAYS, BAR).barMs, BAR);
  const daily = [0, 1, 2, 5].map((d) => ({ iso: '', first: OPEN + d * DAY, last: OPEN + d * DAY }));
  assert.equal(tradingCalendar(daily, null).barMs, DAY);
  assert.equal(tradingCalendar(daily.slice(0, 1), null).barMs, MIN);
  assert.deepEqual(tradingCalendar(DAYS, BAR).days.slice(0, 2), [OPEN, CLOSE]);
});
