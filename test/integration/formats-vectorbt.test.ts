// vectorbt records as users save them (fixtures/formats/vectorbt.ts), recognised and staged by
// the pipeline without a mapping (test/support/staged-formats.ts), against an independent reading
// of the raw files: the trade records' count and P&L (total and per symbol), a sweep's runs, and
// the FIFO round trips of the order records against test/support/round-trips-reference.ts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ensureVectorbtFixtures, type VectorbtFixture } from '../../fixtures/formats/vectorbt.js';
import { mem } from '../support/duckdb.js';
import { fifoRoundTrips, roundTripOfRow, type RoundTrip } from '../support/round-trips-reference.js';
import { stageDataset } from '../support/staged-formats.js';
import { near } from '../support/checks.js';

let fx: VectorbtFixture;

before(async () => {
  fx = await ensureVectorbtFixtures();
});

/** The trades the dataset's formats stage, after asserting vectorbt recognised every file. */
async function stagedTrades(dir: string): Promise<Record<string, unknown>[]> {
  const staged = await stageDataset(dir);
  assert.equal(staged.rest.length, 0, 'every file recognised');
  assert.match(staged.formats.join('\n'), /^vectorbt records/);
  return staged.trades;
}

function sumBy<T>(rows: readonly T[], key: (r: T) => string, value: (r: T) => number): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) out.set(key(r), (out.get(key(r)) ?? 0) + value(r));
  return out;
}

/** Within a relative 1e-6 unless told (the tools' own numbers went through text). */
const assertNear = (got: number, want: number, what: string, tolerance = 1e-6): void => near(got, want, what, tolerance);

test('trade records: every record staged, P&L as vectorbt computed it, open trades without an exit', async () => {
  // The raw file as pandas wrote it: the RangeIndex first, under an empty header.
  const raw = await mem((q) =>
    q(`SELECT "Column" AS symbol, "PnL"::DOUBLE AS pnl, "Status" AS status, "Direction" AS direction, "Size"::DOUBLE AS size,
         "Entry Fees"::DOUBLE + "Exit Fees"::DOUBLE AS fees, epoch_ms("Entry Timestamp"::TIMESTAMPTZ)::DOUBLE AS entry_ms
       FROM read_csv('${path.join(fx.tradesDir, 'trades.csv')}', all_varchar = true)`),
  );
  const staged = await stagedTrades(fx.tradesDir);
  assert.equal(staged.length, raw.length, 'trade count');
  assertNear(
    staged.reduce((n, r) => n + Number(r.pnl), 0),
    raw.reduce((n, r) => n + Number(r.pnl), 0),
    'total P&L',
  );
  const want = sumBy(raw, (r) => String(r.symbol), (r) => Number(r.pnl));
  const got = sumBy(staged, (r) => String(r.symbol), (r) => Number(r.pnl));
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'symbols');
  for (const [sym, pnl] of want) assertNear(got.get(sym)!, pnl, `P&L of ${sym}`);
  const fees = sumBy(staged, (r) => String(r.symbol), (r) => Number(r.fees));
  for (const [sym, f] of sumBy(raw, (r) => String(r.symbol), (r) => Number(r.fees))) assertNear(fees.get(sym)!, f, `fees of ${sym}`);
  const openCount = raw.filter((r) => r.status === 'Open').length;
  assert.ok(openCount > 0, 'the fixture has open trades');
  assert.equal(staged.filter((r) => r.exit_ts === null).length, openCount, 'open trades have no exit');
  assert.ok(staged.filter((r) => r.exit_ts === null).every((r) => r.exit_price === null && r.tag === 'open'));
  const sides = sumBy(staged, (r) => String(r.side), () => 1);
  const rawSides = sumBy(raw, (r) => String(r.direction).toLowerCase(), () => 1);
  assert.deepEqual(Object.fromEntries(sides), Object.fromEntries(rawSides), 'Long/Short read as long/short');
  // Entry times are the UTC instants of the zoned index.
  const entries = staged.map((r) => Number(r.entry_ts)).sort((a, b) => a - b);
  assert.deepEqual(entries, raw.map((r) => Number(r.entry_ms)).sort((a, b) => a - b));
});

test('order records: FIFO round trips equal to a plain matcher over the raw orders', async () => {
  const orders = await mem((q) =>
    q(`SELECT "Order Id"::BIGINT AS id, "Column" AS symbol, epoch_ms("Timestamp")::DOUBLE AS ms, "Size" AS size, "Price" AS price, "Fees" AS fees, "Side" AS side
       FROM read_parquet('${path.join(fx.ordersDir, 'orders.parquet')}')`),
  );
  const want = fifoRoundTrips(
    orders.map((o) => ({
      run: 'default',
      symbol: String(o.symbol),
      ts: Number(o.ms),
      seq: Number(o.id),
      amount: (o.side === 'Buy' ? 1 : -1) * Number(o.size),
      price: Number(o.price),
      fees: Number(o.fees),
    })),
  );
  assert.ok(want.some((t) => t.exitTs === null) && want.some((t) => t.side === 'short'), 'the fixture has open and short round trips');
  const staged = await stagedTrades(fx.ordersDir);
  const key = (t: { symbol: string; side: string; entryTs: number; exitTs: number | null }) => `${t.symbol}|${t.side}|${t.entryTs}|${t.exitTs ?? ''}`;
  const got: RoundTrip[] = staged.map((r) => roundTripOfRow(r));
  const byKey = (ts: RoundTrip[]) => [...ts].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.qty - b.qty));
  const g = byKey(got);
  const w = byKey(want);
  assert.equal(g.length, w.length, 'round trip count');
  g.forEach((t, i) => {
    const r = w[i]!;
    assert.equal(key(t), key(r), `round trip ${i}`);
    assertNear(t.qty, r.qty, `qty of ${key(r)}`);
    assertNear(t.entryPrice, r.entryPrice, `entry price of ${key(r)}`);
    assertNear(t.fees, r.fees, `fees of ${key(r)}`);
    if (r.pnl === null) assert.equal(t.pnl, null, `open ${key(r)} has no P&L`);
    else assertNear(t.pnl!, r.pnl, `P&L of ${key(r)}`);
  });
  const closed = (ts: RoundTrip[]) => sumBy(ts.filter((t) => t.pnl !== null), (t) => t.symbol, (t) => t.pnl!);
  for (const [sym, pnl] of closed(want)) assertNear(closed(got).get(sym)!, pnl, `realised P&L of ${sym}`);
});

test("a parameter sweep's tuple Column: one run per parameter set, the symbol its last element", async () => {
  const raw = await mem((q) =>
    q(`SELECT "Column" AS col, "PnL" AS pnl FROM read_parquet('${path.join(fx.sweepDir, 'trades.parquet')}')`),
  );
  const staged = await stagedTrades(fx.sweepDir);
  assert.equal(staged.length, raw.length, 'trade count');
  // "(10, 'BTC-USD')" -> run "(10)", symbol BTC-USD
  const split = (col: string) => {
    const m = /^\((.*), '([^']*)'\)$/.exec(col);
    assert.ok(m, `tuple column ${col}`);
    return { run: `(${m[1]!})`, symbol: m[2]! };
  };
  const want = sumBy(raw, (r) => `${split(String(r.col)).run}|${split(String(r.col)).symbol}`, (r) => Number(r.pnl));
  const got = sumBy(staged, (r) => `${String(r.run_id)}|${String(r.symbol)}`, (r) => Number(r.pnl));
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'runs and symbols');
  for (const [k, pnl] of want) assertNear(got.get(k)!, pnl, `P&L of ${k}`);
  assert.deepEqual([...new Set(staged.map((r) => r.run_id))].sort(), ['(10)', '(20)']);
});

test('the names of older vectorbt releases (Trade Id, Entry Date, Entry Price, ...), saved without the index', async () => {
  const raw = await mem((q) =>
    q(`SELECT "Column" AS symbol, "PnL"::DOUBLE AS pnl FROM read_csv('${path.join(fx.oldNamesDir, 'trades.csv')}', all_varchar = true)`),
  );
  const staged = await stagedTrades(fx.oldNamesDir);
  assert.equal(staged.length, raw.length, 'trade count');
  for (const [sym, pnl] of sumBy(raw, (r) => String(r.symbol), (r) => Number(r.pnl))) {
    assertNear(sumBy(staged, (r) => String(r.symbol), (r) => Number(r.pnl)).get(sym)!, pnl, `P&L of ${sym}`);
  }
  assert.ok(staged.every((r) => r.entry_price !== null && r.entry_ts !== null));
});
