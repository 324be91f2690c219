// A range ends through its whole millisecond (scope.ts, rangeEndCondition). A backtester that
// writes nanoseconds (Nautilus) closes trades inside the last millisecond of a UTC day: each such
// trade must be in the range that ends at 23:59:59.999 (a day, a month of the heatmap), in that
// range only, and counted the same whichever table answers (trade_day for whole days, trade_list
// by close time for cut days or a symbol filter). Prepared by the real pipeline, through the
// session's own path, against the independent reference.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nearRows, scopeParams } from '../support/checks.js';
import { mem } from '../support/duckdb.js';
import { LocalSession } from '../support/local-session.js';
import { loadRaw, summaryRef, type RawData, type RefScope } from '../support/reference.js';

const DAY_MS = 86_400_000;
/** Three UTC days of hourly bars, from midnight. */
const DAY0 = Date.UTC(2024, 3, 1);
const HOUR = 3_600_000;

let dir = '';
let session: LocalSession;
let raw: RawData;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-range-end-'));
  await mkdir(path.join(dir, 'bars'), { recursive: true });
  await mkdir(path.join(dir, 'trades'));
  await mem(async (q) => {
    await q(`COPY (SELECT 'AAA' AS symbol, 'Tech' AS sector UNION ALL SELECT 'BBB', 'Energy') TO '${dir}/symbols.parquet' (FORMAT parquet)`);
    await q(`COPY (SELECT 'base' AS run_id, make_timestamp((${DAY0} + h * ${HOUR})::BIGINT * 1000) AS ts, s AS symbol, 100.0 + h AS price,
        10.0 AS position_qty, 10.0 * (100 + h) AS position_value, 0.0 AS trade_qty, 0.0 AS fees, (h % 5 - 2) * 1.0 AS pnl
      FROM range(72) t(h), (VALUES ('AAA'), ('BBB')) v(s)) TO '${dir}/bars/bars.parquet' (FORMAT parquet)`);
    // Closes in microseconds: 23:59:59.999500 and .999999 on day 0, exactly .999000, and the next
    // day's first microsecond; plus ordinary ones.
    const closes = [
      ['AAA', `${(DAY0 + DAY_MS - 1) * 1000 + 500}`, 5],
      ['BBB', `${(DAY0 + DAY_MS - 1) * 1000 + 999}`, -3],
      ['AAA', `${(DAY0 + DAY_MS - 1) * 1000}`, 7],
      ['BBB', `${(DAY0 + DAY_MS) * 1000}`, 11],
      ['AAA', `${(DAY0 + 10 * HOUR) * 1000}`, 2],
      ['BBB', `${(DAY0 + DAY_MS + 5 * HOUR) * 1000 + 250}`, -1],
      ['AAA', `${(DAY0 + 2 * DAY_MS) * 1000 + 1}`, 4],
    ];
    await q(`COPY (SELECT 'base' AS run_id, row_number() OVER () AS trade_id, symbol, 'long' AS side,
        make_timestamp(exit_us - ${HOUR * 1000}) AS entry_ts, make_timestamp(exit_us) AS exit_ts,
        1.0 AS qty, 100.0 AS entry_price, 100.0 + pnl AS exit_price, 0.0 AS fees, pnl::DOUBLE AS pnl,
        pnl / 100.0 AS ret, 1 AS bars_held, -0.01 AS mae, 0.02 AS mfe, 'x' AS tag
      FROM (VALUES ${closes.map(([s, us, p]) => `('${s}', ${us}::BIGINT, ${p})`).join(', ')}) v(symbol, exit_us, pnl))
      TO '${dir}/trades/trades.parquet' (FORMAT parquet)`);
  });
  session = await LocalSession.open(dir);
  raw = await loadRaw(dir);
});

after(async () => {
  session?.close();
  await rm(dir, { recursive: true, force: true });
});

const tradeCount = async (scope: RefScope): Promise<number> => {
  const rows = (await session.ask({ query: 'summary', params: scopeParams(scope) })).rows;
  return rows.reduce((sum, row) => sum + Number(row.trade_count), 0);
};

test('a day ending at .999 holds the trades closing in its last millisecond, and the next day does not', async () => {
  const day0 = { from: DAY0, to: DAY0 + DAY_MS - 1 };
  const day1 = { from: DAY0 + DAY_MS, to: DAY0 + 2 * DAY_MS - 1 };
  const day2 = { from: DAY0 + 2 * DAY_MS, to: DAY0 + 3 * DAY_MS - 1 };
  assert.equal(await tradeCount(day0), 4, 'the three closes in 23:59:59.999 and the one at 10:00');
  assert.equal(await tradeCount(day1), 2);
  assert.equal(await tradeCount(day2), 1, 'the close 1 µs after day 2 begins');
  assert.equal((await tradeCount(day0)) + (await tradeCount(day1)) + (await tradeCount(day2)), await tradeCount({}), 'adjacent days share no trade and miss none');
  // The same counts from trade_list by close time (a symbol filter), and over ranges that cut days.
  for (const symbols of [['AAA'], ['BBB']]) {
    const whole = await tradeCount({ symbols });
    const split = (await tradeCount({ ...day0, symbols })) + (await tradeCount({ ...day1, symbols })) + (await tradeCount({ ...day2, symbols }));
    assert.equal(split, whole, `${symbols[0]}: by day through trade_list`);
  }
  const cut = { from: DAY0 + 12 * HOUR, to: DAY0 + DAY_MS - 1 };
  assert.equal(await tradeCount(cut), 3, 'a range that starts mid-day and ends at .999');
  for (const scope of [{}, day0, day1, cut, { from: DAY0 + 12 * HOUR, to: DAY0 + DAY_MS + 6 * HOUR }, { ...day0, symbols: ['AAA'] }]) {
    const answer = await session.ask({ query: 'summary', params: scopeParams(scope) });
    nearRows(answer.rows, summaryRef(raw, scope, () => null), `summary ${JSON.stringify(scope)}`, 1e-8);
  }
});

test('the trade list of a day ending at .999 has its last-millisecond trades', async () => {
  const answer = await session.ask({ query: 'trades', params: { from: DAY0, to: DAY0 + DAY_MS - 1, sort: { column: 'trade_id' }, limit: 100 } });
  assert.deepEqual(answer.rows.map((r) => Number(r.trade_id)), [1, 2, 3, 5]);
});
