// Futures contract multipliers from the symbols input (server/prepare/multipliers.ts): a position's
// value, a trade's return from its P&L and its MAE/MFE written as money are over quantity x price x
// multiplier; stated P&L is untouched; a symbol without one keeps 1. Checked in the store against
// hand-computed values, for bars given and for bars made of the trades, and for the round trips of
// each tool's own fills against the same files prepared without it; a bad multiplier is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { ensureLeanFixtures } from '../../fixtures/formats/lean.js';
import { pyfolioFixture } from '../../fixtures/formats/pyfolio.js';
import { ensureVectorbtFixtures } from '../../fixtures/formats/vectorbt.js';
import { ziplineFixture } from '../../fixtures/formats/zipline.js';
import { LocalSession } from '../support/local-session.js';
import { near } from '../support/checks.js';
import { testStoreDir } from '../support/datasets.js';

let tmp: string;
const sessions: LocalSession[] = [];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-multipliers-'));
});

after(async () => {
  for (const s of sessions) s.close();
  await rm(tmp, { recursive: true, force: true });
});

async function dataset(name: string, files: Record<string, string[]>): Promise<string> {
  const dir = path.join(tmp, name);
  await mkdir(dir, { recursive: true });
  for (const [file, lines] of Object.entries(files)) await writeFile(path.join(dir, file), `${lines.join('\n')}\n`);
  return dir;
}

async function rows(s: LocalSession, sql: string): Promise<Record<string, unknown>[]> {
  const con = await s.store.instance.connect();
  try {
    return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    con.closeSync();
  }
}

const SYMBOLS = ['symbol,sector,Point Value', 'ES,Index,50', 'CL,Energy,1000', 'AAPL,Tech,'];
const TRADES = [
  'symbol,side,entry_time,exit_time,qty,entry_price,exit_price,pnl,mae,mfe',
  'ES,long,2024-01-02 15:00:00,2024-01-03 16:00:00,2,4750,4760,1000,"$-250.00","$1,100.00"',
  'CL,short,2024-01-02 16:00:00,2024-01-03 16:00:00,1,72,71.5,500,"$-100.00","$600.00"',
  'AAPL,long,2024-01-02 16:00:00,2024-01-03 16:00:00,10,185,185.5,5,"$-2.00","$6.00"',
];
const VALUE = { ES: 2 * 4750 * 50, CL: 72 * 1000, AAPL: 10 * 185 } as const;

test("bars and trades with a symbols file's point values: position values, returns and money MAE/MFE over the contracts' value", async () => {
  const dir = await dataset('given-bars', {
    'bars.csv': [
      'ts,symbol,price,position_qty,pnl',
      '2024-01-02 15:00:00,ES,4750,2,0',
      '2024-01-02 16:00:00,ES,4755,2,500',
      '2024-01-03 16:00:00,ES,4760,0,500',
      '2024-01-02 16:00:00,CL,72,-1,0',
      '2024-01-03 16:00:00,CL,71.5,0,500',
      '2024-01-02 16:00:00,AAPL,185,10,0',
      '2024-01-03 16:00:00,AAPL,185.5,0,5',
    ],
    'trades.csv': TRADES,
    'symbols.csv': SYMBOLS,
  });
  const s = await LocalSession.open(dir, 1, { storeDir: testStoreDir() });
  sessions.push(s);
  assert.deepEqual(await rows(s, 'SELECT symbol, multiplier FROM symbols ORDER BY symbol'), [
    { symbol: 'AAPL', multiplier: 1 },
    { symbol: 'CL', multiplier: 1000 },
    { symbol: 'ES', multiplier: 50 },
  ]);
  const bars = await rows(s, `SELECT symbol, position_value FROM bars WHERE ts = '2024-01-02 16:00:00' ORDER BY symbol`);
  assert.deepEqual(bars, [
    { symbol: 'AAPL', position_value: 1850 },
    { symbol: 'CL', position_value: -72_000 },
    { symbol: 'ES', position_value: 2 * 4755 * 50 },
  ]);
  const trades = await rows(s, 'SELECT symbol, pnl, ret, mae, mfe FROM trades ORDER BY symbol');
  const want = { AAPL: [5, -2, 6], CL: [500, -100, 600], ES: [1000, -250, 1100] } as const;
  for (const t of trades) {
    const symbol = String(t.symbol) as keyof typeof want;
    const [pnl, mae, mfe] = want[symbol];
    assert.equal(t.pnl, pnl, `${symbol}: stated P&L untouched`);
    near(t.ret, pnl / VALUE[symbol], `${symbol}: ret over qty x price x multiplier`);
    near(t.mae, mae / VALUE[symbol], `${symbol}: MAE in money over the contracts' value`);
    near(t.mfe, mfe / VALUE[symbol], `${symbol}: MFE in money over the contracts' value`);
  }
  const [source] = await rows(s, `SELECT note FROM column_sources WHERE table_name = 'bars' AND column_name = 'position_value'`);
  assert.equal(source?.note, "position_qty × price × the symbol's multiplier");
  // The exposure the views draw is the contracts' value.
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  near(Number(summary.total_pnl), 1505, 'total P&L: the bars, untouched');
});

test('trades alone with point values: the bars made of them hold the contracts’ value', async () => {
  const dir = await dataset('trade-bars', { 'trades.csv': TRADES, 'symbols.csv': SYMBOLS });
  const s = await LocalSession.open(dir, 1, { storeDir: testStoreDir() });
  sessions.push(s);
  const bars = await rows(s, `SELECT symbol, position_qty, position_value FROM bars WHERE position_qty <> 0 ORDER BY symbol, ts`);
  assert.deepEqual(bars.map((b) => [b.symbol, b.position_value]), [
    ['AAPL', 1850],
    ['CL', -72_000],
    ['ES', VALUE.ES],
  ]);
  const [es] = await rows(s, `SELECT ret FROM trades WHERE symbol = 'ES'`);
  near(es?.ret, 1000 / VALUE.ES, 'ES ret from the bars-from-trades path');
});

test('a multiplier that is not above 0, or two for one symbol: refused, naming the file, the column and the symbol', async () => {
  const zero = await dataset('zero', { 'trades.csv': TRADES, 'symbols.csv': ['symbol,multiplier', 'ES,0', 'CL,1000'] });
  await assert.rejects(prepareDataset({ input: zero, storeDir: testStoreDir() }), (error: Error) => {
    assert.match(error.message, /symbols in .*symbols\.csv, column 'multiplier': ES's multiplier is 0; a contract's multiplier \(its value per point of price\) is above 0/);
    return true;
  });
  const two = await dataset('two', { 'trades.csv': TRADES, 'symbols.csv': ['symbol,contract_size', 'ES,50', 'ES,5'] });
  await assert.rejects(prepareDataset({ input: two, storeDir: testStoreDir() }), (error: Error) => {
    assert.match(error.message, /column 'contract_size': ES has two multipliers, 5 and 50; a contract has one/);
    return true;
  });
});

test("what a format computes from prices takes the symbols file's multiplier: a list of fills' P&L, TradingView's Run-up and Drawdown", async () => {
  const dir = await dataset('fills-and-symbols', {
    'fills.csv': ['time,symbol,side,qty,price,commission', '2024-01-02 09:35:00,ES,BUY,2,4750.25,4.04', '2024-01-02 15:55:00,ES,SELL,2,4755.50,4.04'],
    'symbols.csv': ['symbol,sector,point_value', 'ES,Index,50'],
  });
  const s = await LocalSession.open(dir, 1, { storeDir: testStoreDir() });
  sessions.push(s);
  const [t] = await rows(s, 'SELECT pnl, ret FROM trades');
  near(t?.pnl, 2 * 5.25 * 50 - 8.08, "ES long 2 from 4750.25 to 4755.50: 525 before fees, not 10.50");
  near(t?.ret, (2 * 5.25 * 50 - 8.08) / (2 * 4750.25 * 50), 'ret over the contracts’ value');

  const tv = await dataset('tradingview-and-symbols', {
    'Strategy_CME_MINI_ES1!_2024-01-16.csv': [
      'Trade #,Type,Signal,Date/Time,Price USD,Contracts,Profit USD,Run-up USD,Drawdown USD',
      '1,Exit long,Close,2024-01-02 15:55,4755.50,2,525.00,1100.00,-250.00',
      '1,Entry long,Long,2024-01-02 09:35,4750.25,2,525.00,1100.00,-250.00',
    ],
    'symbols.csv': ['symbol,contract_size', 'ES1!,50'],
  });
  const v = await LocalSession.open(tv, 1, { storeDir: testStoreDir() });
  sessions.push(v);
  const [trade] = await rows(v, 'SELECT symbol, pnl, mae, mfe FROM trades');
  assert.equal(trade?.symbol, 'ES1!');
  assert.equal(trade?.pnl, 525, "TradingView's own P&L, untouched");
  near(trade?.mae, -250 / (4750.25 * 2 * 50), 'Drawdown over the contracts’ value');
  near(trade?.mfe, 1100 / (4750.25 * 2 * 50), 'Run-up over the contracts’ value');
});

test("a tool's own fills take the symbols file's multiplier: pyfolio's and zipline's transactions, Lean's orders; vectorbt's orders keep vectorbt's P&L", async () => {
  const lean = await ensureLeanFixtures();
  // vectorbt knows no multiplier: its orders' round trips stay what vectorbt's own trade records say.
  const tools: { tool: string; dir: string; multiplied: boolean }[] = [
    { tool: 'pyfolio', dir: (await pyfolioFixture()).csvDir, multiplied: true },
    { tool: 'zipline', dir: (await ziplineFixture()).dir, multiplied: true },
    { tool: 'Lean', dir: lean.ordersOnlyDir, multiplied: true },
    { tool: 'vectorbt', dir: (await ensureVectorbtFixtures()).ordersDir, multiplied: false },
  ];
  const TRADES = 'SELECT run_id, trade_id, symbol, qty, entry_price, fees, pnl, ret FROM trades WHERE pnl IS NOT NULL ORDER BY run_id, trade_id';
  for (const { tool, dir, multiplied } of tools) {
    const plain = await LocalSession.open(dir, 1, { storeDir: testStoreDir() });
    sessions.push(plain);
    const before = await rows(plain, TRADES);
    // The symbol with the most closed round trips is made a future of 50 a point.
    const counts = new Map<string, number>();
    for (const t of before) counts.set(String(t.symbol), (counts.get(String(t.symbol)) ?? 0) + 1);
    const [future] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
    const withSymbols = path.join(tmp, `fills-${tool}`);
    await cp(dir, withSymbols, { recursive: true });
    await writeFile(path.join(withSymbols, 'symbols.csv'), `symbol,contract_size\n${future},50\n`);
    const priced = await LocalSession.open(withSymbols, 1, { storeDir: testStoreDir() });
    sessions.push(priced);
    const after = await rows(priced, TRADES);
    assert.equal(after.length, before.length, `${tool}: the same round trips`);
    let futures = 0;
    after.forEach((t, i) => {
      const b = before[i]!;
      assert.deepEqual([t.run_id, t.trade_id, t.symbol], [b.run_id, b.trade_id, b.symbol], `${tool}: round trip ${i} is the same one`);
      const what = `${tool} ${String(t.symbol)} trade ${String(t.trade_id)}`;
      if (t.symbol !== future || !multiplied) {
        assert.equal(t.pnl, b.pnl, `${what}: no multiplier, the same P&L`);
        return;
      }
      futures++;
      // Before fees the P&L is the price move x quantity x 50; fees are the fills' own.
      near(Number(t.pnl) + Number(t.fees ?? 0), 50 * (Number(b.pnl) + Number(b.fees ?? 0)), `${what}: P&L before fees x 50`);
      near(t.ret, Number(t.pnl) / (Number(t.qty) * Number(t.entry_price) * 50), `${what}: ret over the contracts' value`);
    });
    assert.ok(!multiplied || futures > 0, `${tool}: round trips of ${future} were compared`);
  }
});
