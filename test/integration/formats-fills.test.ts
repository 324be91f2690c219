// A list of fills as a broker's statement or an in-house backtester writes it (server/prepare/
// formats/fills.ts), prepared without a mapping and served: the round trips against the plain FIFO
// matcher of test/support/round-trips-reference.ts, fill by fill; the runs a strategy column names;
// and the two ways such a list cannot be read, each named.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { LocalSession } from '../support/local-session.js';
import { near } from '../support/checks.js';
import { fifoRoundTrips, roundTripOfRow, type Fill, type RoundTrip } from '../support/round-trips-reference.js';

let tmp: string;
const sessions: LocalSession[] = [];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-fills-'));
});

after(async () => {
  for (const s of sessions) s.close();
  await rm(tmp, { recursive: true, force: true });
});

async function dataset(name: string, file: string, lines: readonly string[]): Promise<string> {
  const dir = path.join(tmp, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, file), `${lines.join('\n')}\n`);
  return dir;
}

function assertSame(served: readonly Record<string, unknown>[], reference: readonly RoundTrip[], what: string): void {
  assert.equal(served.length, reference.length, `${what}: round trips`);
  const key = (t: RoundTrip) => `${t.run}|${t.symbol}|${String(t.entryTs).padStart(15, '0')}|${t.exitTs ?? 'open'}|${t.side}|${t.qty}`;
  const sorted = (ts: readonly RoundTrip[]) => [...ts].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const want = sorted(reference);
  sorted(served.map((r) => roundTripOfRow(r))).forEach((t, i) => {
    const w = want[i]!;
    assert.equal(key(t), key(w), `${what}: round trip ${i}`);
    near(t.entryPrice, w.entryPrice, `${what}: entry price of ${key(w)}`);
    near(t.exitPrice, w.exitPrice, `${what}: exit price of ${key(w)}`);
    near(t.fees, w.fees, `${what}: fees of ${key(w)}`);
    near(t.pnl, w.pnl, `${what}: P&L of ${key(w)}`);
  });
}

const ms = (text: string) => Date.parse(`${text.replace(' ', 'T')}Z`);

test("a broker's executions (signed quantities beside Buy/Sell, commissions as negative costs): FIFO round trips, partial closes and a reversal", async () => {
  const rows: [string, string, string, number, number, number][] = [
    ['AAPL', '2024-01-02 09:35:00', 'BUY', 100, 185.1, -1],
    ['AAPL', '2024-01-02 11:00:00', 'BUY', 50, 185.6, -0.5],
    ['AAPL', '2024-01-02 15:50:00', 'SELL', -120, 186.2, -1.2],
    ['AAPL', '2024-01-03 10:15:00', 'SELL', -80, 187.0, -0.8],
    ['MSFT', '2024-01-03 10:00:00', 'SELL', -50, 370.0, -1],
    ['MSFT', '2024-01-04 11:00:00', 'BUY', 50, 372.5, -1],
    ['AAPL', '2024-01-05 09:40:00', 'BUY', 200, 184.0, -1.5],
  ];
  const dir = await dataset('broker', 'executions.csv', ['Symbol,DateTime,Buy/Sell,Quantity,TradePrice,IBCommission', ...rows.map((r) => r.join(','))]);
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.deepEqual(report.formats.map((f) => f.summary), [`list of fills: ${path.join(dir, 'executions.csv')}`]);
  const reference = fifoRoundTrips(rows.map(([symbol, time, , qty, price, fee], seq): Fill => ({ run: 'default', symbol, ts: ms(time), seq, amount: qty, price, fees: Math.abs(fee) })));
  assert.ok(reference.some((t) => t.side === 'short') && reference.some((t) => t.exitTs === null), 'a short, and a lot still open');
  const s = await LocalSession.open(dir, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(s);
  assertSame((await s.ask({ query: 'trades', params: { limit: 100 } })).rows, reference, 'executions');
});

test("a futures statement's executions with a Multiplier column: the P&L is the price move x contracts x the multiplier, a mixed one is refused", async () => {
  const rows: [string, string, string, number, number, number, number][] = [
    ['ESH4', '2024-01-02 09:35:00', 'BOT', 2, 4750.25, -4.04, 50],
    ['ESH4', '2024-01-02 15:55:00', 'SLD', -3, 4755.5, -6.06, 50],
    ['ESH4', '2024-01-03 10:00:00', 'BOT', 1, 4741.0, -2.02, 50],
    ['CLG4', '2024-01-03 10:05:00', 'SLD', -1, 72.15, -2.5, 1000],
    ['CLG4', '2024-01-04 11:00:00', 'BOT', 1, 71.4, -2.5, 1000],
  ];
  const lines = (rs: typeof rows) => ['Symbol,DateTime,Buy/Sell,Quantity,TradePrice,IBCommission,Multiplier', ...rs.map((r) => r.join(','))];
  const dir = await dataset('futures', 'executions.csv', lines(rows));
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.formats[0]?.files[0]?.columns['multiplier'], 'Multiplier (price move x quantity x it is the P&L)');
  const reference = fifoRoundTrips(rows.map(([symbol, time, , qty, price, fee, multiplier], seq): Fill => ({ run: 'default', symbol, ts: ms(time), seq, amount: qty, price, fees: Math.abs(fee), multiplier })));
  // ES long 2 from 4750.25 to 4755.50 is 2 x 5.25 x 50 = 525 before fees, not 10.50.
  near(reference.find((t) => t.symbol === 'ESH4' && t.side === 'long')!.pnl, 525 - 4.04 - 4.04, 'the reference itself');
  const s = await LocalSession.open(dir, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(s);
  const served = (await s.ask({ query: 'trades', params: { limit: 100 } })).rows;
  assertSame(served, reference, 'futures executions');
  for (const t of served.filter((r) => r.exit_ts !== null)) {
    const m = t.symbol === 'ESH4' ? 50 : 1000;
    near(Number(t.ret), Number(t.pnl) / (Number(t.entry_price) * Number(t.qty) * m), `${String(t.symbol)}: ret over the contracts' value`);
  }
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  near(Number(summary.total_pnl), reference.reduce((n, t) => n + (t.pnl ?? 0), 0), 'total P&L');

  const mixed = await dataset('futures-mixed', 'executions.csv', lines(rows.map((r, i) => (i === 1 ? [r[0], r[1], r[2], r[3], r[4], r[5], 5] : r))));
  await assert.rejects(prepareDataset({ input: mixed, storeDir: path.join(tmp, 'stores') }), (error: Error) => {
    assert.match(error.message, /list of fills .*executions\.csv: the fills of ESH4 carry the multiplier \('Multiplier'\) (5 and 50|50 and 5); a contract has one positive multiplier/);
    return true;
  });
});

test('fills of two strategies with ISO times in UTC and lowercase sides: a run each', async () => {
  const rows = [
    ['2024-01-02T14:35:00Z', 'BTCUSDT', 'buy', 0.5, 42000, 2.1, 'grid'],
    ['2024-01-02T18:00:00Z', 'BTCUSDT', 'sell', 0.5, 42500, 2.1, 'grid'],
    ['2024-01-03T09:00:00Z', 'ETHUSDT', 'sell', 2, 2400, 0.5, 'trend'],
    ['2024-01-03T21:00:00Z', 'ETHUSDT', 'buy', 3, 2350, 0.75, 'trend'],
  ] as const;
  const dir = await dataset('crypto', 'fills.csv', ['timestamp,symbol,side,qty,price,fee,strategy', ...rows.map((r) => r.join(','))]);
  const reference = fifoRoundTrips(
    rows.map(([time, symbol, side, qty, price, fee, run], seq): Fill => ({ run, symbol, ts: Date.parse(time), seq, amount: side === 'buy' ? qty : -qty, price, fees: fee })),
  );
  const s = await LocalSession.open(dir, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(s);
  assert.deepEqual([...s.store.catalog.runs.keys()].sort(), ['grid', 'trend']);
  assertSame((await s.ask({ query: 'trades', params: { limit: 100 } })).rows, reference, 'fills');
});

test('times as a spreadsheet writes them (month first, AM/PM) and as epoch milliseconds: read, and matched in time order', async () => {
  // As text, '12/29/2023' sorts after '1/2/2024': read as times, the buy of 29 December comes first.
  const us = await dataset('us-dates', 'fills.csv', ['time,symbol,side,qty,price', '12/29/2023 3:55 PM,AAPL,BUY,10,185', '1/2/2024 9:35 AM,AAPL,SELL,10,186', '1/2/2024 10:00 AM,AAPL,BUY,5,186.5']);
  const a = await LocalSession.open(us, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(a);
  assertSame((await a.ask({ query: 'trades', params: { limit: 100 } })).rows, fifoRoundTrips([
    { run: 'default', symbol: 'AAPL', ts: ms('2023-12-29 15:55:00'), seq: 0, amount: 10, price: 185, fees: 0 },
    { run: 'default', symbol: 'AAPL', ts: ms('2024-01-02 09:35:00'), seq: 1, amount: -10, price: 186, fees: 0 },
    { run: 'default', symbol: 'AAPL', ts: ms('2024-01-02 10:00:00'), seq: 2, amount: 5, price: 186.5, fees: 0 },
  ]), 'month-first text times');
  const epoch = await dataset('epoch', 'executions.csv', ['filled_at,pair,amount,price', `${ms('2024-01-02 14:35:00')},BTCUSDT,0.5,42000`, `${ms('2024-01-03 08:00:00')},BTCUSDT,-0.5,41000`]);
  const b = await LocalSession.open(epoch, 1, { storeDir: path.join(tmp, 'stores') });
  sessions.push(b);
  assertSame((await b.ask({ query: 'trades', params: { limit: 100 } })).rows, fifoRoundTrips([
    { run: 'default', symbol: 'BTCUSDT', ts: ms('2024-01-02 14:35:00'), seq: 0, amount: 0.5, price: 42000, fees: 0 },
    { run: 'default', symbol: 'BTCUSDT', ts: ms('2024-01-03 08:00:00'), seq: 1, amount: -0.5, price: 41000, fees: 0 },
  ]), 'epoch milliseconds, signed amounts');
});

test('a time that is no time, and a side that is neither a buy nor a sell: refused, naming the column, the value and the sides read', async () => {
  const odd = await dataset('odd-time', 'fills.csv', ['time,symbol,side,qty,price', '2024-01-02 09:35:00,AAPL,BUY,10,185', 'yesterday,AAPL,SELL,10,186']);
  await assert.rejects(prepareDataset({ input: odd, storeDir: path.join(tmp, 'stores') }), (e: Error) => {
    assert.equal(e.name, 'PrepareError');
    assert.match(e.message, /list of fills .*fills\.csv: column 'time' holds 'yesterday', which is not a time \(ISO 8601, 01\/02\/2024 09:35/);
    return true;
  });
  const hold = await dataset('hold', 'fills.csv', ['time,symbol,side,qty,price', '2024-01-02 09:35:00,AAPL,BUY,10,185', '2024-01-02 10:00:00,AAPL,HOLD,10,186']);
  await assert.rejects(prepareDataset({ input: hold, storeDir: path.join(tmp, 'stores') }), (e: Error) => {
    assert.equal(e.name, 'PrepareError');
    assert.match(e.message, /1 fill\(s\) have no quantity, or a side that is not a buy \(BUY, B, BOT,.*\) or a sell \(SELL, S, SLD,/);
    return true;
  });
});
