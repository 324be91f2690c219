// A trades file as a spreadsheet or an in-house report writes it (server/prepare/text-dates.ts,
// expressions.ts spreadsheetNumberSql): money with currency signs, thousands separators and
// accounting negatives, decimal commas of a European locale, and dates month or day first,
// MetaTrader's year.month.day and Interactive Brokers' yyyymmdd. Prepared without hand-cleaning,
// served, and checked value by value against the text; a dataset of trades without fill prices
// is refused before any row is read, naming the columns to map.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../../fixtures/generate.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { META_TABLE, MetaKey } from '../../server/store/format.js';
import { testStoreDir } from '../support/datasets.js';
import { LocalSession } from '../support/local-session.js';

const scratch = path.join(repoRoot(), '.cache', 'test-spreadsheet-trades');
const sessions: LocalSession[] = [];

before(async () => {
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
});

after(async () => {
  for (const s of sessions) s.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A dataset folder holding `trades.csv` (and `tickscope.json` when given). */
async function dataset(name: string, csv: string, description?: object): Promise<string> {
  const dir = path.join(scratch, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'trades.csv'), csv);
  if (description) await writeFile(path.join(dir, 'tickscope.json'), JSON.stringify(description));
  return dir;
}

interface Trade {
  symbol: string;
  side: string;
  entry: string;
  exit: string;
  entry_price: number;
  exit_price: number;
  pnl: number;
}

/** The served trade list, oldest entry first, timestamps as ISO text (UTC). */
async function servedTrades(dir: string): Promise<{ s: LocalSession; trades: Trade[] }> {
  const s = await LocalSession.open(dir);
  sessions.push(s);
  const answer = await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 100 } });
  const iso = (ms: unknown) => new Date(Number(ms)).toISOString().replace('.000Z', '');
  const trades = answer.rows.map((r) => ({
    symbol: String(r.symbol),
    side: String(r.side),
    entry: iso(r.entry_ts),
    exit: iso(r.exit_ts),
    entry_price: Number(r.entry_price),
    exit_price: Number(r.exit_price),
    pnl: Number(r.pnl),
  }));
  return { s, trades };
}

/** How the store says its timestamps were read (the meta table's timezone note). */
async function timezoneNote(s: LocalSession): Promise<string> {
  const con = await s.store.instance.connect();
  try {
    const rows = (await con.runAndReadAll(`SELECT value FROM ${META_TABLE} WHERE key = '${MetaKey.timezoneNote}'`)).getRows();
    return String(rows[0]?.[0] ?? '');
  } finally {
    con.closeSync();
  }
}

const EXPECTED: Trade[] = [
  { symbol: 'AAPL', side: 'long', entry: '2024-01-02T09:35:00', exit: '2024-01-02T15:55:00', entry_price: 185.1, exit_price: 186.2, pnl: 1110 },
  { symbol: 'MSFT', side: 'short', entry: '2024-01-03T10:00:00', exit: '2024-01-04T11:00:00', entry_price: 370, exit_price: 365.5, pnl: 225 },
  { symbol: 'AAPL', side: 'long', entry: '2024-01-05T09:30:00', exit: '2024-01-18T10:00:00', entry_price: 1181, exit_price: 1183, pnl: -160 },
];

test('money as text ($, thousands, parentheses) and month-first dates with AM/PM: exact trades, exact P&L', async () => {
  const dir = await dataset(
    'us',
    [
      'Symbol,Direction,Entry Date,Exit Date,Shares,Entry,Exit,Profit',
      'AAPL,Long,01/02/2024 9:35 AM,01/02/2024 3:55 PM,100,$185.10,$186.20,"$1,110.00"',
      'MSFT,Short,01/03/2024 10:00 AM,01/04/2024 11:00 AM,50,$370.00,$365.50,$225.00',
      'AAPL,Long,01/05/2024 9:30 AM,01/18/2024 10:00 AM,80,"$1,181.00","$1,183.00",($160.00)',
      '',
    ].join('\n'),
    { trades: { entry_price: 'Entry', exit_price: 'Exit' } },
  );
  const { s, trades } = await servedTrades(dir);
  assert.deepEqual(trades, EXPECTED);
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  assert.equal(Number(summary.total_pnl), 1110 + 225 - 160, 'the P&L of the bars made from the trades is the trades’ own');
  assert.match(await timezoneNote(s), /Entry Date: text timestamps read as month\/day\/year \(a second number of 18: months come first\)/);
});

test('day-first dates are read day first when a day above 12 says so, or when the description says so', async () => {
  const rows = (date: (d: number, m: number) => string) =>
    [
      'symbol,side,entry_time,exit_time,qty,entry_price,exit_price,pnl',
      `AAPL,buy,${date(2, 1)} 09:35:00,${date(2, 1)} 15:55:00,100,185.1,186.2,1110`,
      `MSFT,sell,${date(3, 1)} 10:00:00,${date(4, 1)} 11:00:00,50,370,365.5,225`,
      `AAPL,buy,${date(5, 1)} 09:30:00,${date(18, 1)} 10:00:00,80,1181,1183,-160`,
      '',
    ].join('\n');
  const pad = (n: number) => String(n).padStart(2, '0');
  const told = await servedTrades(await dataset('dmy-data', rows((d, m) => `${pad(d)}.${pad(m)}.2024`)));
  assert.deepEqual(told.trades, EXPECTED, 'dd.mm.yyyy, a day of 18');
  assert.match(await timezoneNote(told.s), /day\/month\/year \(a first number of 18: days come first\)/);
  // Without the 18th, nothing in the data tells: the description does.
  const early = EXPECTED.map((t, i) => (i === 2 ? { ...t, exit: '2024-01-08T10:00:00' } : t));
  const stated = await servedTrades(await dataset('dmy-stated', rows((d, m) => `${d === 18 ? 8 : d}/${m}/2024`), { dateOrder: 'dmy' }));
  assert.deepEqual(stated.trades, early, 'd/m/yyyy, dateOrder dmy');
  const unstated = await servedTrades(await dataset('dmy-unstated', rows((d, m) => `${d === 18 ? 8 : d}/${m}/2024`)));
  assert.equal(unstated.trades[0]!.entry, '2024-02-01T09:35:00', 'without a day above 12 or a dateOrder, month first');
  // Dates with dots are day first wherever they are written so.
  const dotted = await dataset('dmy-dots', rows((d, m) => `${pad(d === 18 ? 8 : d)}.${pad(m)}.2024`));
  const report = await inspectDataset({ inputs: [dotted] });
  const entry = report.tables.find((t) => t.table === 'trades')!.columns.find((c) => c.canonical === 'entry_ts')!;
  assert.match(entry.reading ?? '', /^day\/month\/year \(no number above 12 tells; dates with dots are day first/, 'inspect says how the dates will be read');
  assert.deepEqual((await servedTrades(dotted)).trades, early, 'dd.mm.yyyy without a day above 12: day first');
});

test('a semicolon-separated export from a European locale: decimal commas, dots between thousands, day-first dates', async () => {
  const dir = await dataset(
    'eu',
    [
      'Symbol;Side;Entry Time;Exit Time;Qty;Entry Price;Exit Price;PnL',
      'AAPL;Long;02.01.2024 09:35;02.01.2024 15:55;100;185,10;186,20;1.110,00',
      'MSFT;Short;03.01.2024 10:00;04.01.2024 11:00;50;370,00;365,50;225,00',
      'AAPL;Long;05.01.2024 09:30;18.01.2024 10:00;80;1.181,00;1.183,00;-160,00',
      '',
    ].join('\n'),
  );
  assert.deepEqual((await servedTrades(dir)).trades, EXPECTED);
});

test("MetaTrader's year.month.day and Interactive Brokers' yyyymmdd", async () => {
  const rows = (date: (d: number) => string) =>
    [
      'symbol,side,entry_time,exit_time,qty,entry_price,exit_price,pnl',
      `AAPL,buy,${date(2)} 09:35:00,${date(2)} 15:55:00,100,185.1,186.2,1110`,
      `MSFT,sell,${date(3)} 10:00:00,${date(4)} 11:00:00,50,370,365.5,225`,
      `AAPL,buy,${date(5)} 09:30:00,${date(18)} 10:00:00,80,1181,1183,-160`,
      '',
    ].join('\n');
  const pad = (n: number) => String(n).padStart(2, '0');
  assert.deepEqual((await servedTrades(await dataset('mt', rows((d) => `2024.01.${pad(d)}`)))).trades, EXPECTED, 'yyyy.mm.dd');
  assert.deepEqual((await servedTrades(await dataset('ib', rows((d) => `202401${pad(d)}`)))).trades, EXPECTED, 'yyyymmdd');
});

test('a value that is still not a number fails, naming the column and the value', async () => {
  const dir = await dataset('garbage', 'symbol,side,entry_time,exit_time,qty,entry_price,exit_price,pnl\nAAPL,buy,2024-01-02 09:35:00,2024-01-02 15:55:00,100,185.1,186.2,"1.110,00"\n');
  await assert.rejects(prepareDataset({ input: dir, storeDir: testStoreDir() }), (error: Error) => {
    assert.match(error.message, /trades\.csv\): .*column 'pnl': '1\.110,00' is not a number/);
    return true;
  });
});

test('trades alone without fill prices: refused before any row is read, by inspect too, naming the columns to map', async () => {
  const dir = await dataset('no-prices', 'Symbol,Side,Entry Time,Exit Time,Qty,Entry,Exit,P&L\nAAPL,BUY,2024-01-02 09:35:00,2024-01-02 15:55:00,100,185.1,186.2,110\n');
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, false);
  const [problem] = report.problems;
  assert.deepEqual(problem?.canonical, ['entry_price', 'exit_price']);
  assert.match(problem!.message, /no bars in the input, so the bars are made from the trades' entry and exit fills/);
  await assert.rejects(prepareDataset({ input: dir, storeDir: testStoreDir() }), (error: Error) => {
    assert.match(error.message, /"trades": \{ "entry_price": "<your column>", "exit_price": "<your column>" \}/);
    // Its lines are the message's own: the description's place is on a line of its own.
    assert.match(error.message, /\n\(the dataset description is .*tickscope\.json, not written yet\)$/);
    return true;
  });
});
