// The SQL FIFO matcher (server/prepare/formats/round-trips.ts) against the plain one-fill-at-a-time
// matcher of test/support/round-trips-reference.ts, in an in-memory DuckDB: the cases its rules
// name (partial closes, reversals, fees shared per unit, lots left open, ties in time, fractional
// quantities whose float sum should be flat) and a seeded random stream of fills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundTripsSql } from '../../server/prepare/formats/round-trips.js';
import { mem } from '../support/duckdb.js';
import { mulberry32 } from '../support/random.js';
import { fifoRoundTrips, roundTripOfRow, type Fill, type RoundTrip } from '../support/round-trips-reference.js';

const T0 = Date.UTC(2024, 0, 2, 14, 30);
const MIN = 60_000;

async function matched(fills: readonly Fill[]): Promise<RoundTrip[]> {
  return mem(async (q) => {
    const values = fills
      .map((f) => `('${f.run}', '${f.symbol}', make_timestamp(${f.ts * 1000}), ${f.seq}, ${f.amount}::DOUBLE, ${f.price}::DOUBLE, ${f.fees}::DOUBLE)`)
      .join(', ');
    await q(`CREATE TABLE fills AS SELECT * FROM (VALUES ${values}) v(run_id, symbol, ts, seq, amount, price, fees)`);
    const rows = await q(`SELECT run_id, symbol, side, epoch_ms(entry_ts) AS entry, epoch_ms(exit_ts) AS exit, qty, entry_price, exit_price, fees, pnl
      FROM (${roundTripsSql('fills')})`);
    return rows.map((r) => roundTripOfRow(r, { entry: 'entry', exit: 'exit' }));
  });
}

const order = (a: RoundTrip, b: RoundTrip) =>
  a.run.localeCompare(b.run) || a.symbol.localeCompare(b.symbol) || (a.exitTs ?? Infinity) - (b.exitTs ?? Infinity) || a.entryTs - b.entryTs || (a.exitPrice ?? 0) - (b.exitPrice ?? 0) || a.qty - b.qty || a.fees - b.fees;

function assertSame(got: RoundTrip[], want: RoundTrip[]): void {
  assert.equal(got.length, want.length, `round trip count: got ${got.length}, want ${want.length}`);
  got.sort(order);
  want.sort(order);
  const near = (a: number | null, b: number | null, what: string, i: number) => {
    if (a === null || b === null) return assert.equal(a, b, `${what} of round trip ${i}`);
    assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what} of round trip ${i}: got ${a}, want ${b}`);
  };
  got.forEach((g, i) => {
    const w = want[i]!;
    assert.deepEqual([g.run, g.symbol, g.side, g.entryTs, g.exitTs], [w.run, w.symbol, w.side, w.entryTs, w.exitTs], `round trip ${i}`);
    near(g.qty, w.qty, 'qty', i);
    near(g.entryPrice, w.entryPrice, 'entry price', i);
    near(g.exitPrice, w.exitPrice, 'exit price', i);
    near(g.fees, w.fees, 'fees', i);
    near(g.pnl, w.pnl, 'pnl', i);
  });
}

function fill(minute: number, amount: number, price: number, extra: Partial<Fill> = {}): Fill {
  return { run: 'r', symbol: 'AAA', ts: T0 + minute * MIN, seq: minute, amount, price, fees: 0, ...extra };
}

test('a partial close takes the oldest lot first and splits it', async () => {
  const fills = [fill(0, 10, 100), fill(1, 10, 110), fill(2, -15, 120)];
  const got = await matched(fills);
  assertSame(got, fifoRoundTrips(fills));
  const closed = got.find((r) => r.exitTs !== null)!;
  assert.equal(closed.qty, 15);
  assert.equal(closed.entryTs, T0, 'entry is the oldest lot closed');
  assert.ok(Math.abs(closed.entryPrice - (10 * 100 + 5 * 110) / 15) < 1e-9, 'entry price is the lots’ weighted mean');
  const open = got.filter((r) => r.exitTs === null);
  assert.deepEqual(open.map((r) => [r.qty, r.entryPrice, r.pnl]), [[5, 110, null]], 'what is left of the second lot stays open');
});

test('a reversal closes the whole position and opens the remainder the other way', async () => {
  const fills = [fill(0, 10, 100), fill(1, -25, 90), fill(2, 15, 80)];
  const got = await matched(fills);
  assertSame(got, fifoRoundTrips(fills));
  assert.deepEqual(
    got.sort(order).map((r) => [r.side, r.qty, r.pnl]),
    [
      ['long', 10, -100],
      ['short', 15, 150],
    ],
  );
});

test('fees are shared per unit between the close and the lot a reversing fill opens', async () => {
  const fills = [fill(0, 10, 100, { fees: 2 }), fill(1, -20, 105, { fees: 4 }), fill(2, 10, 100, { fees: 1 })];
  const got = await matched(fills);
  assertSame(got, fifoRoundTrips(fills));
  const [long, short] = got.sort(order);
  assert.ok(Math.abs(long!.fees - (2 + 2)) < 1e-9, 'the opening fee and half of the reversing fill’s');
  assert.ok(Math.abs(short!.fees - (2 + 1)) < 1e-9, 'the other half and the closing fill’s');
  assert.ok(Math.abs(long!.pnl! - (50 - 4)) < 1e-9);
});

test('shorts first, ties in time kept in the order written, symbols and runs apart', async () => {
  const fills = [
    fill(0, -5, 50),
    { ...fill(0, -5, 52), seq: 1 },
    { ...fill(0, 10, 48), seq: 2 },
    fill(3, 7, 20, { symbol: 'BBB' }),
    fill(4, -7, 21, { symbol: 'BBB', run: 'other' }),
    fill(5, -7, 22, { symbol: 'BBB' }),
  ];
  assertSame(await matched(fills), fifoRoundTrips(fills));
});

test('fractional quantities whose float sum is flat leave nothing open', async () => {
  const fills = [fill(0, 0.1, 30000), fill(1, 0.2, 31000), fill(2, -0.3, 32000)];
  const got = await matched(fills);
  assertSame(got, fifoRoundTrips(fills));
  assert.equal(got.filter((r) => r.exitTs === null).length, 0);
});

test('a seeded stream of fills over symbols and runs matches the plain matcher', async () => {
  const rand = mulberry32(42);
  const fills: Fill[] = [];
  for (let i = 0; i < 3000; i++) {
    const amount = Math.round((rand() - 0.5) * 40);
    fills.push({
      run: rand() < 0.5 ? 'a' : 'b',
      symbol: ['X', 'Y', 'Z'][Math.floor(rand() * 3)]!,
      ts: T0 + Math.floor(i / 3) * MIN,
      seq: i,
      amount: amount === 0 ? 1 : amount,
      price: Math.round((50 + rand() * 10) * 100) / 100,
      fees: Math.round(rand() * 100) / 100,
    });
  }
  const got = await matched(fills);
  const want = fifoRoundTrips(fills);
  assert.ok(want.some((r) => r.side === 'short') && want.some((r) => r.exitTs === null), 'the stream has shorts and open lots');
  assertSame(got, want);
});
