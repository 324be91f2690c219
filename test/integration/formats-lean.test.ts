// QuantConnect Lean result JSON (fixtures/formats/lean.ts: the packet `lean backtest` writes),
// recognised and staged by the pipeline without a mapping (test/support/staged-formats.ts),
// against the raw JSON read here with JSON.parse: closed trades' count and P&L after fees (total and per symbol), Lean's
// MAE and MFE kept trade by trade, and the capital from the result's "Start Equity"; a result
// without closedTrades gives the FIFO round trips of its filled orders.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ensureLeanFixtures, LEAN_CAPITAL, type LeanFixture } from '../../fixtures/formats/lean.js';
import { fifoRoundTrips } from '../support/round-trips-reference.js';
import { stageDataset } from '../support/staged-formats.js';
import { near as assertNear } from '../support/checks.js';

interface RawTrade {
  symbol: { value: string };
  entryTime: string;
  exitTime: string;
  direction: number;
  quantity: number;
  entryPrice: number;
  exitPrice: number;
  profitLoss: number;
  totalFees: number;
  mae: number;
  mfe: number;
}

let fx: LeanFixture;

before(async () => {
  fx = await ensureLeanFixtures();
});

async function rawTrades(file: string): Promise<RawTrade[]> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as { totalPerformance: { closedTrades: RawTrade[] } };
  return doc.totalPerformance.closedTrades;
}

const keyOf = (symbol: string, entryMs: number, exitMs: number) => `${symbol}|${entryMs}|${exitMs}`;

test('closed trades: count, P&L after fees, MAE and MFE as Lean wrote them; capital from Start Equity', async () => {
  const raw = await rawTrades(fx.file);
  const staged = await stageDataset(fx.dir);
  assert.deepEqual(staged.rest, [], 'every file recognised');
  const trades = staged.trades;
  assert.equal(trades.length, raw.length, 'trade count');
  const net = (t: RawTrade) => t.profitLoss - t.totalFees;
  assertNear(trades.reduce((n, r) => n + Number(r.pnl), 0), raw.reduce((n, t) => n + net(t), 0), 'total P&L');
  const perSymbol = new Map<string, number>();
  for (const t of raw) perSymbol.set(t.symbol.value, (perSymbol.get(t.symbol.value) ?? 0) + net(t));
  for (const [symbol, pnl] of perSymbol) {
    assertNear(trades.filter((r) => r.symbol === symbol).reduce((n, r) => n + Number(r.pnl), 0), pnl, `P&L of ${symbol}`);
  }
  const byKey = new Map(raw.map((t) => [keyOf(t.symbol.value, Date.parse(t.entryTime), Date.parse(t.exitTime)), t] as const));
  for (const r of trades) {
    const t = byKey.get(keyOf(String(r.symbol), Number(r.entry_ts), Number(r.exit_ts)));
    assert.ok(t, `staged trade ${String(r.symbol)} ${String(r.entry_ts)} is in the file`);
    assert.equal(r.side, t.direction === 0 ? 'long' : 'short');
    assert.equal(r.qty, t.quantity);
    assertNear(Number(r.mae), t.mae, 'mae');
    assertNear(Number(r.mfe), t.mfe, 'mfe');
    assertNear(Number(r.fees), t.totalFees, 'fees');
  }
  assert.deepEqual(staged.runs, [{ run_id: '2024-02-01_10-00-00', name: 'IntradayMomentum', params: null, capital: LEAN_CAPITAL }]);
});

test('an older result ({x, y} equity points) is read the same way', async () => {
  const raw = await rawTrades(fx.legacyFile);
  const staged = await stageDataset(fx.legacyDir);
  assert.equal(staged.trades.length, raw.length);
  assertNear(staged.trades.reduce((n, r) => n + Number(r.pnl), 0), raw.reduce((n, t) => n + t.profitLoss - t.totalFees, 0), 'total P&L');
  assert.equal(staged.runs[0]!.capital, LEAN_CAPITAL);
});

test('a result without closedTrades: its filled orders matched FIFO, against a plain matcher', async () => {
  const doc = JSON.parse(await readFile(fx.ordersOnlyFile, 'utf8')) as {
    orders: Record<string, { id: number; symbol: { value: string }; time: string; quantity: number; price: number; status: number }>;
  };
  const want = fifoRoundTrips(
    Object.values(doc.orders)
      .filter((o) => o.status === 3)
      .map((o) => ({ run: '2024-02-01_10-00-00', symbol: o.symbol.value, ts: Date.parse(o.time), seq: o.id, amount: o.quantity, price: o.price, fees: 0 })),
  );
  const trades = (await stageDataset(fx.ordersOnlyDir)).trades;
  assert.equal(trades.length, want.length, 'round trip count');
  const got = new Map(trades.map((r) => [keyOf(String(r.symbol), Number(r.entry_ts), Number(r.exit_ts)), r] as const));
  for (const t of want) {
    const r = got.get(keyOf(t.symbol, t.entryTs, t.exitTs!));
    assert.ok(r, `round trip ${t.symbol} ${t.entryTs} is staged`);
    assert.equal(r.side, t.side);
    assertNear(Number(r.qty), t.qty, 'qty');
    assertNear(Number(r.pnl), t.pnl!, 'pnl');
  }
});
