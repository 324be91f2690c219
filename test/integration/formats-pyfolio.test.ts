// zipline/pyfolio frames as users save them (fixtures/formats/pyfolio.ts), Parquet and CSV,
// prepared without a mapping and served through the session's path, against an independent
// reading of the raw files: per-symbol and total P&L (final value - what the fills paid - their
// commissions), fees, the capital base (the first day's assets + cash), and the FIFO round trips
// of the transactions against the plain matcher of test/support/round-trips-reference.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PYFOLIO_CAPITAL, pyfolioFixture, type PyfolioFixture } from '../../fixtures/formats/pyfolio.js';
import { mem } from '../support/duckdb.js';
import { LocalSession } from '../support/local-session.js';
import { fifoRoundTrips, roundTripOfRow, type RoundTrip } from '../support/round-trips-reference.js';
import { near } from '../support/checks.js';

let fx: PyfolioFixture;
const sessions: LocalSession[] = [];

before(async () => {
  fx = await pyfolioFixture();
});

after(() => {
  for (const s of sessions) s.close();
});

interface Raw {
  fills: { symbol: string; ms: number; amount: number; price: number; commission: number }[];
  /** Every positions row: day (ms), each asset's value (null when not held), cash. */
  positions: Record<string, unknown>[];
  assets: string[];
}

/** The three frames as plain rows, read the simplest way (DuckDB as a file reader only). */
async function readRaw(dir: string, ext: 'parquet' | 'csv'): Promise<Raw> {
  return mem(async (q) => {
    const read = (name: string) => (ext === 'parquet' ? `read_parquet('${path.join(dir, `${name}.parquet`)}')` : `read_csv('${path.join(dir, `${name}.csv`)}')`);
    const fills = (await q(`SELECT symbol, epoch_ms(dt::TIMESTAMPTZ)::DOUBLE AS ms, amount::DOUBLE AS amount, price::DOUBLE AS price, commission::DOUBLE AS commission FROM ${read('transactions')}`)).map(
      (r) => ({ symbol: String(r.symbol), ms: Number(r.ms), amount: Number(r.amount), price: Number(r.price), commission: Number(r.commission) }),
    );
    const positions = await q(`SELECT * FROM ${read('positions')}`);
    const index = ext === 'parquet' ? '__index_level_0__' : 'column0';
    const assets = Object.keys(positions[0]!).filter((k) => k !== index && k !== 'cash');
    return { fills, positions, assets };
  });
}

const num = (v: unknown) => (v === null || v === undefined || Number.isNaN(Number(v)) ? 0 : Number(v));

/** Within a relative 1e-6 unless told (the tools' own numbers went through text). */
const assertNear = (got: number, want: number, what: string, tolerance = 1e-6): void => near(got, want, what, tolerance);

async function checkServed(dir: string, ext: 'parquet' | 'csv'): Promise<void> {
  const raw = await readRaw(dir, ext);
  const s = await LocalSession.open(dir);
  sessions.push(s);

  // P&L per symbol: what the position is worth at the end, less what its fills paid and cost.
  const last = raw.positions[raw.positions.length - 1]!;
  const want = new Map<string, number>();
  for (const a of raw.assets) want.set(a, num(last[a]));
  for (const f of raw.fills) want.set(f.symbol, (want.get(f.symbol) ?? 0) - f.amount * f.price - f.commission);
  const breakdown = await s.ask({ query: 'breakdown', params: { by: 'symbol', limit: 100 } });
  const got = new Map(breakdown.rows.map((r) => [String(r.key), Number(r.pnl)] as const));
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'symbols');
  for (const [sym, pnl] of want) assertNear(got.get(sym)!, pnl, `${ext}: P&L of ${sym}`);
  const fees = new Map(breakdown.rows.map((r) => [String(r.key), Number(r.fees)] as const));
  for (const sym of want.keys()) {
    assertNear(fees.get(sym)!, raw.fills.filter((f) => f.symbol === sym).reduce((n, f) => n + f.commission, 0), `${ext}: fees of ${sym}`);
  }

  // Total: the portfolio's last value (assets + cash) less the starting cash.
  const lastValue = raw.assets.reduce((n, a) => n + num(last[a]), 0) + num(last.cash);
  const summary = await s.ask({ query: 'summary', params: {} });
  assertNear(Number(summary.rows[0]!.total_pnl), lastValue - PYFOLIO_CAPITAL, `${ext}: total P&L`);

  // The capital base: the first day's assets + cash, a stated fact.
  const first = raw.positions[0]!;
  const run = s.store.catalog.runs.get('default')!;
  assertNear(run.capital!, raw.assets.reduce((n, a) => n + num(first[a]), 0) + num(first.cash), `${ext}: capital`);

  // The store records what was recognised and where the capital came from.
  const con = await s.store.instance.connect();
  try {
    const meta = (await con.runAndReadAll(`SELECT value FROM meta WHERE key = 'formats'`)).getRowsJson()[0]?.[0];
    const record = JSON.parse(String(meta)) as { formats: string[]; sources: string[] };
    assert.deepEqual(record.formats, [`zipline/pyfolio frames: returns.${ext}, positions.${ext} (wide, ${raw.assets.length} assets + cash), transactions.${ext} (fills)`]);
    assert.ok(record.sources.some((line) => /capital: .*portfolio value \(assets \+ cash\)/.test(line)), record.sources.join('; '));
  } finally {
    con.closeSync();
  }

  // Round trips: FIFO over the fills in the order the frame has them.
  const reference = fifoRoundTrips(raw.fills.map((f, i) => ({ run: 'default', symbol: f.symbol, ts: f.ms, seq: i, amount: f.amount, price: f.price, fees: f.commission })));
  assert.ok(reference.some((t) => t.side === 'short') && reference.some((t) => t.exitTs === null), 'the fixture has short and open round trips');
  const trades = await s.ask({ query: 'trades', params: { limit: 10_000 } });
  assert.equal(trades.rows.length, reference.length, `${ext}: round trip count`);
  const served: RoundTrip[] = trades.rows.map((r) => roundTripOfRow(r));
  const key = (t: RoundTrip) => `${t.symbol}|${t.side}|${t.exitTs ?? 'open'}|${String(t.entryTs).padStart(15, '0')}|${t.qty}`;
  const sorted = (ts: RoundTrip[]) => [...ts].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const w = sorted(reference);
  sorted(served).forEach((t, i) => {
    const r = w[i]!;
    assert.equal(key(t), key(r), `${ext}: round trip ${i}`);
    assertNear(t.entryPrice, r.entryPrice, `entry price of ${key(r)}`);
    assertNear(t.fees, r.fees, `fees of ${key(r)}`);
    if (r.pnl === null) assert.equal(t.pnl, null, `open ${key(r)} has no P&L`);
    else assertNear(t.pnl!, r.pnl, `P&L of ${key(r)}`);
  });
}

test('pyfolio Parquet frames: P&L per symbol and in total, capital, FIFO round trips', async () => {
  await checkServed(fx.parquetDir, 'parquet');
});

test('pyfolio CSV frames (to_csv, the index unnamed): the same numbers', async () => {
  await checkServed(fx.csvDir, 'csv');
});

test('two runs in two folders (one saved as Parquet, one as CSV): a run each, never one run of both', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-pyfolio-runs-'));
  try {
    await cp(fx.parquetDir, path.join(dir, 'meanrev'), { recursive: true });
    await cp(fx.csvDir, path.join(dir, 'momentum'), { recursive: true });
    const raw = await readRaw(fx.parquetDir, 'parquet');
    const s = await LocalSession.open(dir, 1, { storeDir: path.join(dir, '.stores') });
    sessions.push(s);
    assert.deepEqual([...s.store.catalog.runs.keys()].sort(), ['meanrev', 'momentum']);
    const first = raw.positions[0]!;
    const last = raw.positions[raw.positions.length - 1]!;
    const capital = raw.assets.reduce((n, a) => n + num(first[a]), 0) + num(first.cash);
    const lastValue = raw.assets.reduce((n, a) => n + num(last[a]), 0) + num(last.cash);
    const reference = fifoRoundTrips(raw.fills.map((f, i) => ({ run: 'default', symbol: f.symbol, ts: f.ms, seq: i, amount: f.amount, price: f.price, fees: f.commission })));
    const summary = await s.ask({ query: 'summary', params: {} });
    for (const run of ['meanrev', 'momentum']) {
      assertNear(s.store.catalog.runs.get(run)!.capital!, capital, `${run}: capital`);
      assertNear(Number(summary.rows.find((r) => r.run_id === run)!.total_pnl), lastValue - PYFOLIO_CAPITAL, `${run}: total P&L`);
      const trades = await s.ask({ query: 'trades', params: { runs: [run], limit: 10_000 } });
      assert.equal(trades.rows.length, reference.length, `${run}: its own round trips, not the other run's fills matched with them`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
