// The dataset description's schema: every key it knows, each refused by name when wrong; and its
// canonical text (the store fingerprint's part), independent of key order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalDescription, checkDescription } from '../../server/prepare/description.js';

const WHERE = 'dataset description /data/tickscope.json';

test('a description with every key is accepted as is', () => {
  const full = {
    bars: { ts: 'Date', symbol: 'Ticker' },
    trades: { entry_ts: 'Opened' },
    symbols: { sector: 'GICS Sector' },
    runs: { run_id: 'Backtest' },
    timezone: 'America/New_York',
    capital: { momentum: 1_000_000, value: 250_000 },
    onBadRows: 'drop',
    riskFreeRate: 0.02,
    benchmark: 'SPY',
  };
  assert.deepEqual(checkDescription(full, WHERE), full);
  assert.deepEqual(checkDescription({ capital: 100_000 }, WHERE), { capital: 100_000 });
  assert.deepEqual(checkDescription({}, WHERE), {});
});

test('each wrong key is named, with the file', () => {
  const cases: [unknown, RegExp][] = [
    [[], /expected a JSON object/],
    [{ colour: 'red' }, /unknown key 'colour' \(expected bars, trades, symbols, runs, timezone, capital, onBadRows, riskFreeRate, benchmark, dateOrder, symbol\)/],
    [{ bars: { when: 'Date' } }, /'bars\.when' is not a column of bars \(known: run_id, ts, symbol/],
    [{ bars: { ts: '' } }, /'bars\.ts' must be a column name/],
    [{ bars: 'Date' }, /'bars' must be an object of canonical column -> input column/],
    [{ capital: -5 }, /'capital' must be a positive number, or an object of run id -> positive number/],
    [{ capital: { a: 'lots' } }, /'capital' must be/],
    [{ onBadRows: 'skip' }, /'onBadRows' must be "fail" or "drop"/],
    [{ riskFreeRate: 2 }, /'riskFreeRate' must be an annual rate as a fraction/],
    [{ timezone: 5 }, /'timezone' must be a time zone name/],
    [{ benchmark: '' }, /'benchmark' must be a symbol of the dataset or a file path/],
    [{ dateOrder: 'ymd' }, /'dateOrder' must be "mdy" \(month\/day\/year\) or "dmy" \(day\/month\/year\)/],
    [{ symbol: '' }, /'symbol' must be a symbol name/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(
      () => checkDescription(raw, WHERE),
      (e: Error) => {
        assert.equal(e.name, 'PrepareError');
        assert.match(e.message, re);
        assert.ok(e.message.startsWith(WHERE), e.message);
        return true;
      },
    );
  }
  // Two wrong keys: both named in one error.
  assert.throws(() => checkDescription({ colour: 'red', onBadRows: 'skip' }, WHERE), /unknown key 'colour'.*'onBadRows' must be/);
});

test('the canonical text ignores key order at every level', () => {
  const a = canonicalDescription({ timezone: 'UTC', bars: { ts: 'a', symbol: 'b' }, capital: { x: 1, y: 2 } });
  const b = canonicalDescription({ capital: { y: 2, x: 1 }, bars: { symbol: 'b', ts: 'a' }, timezone: 'UTC' });
  assert.equal(a, b);
  assert.notEqual(a, canonicalDescription({ timezone: 'UTC', bars: { ts: 'a', symbol: 'c' }, capital: { x: 1, y: 2 } }));
});
