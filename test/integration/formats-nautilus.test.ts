// NautilusTrader reports as users save them (fixtures/formats/nautilus.ts), recognised and
// staged by the pipeline without a mapping (test/support/staged-formats.ts), against an
// independent reading of the raw files: the positions report's count and realized P&L (Money text, total and per instrument),
// and the FIFO round trips of the fills report against test/support/round-trips-reference.ts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureNautilusFixtures, type NautilusFixture } from '../../fixtures/formats/nautilus.js';
import { mem } from '../support/duckdb.js';
import { fifoRoundTrips } from '../support/round-trips-reference.js';
import { stageDataset } from '../support/staged-formats.js';
import { near } from '../support/checks.js';

let fx: NautilusFixture;

before(async () => {
  fx = await ensureNautilusFixtures();
});

/** The trades the dataset's formats stage, after asserting Nautilus recognised every file. */
async function staged(dir: string): Promise<Record<string, unknown>[]> {
  const s = await stageDataset(dir);
  assert.deepEqual(s.rest, [], 'every file recognised');
  assert.match(s.formats.join('\n'), /^NautilusTrader reports/);
  return s.trades;
}

/** Within a relative 1e-6 unless told (the tools' own numbers went through text). */
const assertNear = (got: number, want: number, what: string, tolerance = 1e-6): void => near(got, want, what, tolerance);

/** "-12.34 USD" -> -12.34 */
const money = (text: unknown) => Number(String(text).split(' ')[0]);

function sumBy(rows: readonly Record<string, unknown>[], key: string, value: (r: Record<string, unknown>) => number): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) out.set(String(r[key]), (out.get(String(r[key])) ?? 0) + value(r));
  return out;
}

test('positions report: one trade per position, realized P&L and commissions read from Money text', async () => {
  const raw = await mem((q) => q(`SELECT * FROM read_csv('${path.join(fx.positionsDir, 'positions.csv')}', all_varchar = true)`));
  const rows = await staged(fx.positionsDir);
  assert.equal(rows.length, raw.length, 'trade count');
  assertNear(rows.reduce((n, r) => n + Number(r.pnl), 0), raw.reduce((n, r) => n + money(r.realized_pnl), 0), 'total P&L');
  const want = sumBy(raw, 'instrument_id', (r) => money(r.realized_pnl));
  const got = sumBy(rows, 'symbol', (r) => Number(r.pnl));
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'instruments');
  for (const [sym, pnl] of want) assertNear(got.get(sym)!, pnl, `P&L of ${sym}`);
  // commissions "['8.00 USD']" -> 8
  const fees = sumBy(raw, 'instrument_id', (r) => money(String(r.commissions).replace(/[[\]']/g, '')));
  for (const [sym, f] of sumBy(rows, 'symbol', (r) => Number(r.fees))) assertNear(f, fees.get(sym)!, `fees of ${sym}`);
  assert.deepEqual(
    Object.fromEntries(sumBy(rows, 'side', () => 1)),
    Object.fromEntries(sumBy(raw.map((r) => ({ side: r.entry === 'BUY' ? 'long' : 'short' })), 'side', () => 1)),
    'entry BUY/SELL read as long/short',
  );
  assert.ok(rows.every((r) => r.run_id === 'EMACross-000'), 'the strategy is the run');
});

test('fills report: FIFO round trips equal to a plain matcher over the raw fills', async () => {
  const raw = await mem((q) =>
    q(`SELECT instrument_id, strategy_id, epoch_ms(ts_event)::DOUBLE AS ms, client_order_id, order_side, last_qty, last_px, commission
       FROM read_parquet('${path.join(fx.fillsDir, 'fills.parquet')}') ORDER BY ts_event, client_order_id`),
  );
  const want = fifoRoundTrips(
    raw.map((f, i) => ({
      run: String(f.strategy_id),
      symbol: String(f.instrument_id),
      ts: Number(f.ms),
      seq: i,
      amount: (f.order_side === 'BUY' ? 1 : -1) * Number(f.last_qty),
      price: Number(f.last_px),
      fees: money(f.commission),
    })),
  );
  assert.ok(want.some((t) => t.side === 'short') && want.length > raw.length / 4, 'the fixture has short and split round trips');
  const rows = await staged(fx.fillsDir);
  const key = (symbol: string, side: string, entry: number, exit: number | null) => `${symbol}|${side}|${entry}|${exit ?? ''}`;
  const got = new Map(rows.map((r) => [key(String(r.symbol), String(r.side), Number(r.entry_ts), r.exit_ts === null ? null : Number(r.exit_ts)), r] as const));
  assert.equal(rows.length, want.length, 'round trip count');
  for (const t of want) {
    const k = key(t.symbol, t.side, t.entryTs, t.exitTs);
    const r = got.get(k);
    assert.ok(r, `round trip ${k} is staged`);
    assertNear(Number(r.qty), t.qty, `qty of ${k}`);
    assertNear(Number(r.entry_price), t.entryPrice, `entry price of ${k}`);
    assertNear(Number(r.fees), t.fees, `fees of ${k}`);
    assertNear(Number(r.pnl), t.pnl!, `P&L of ${k}`);
  }
  const total = want.reduce((n, t) => n + (t.pnl ?? 0), 0);
  assertNear(rows.reduce((n, r) => n + Number(r.pnl ?? 0), 0), total, 'total P&L');
});

test("a sweep's reports in sibling folders, every run's strategy EMACross-000: a run per folder, or per folder and strategy where a folder holds two", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-nautilus-'));
  try {
    const report = await readFile(path.join(fx.positionsDir, 'positions.csv'), 'utf8');
    for (const run of ['fast', 'slow']) {
      await mkdir(path.join(dir, run));
      await writeFile(path.join(dir, run, 'positions.csv'), report);
    }
    const raw = await mem((q) => q(`SELECT * FROM read_csv('${path.join(fx.positionsDir, 'positions.csv')}', all_varchar = true)`));
    const total = raw.reduce((n, r) => n + money(r.realized_pnl), 0);
    const byRun = sumBy(await staged(dir), 'run_id', (r) => Number(r.pnl));
    assert.deepEqual([...byRun.keys()].sort(), ['fast', 'slow'], 'a run per folder, not one EMACross-000');
    for (const [run, pnl] of byRun) assertNear(pnl, total, `${run}: its own report's P&L`);

    // A folder whose report holds a second strategy: runs are named by folder and strategy.
    await writeFile(path.join(dir, 'slow', 'positions.csv'), report.replace(/EMACross-000/g, 'EMACross-001'));
    await writeFile(path.join(dir, 'slow', 'positions-2.csv'), report);
    const runs = [...sumBy(await staged(dir), 'run_id', () => 1).keys()].sort();
    assert.deepEqual(runs, ['fast/EMACross-000', 'slow/EMACross-000', 'slow/EMACross-001']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
