// A trade list whose file name names no table (an in-house tool's "backtest results.csv", a
// platform's export named after the strategy and the date): read as trades, not as bars, when its
// columns are a trade list's; a description that maps bars columns keeps it bars. Excursions in money
// (a platform's MAE and MFE) are read as fractions of the entry value.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { LocalSession } from '../support/local-session.js';
import { near } from '../support/checks.js';

let tmp: string;
const sessions: LocalSession[] = [];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-unnamed-trades-'));
});

after(async () => {
  for (const s of sessions) s.close();
  await rm(tmp, { recursive: true, force: true });
});

const TRADE_LIST = [
  'Instrument,Market pos.,Qty,Entry time,Exit time,Entry price,Exit price,Commission,Profit',
  'AAPL,Long,100,2024-01-02 09:35:00,2024-01-02 10:40:00,185.10,186.20,1.00,109.00',
  'MSFT,Short,50,2024-01-02 11:05:00,2024-01-03 13:20:00,370.00,372.50,1.00,-126.00',
  'AAPL,Long,100,2024-01-03 09:45:00,2024-01-04 15:55:00,184.00,186.00,1.00,199.00',
].join('\n');

test('a trade list named after nothing is read as trades: every trade, its side, its P&L', async () => {
  const dir = path.join(tmp, 'in-house');
  await mkdir(dir);
  await writeFile(path.join(dir, 'SampleStrategy 2024-03-01 10-15 AM.csv'), `${TRADE_LIST}\n`);
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.equal(report.files[0]!.recognisedAs, 'trades');
  assert.deepEqual(report.tables.map((t) => t.table), ['trades']);

  const s = await LocalSession.open(dir, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(s);
  const trades = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 10 } })).rows;
  assert.deepEqual(trades.map((t) => [t.symbol, t.side]), [['AAPL', 'long'], ['MSFT', 'short'], ['AAPL', 'long']]);
  near(trades.reduce((n, t) => n + Number(t.pnl), 0), 109 - 126 + 199, 'total P&L');
});

test('the same file with bars columns mapped in tickscope.json stays bars, and says what bars lack', async () => {
  const dir = path.join(tmp, 'mapped');
  await mkdir(dir);
  await writeFile(path.join(dir, 'SampleStrategy.csv'), `${TRADE_LIST}\n`);
  await writeFile(path.join(dir, 'tickscope.json'), JSON.stringify({ bars: { price: 'Entry price' } }));
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.files[0]!.recognisedAs, 'bars');
  assert.equal(report.ready, false);
  assert.ok(report.problems.some((p) => p.table === 'bars' && /'ts'/.test(p.message)), JSON.stringify(report.problems));
});

test("a platform's trade list with MAE and MFE in money: read over the entry value, MAE below zero, MFE above", async () => {
  const dir = path.join(tmp, 'money-excursions');
  await mkdir(dir);
  await writeFile(
    path.join(dir, 'Strategy Performance 2024-03-01.csv'),
    [
      'Instrument,Market pos.,Qty,Entry time,Exit time,Entry price,Exit price,Commission,Profit,MAE,MFE',
      'AAPL,Long,100,2024-01-02 09:35:00,2024-01-02 10:40:00,185.00,186.20,$1.00,$119.00,$92.50,"$1,387.50"',
      'MSFT,Short,50,2024-01-02 11:05:00,2024-01-03 13:20:00,370.00,372.50,$1.00,($126.00),($370.00),$185.00',
    ].join('\n') + '\n',
  );
  const s = await LocalSession.open(dir, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(s);
  const trades = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 10 } })).rows;
  near(Number(trades[0]!.mae), -92.5 / (185 * 100), 'AAPL MAE');
  near(Number(trades[0]!.mfe), 1387.5 / (185 * 100), 'AAPL MFE');
  near(Number(trades[1]!.mae), -370 / (370 * 50), 'MSFT MAE: the sign is the excursion’s, not the text’s');
  near(Number(trades[1]!.mfe), 185 / (370 * 50), 'MSFT MFE');
  near(Number(trades[1]!.pnl), -126, 'MSFT P&L in accounting negatives');
  assert.equal(trades[1]!.side, 'short');
});

// A crypto framework's export (Jesse's): the side as `type`, times as epoch milliseconds under
// opened_at/closed_at, the strategy's name, and a UUID as `id`.
const JESSE = [
  'id,strategy_name,symbol,exchange,type,entry_price,exit_price,qty,fee,PNL,opened_at,closed_at',
  '0bd2a1f5-3c1b-4f1e-9d5e-1a2b3c4d5e6f,SMACrossover,BTC-USDT,Binance,long,42000.5,42500.0,0.1,4.25,45.7,1704067200000,1704074400000',
  '1cd2a1f5-3c1b-4f1e-9d5e-1a2b3c4d5e6f,SMACrossover,ETH-USDT,Binance,short,2300.0,2280.0,2,1.8,38.2,1704070800000,1704074400000',
].join('\n');

test("a trade list's `type` is its side when every value is a side's word; its text id is not a trade number", async () => {
  const dir = path.join(tmp, 'jesse');
  await mkdir(dir);
  await writeFile(path.join(dir, 'trades.csv'), `${JESSE}\n`);
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  const columns = Object.fromEntries(report.tables[0]!.columns.map((c) => [c.canonical, c.column]));
  assert.equal(columns.side, 'type');
  assert.equal(columns.run_id, 'strategy_name');
  assert.equal(columns.entry_ts, 'opened_at');
  assert.equal(columns.exit_ts, 'closed_at');
  assert.equal(columns.trade_id, undefined, 'a UUID is not a trade number');

  const s = await LocalSession.open(dir, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(s);
  const trades = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 10 } })).rows;
  assert.deepEqual(
    trades.map((t) => [t.run_id, Number(t.trade_id), t.symbol, t.side, Number(t.entry_ts), Number(t.exit_ts)]),
    [
      ['SMACrossover', 1, 'BTC-USDT', 'long', 1704067200000, 1704074400000],
      ['SMACrossover', 2, 'ETH-USDT', 'short', 1704070800000, 1704074400000],
    ],
  );
});

test("a `type` holding anything but sides (an order type) is not the side: the quantity's sign is", async () => {
  const dir = path.join(tmp, 'order-type');
  await mkdir(dir);
  await writeFile(path.join(dir, 'trades.csv'), `${JESSE.replace(',long,', ',market,').replace(',short,', ',limit,').replace(',2,1.8,', ',-2,1.8,')}\n`);
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.equal(report.tables[0]!.columns.find((c) => c.canonical === 'side'), undefined);
  assert.ok(report.tables[0]!.unused.includes('type'));
  const s = await LocalSession.open(dir, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(s);
  const trades = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 10 } })).rows;
  assert.deepEqual(trades.map((t) => t.side), ['long', 'short']);
});

test('a trade list ending in a totals line (as exports and spreadsheets end one): the line is left out and said, not refused', async () => {
  const dir = path.join(tmp, 'totals');
  await mkdir(dir);
  await writeFile(path.join(dir, 'Strategy Performance.csv'), `Strategy Performance Report\n\n${TRADE_LIST}\nTotal,,,,,,,,182.00\n`);
  const s = await LocalSession.open(dir, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(s);
  const trades = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 10 } })).rows;
  assert.deepEqual(trades.map((t) => t.symbol), ['AAPL', 'MSFT', 'AAPL'], 'three trades, no "Total"');
  near(trades.reduce((n, t) => n + Number(t.pnl), 0), 182, 'the P&L counted once');
  const con = await s.store.instance.connect();
  try {
    const found = (await con.runAndReadAll(`SELECT kind, problem, count FROM data_quality`)).getRowObjectsJson();
    assert.deepEqual(found.filter((f) => f.problem === 'totals line').map((f) => [f.kind, Number(f.count)]), [['finding', 1]]);
  } finally {
    con.closeSync();
  }
});
