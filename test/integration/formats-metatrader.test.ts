// MetaTrader's lists of closed positions and of deals (fixtures/formats/metatrader.ts: MetaTrader
// 5's report with Time and Price twice, MetaTrader 4's statement with balance rows and a pending
// order, MetaTrader 5's deals with a deposit),
// prepared without a mapping and served: every trade against the tiny fixture's trades they were
// written from, P&L net of Commission, Swap and Taxes as MetaTrader's Total Net Profit is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { metatraderFixture, type MetaTraderFixture } from '../../fixtures/formats/metatrader.js';
import { writeXlsx } from '../../fixtures/formats/workbooks.js';
import { decodeReport, reportRows } from '../../server/prepare/html-reports.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { LocalSession } from '../support/local-session.js';
import { near } from '../support/checks.js';
import { testStoreDir } from '../support/datasets.js';

let fx: MetaTraderFixture;
const sessions: LocalSession[] = [];
const tempDirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-mt-'));
  tempDirs.push(dir);
  return dir;
}

before(async () => {
  fx = await metatraderFixture();
});

after(async () => {
  for (const s of sessions) s.close();
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function servedTrades(dir: string) {
  const s = await LocalSession.open(dir);
  sessions.push(s);
  const rows = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 10_000 } })).rows;
  return { s, rows: [...rows].sort((a, b) => Number(a.entry_ts) - Number(b.entry_ts) || String(a.symbol).localeCompare(String(b.symbol))) };
}

function checkTrades(rows: Record<string, unknown>[], fx: MetaTraderFixture, ticketOffset: number | null): void {
  const want = [...fx.trades].sort((a, b) => a.entryMs - b.entryMs || a.symbol.localeCompare(b.symbol));
  assert.equal(rows.length, want.length, 'every buy and sell row is a trade, nothing else is');
  for (const [i, t] of rows.entries()) {
    const w = want[i]!;
    const what = `${w.symbol} trade ${w.tradeId}`;
    if (ticketOffset !== null) assert.equal(Number(t.trade_id), w.tradeId + ticketOffset, `${what}: the ticket is its number`);
    assert.equal(String(t.symbol), w.symbol, what);
    assert.equal(String(t.side), w.side, `${what}: side from Type`);
    assert.equal(Number(t.entry_ts), w.entryMs, `${what}: entry, the first Time`);
    assert.equal(Number(t.exit_ts), w.exitMs, `${what}: exit, the second Time`);
    near(Number(t.qty), w.qty, `${what}: qty, the volume`);
    near(Number(t.entry_price), w.entryPrice, `${what}: entry price, the first Price`);
    near(Number(t.exit_price), w.exitPrice, `${what}: exit price, the second Price`);
    near(Number(t.pnl), w.pnl, `${what}: P&L, Profit net of Commission, Swap and Taxes`);
    near(Number(t.fees), w.fees - w.taxes, `${what}: fees, the commission and taxes charged`);
    const gross = w.pnl + w.fees - w.taxes;
    const move = (w.side === 'short' ? -1 : 1) * (w.exitPrice / w.entryPrice - 1);
    near(Number(t.ret), gross !== 0 ? (move * w.pnl) / gross : move, `${what}: return, the price move scaled to net`);
  }
}

test("MetaTrader 5's positions: Time and Price twice, P&L net of costs, the tickets as trade numbers", async () => {
  const report = await inspectDataset({ inputs: [fx.mt5Dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.deepEqual(report.formats.map((f) => f.summary), [`MetaTrader list of positions: ${path.join(fx.mt5Dir, 'positions.csv')}`]);
  const columns = report.formats[0]!.files[0]!.columns;
  assert.equal(columns.exit_ts, "Time_1 (the trade server's clock)");
  assert.equal(columns.pnl, "Profit + Commission + Swap (net, as MetaTrader's Total Net Profit sums it)");

  const { s, rows } = await servedTrades(fx.mt5Dir);
  checkTrades(rows, fx, 0);
  assert.equal(rows.filter((t) => t.tag === 'sl').length, fx.trades.filter((t) => t.pnl < 0).length, 'the comment is the tag');
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  near(Number(summary.total_pnl), fx.trades.reduce((n, t) => n + t.pnl, 0), "total P&L: MetaTrader's Total Net Profit", 1e-9);
});

test("MetaTrader 4's statement: the deposit is the capital; later money moved and a pending order are not P&L", async () => {
  const { s, rows } = await servedTrades(fx.mt4Dir);
  checkTrades(rows, fx, 100);
  const runs = [...s.store.catalog.runs.values()];
  assert.deepEqual(runs.map((r) => [r.runId, r.capital]), [['default', fx.deposit]], 'capital: the balance row before the first trade ("100 000.00")');
  const con = await s.store.instance.connect();
  try {
    const meta = (await con.runAndReadAll(`SELECT value FROM meta WHERE key = 'formats'`)).getRowsJson()[0]?.[0];
    const { sources } = JSON.parse(String(meta)) as { sources: string[] };
    assert.ok(sources.includes('MetaTrader list of positions: capital: the balance and credit rows up to the first trade'), sources.join('; '));
    assert.ok(sources.includes('MetaTrader list of positions: 1 balance or credit row(s) after the first trade: deposits and withdrawals, not P&L, left out'), sources.join('; '));
  } finally {
    con.closeSync();
  }
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  near(Number(summary.total_pnl), fx.trades.reduce((n, t) => n + t.pnl, 0), 'total P&L: the trades alone, not the withdrawal', 1e-9);
});

test("MetaTrader 5's positions as a European locale saves them (semicolons, decimal commas, spaces between thousands) and as copied (tabs, either locale)", async () => {
  const header = ['Time', 'Position', 'Symbol', 'Type', 'Volume', 'Price', 'S / L', 'T / P', 'Time', 'Price', 'Commission', 'Swap', 'Profit', 'Comment'];
  const rows = [
    ['2024.01.02 09:35:00', '1001', 'EURUSD', 'buy', '0.10', '1.10120', '1.09900', '1.10500', '2024.01.02 15:55:00', '1.10340', '-0.70', '0.00', '22.00', ''],
    ['2024.01.03 10:00:00', '1002', 'GBPUSD', 'sell', '0.20', '1.27010', '', '', '2024.01.04 11:00:00', '1.26500', '-1.40', '-0.85', '1 102.00', 'tp'],
  ];
  const eu = await tempDir();
  const tabs = await tempDir();
  const euTabs = await tempDir();
  const european = rows.map((r) => r.map((v) => v.replace('.', ',').replace(/^(\d{4}),(\d\d\.\d\d)/, '$1.$2')));
  await writeFile(path.join(eu, 'positions.csv'), [header, ...european].map((r) => r.join(';')).join('\r\n'));
  await writeFile(path.join(tabs, 'positions.tsv'), [header, ...rows].map((r) => r.join('\t')).join('\n'));
  await writeFile(path.join(euTabs, 'positions.tsv'), [header, ...european].map((r) => r.join('\t')).join('\n'));
  for (const dir of [eu, tabs, euTabs]) {
    const { rows: trades } = await servedTrades(dir);
    assert.deepEqual(
      trades.map((t) => [t.symbol, t.side, Number(t.qty), Number(t.entry_price), Number(t.exit_price), Number(t.fees), Math.round(Number(t.pnl) * 100) / 100]),
      [
        ['EURUSD', 'long', 0.1, 1.1012, 1.1034, 0.7, 21.3],
        ['GBPUSD', 'short', 0.2, 1.2701, 1.265, 1.4, 1099.75],
      ],
      dir,
    );
  }
});

test("MetaTrader 5's positions beside a runs file of the user's own: its name and capital are the run's", async () => {
  const dir = await tempDir();
  await copyFile(path.join(fx.mt5Dir, 'positions.csv'), path.join(dir, 'positions.csv'));
  await writeFile(path.join(dir, 'runs.csv'), 'run_id,name,capital\ndefault,EA on EURUSD,50000\n');
  const s = await LocalSession.open(dir);
  sessions.push(s);
  assert.deepEqual([...s.store.catalog.runs.values()].map((r) => [r.runId, r.name, r.capital]), [['default', 'EA on EURUSD', 50_000]]);
});

test("MetaTrader 5's deals: FIFO round trips whose P&L is the closing deal's Profit + Swap less the commissions, the deposit the capital", async () => {
  const report = await inspectDataset({ inputs: [fx.dealsDir] });
  assert.deepEqual(report.formats.map((f) => f.summary), [`MetaTrader list of deals: ${path.join(fx.dealsDir, 'deals.csv')}`]);
  const { s, rows } = await servedTrades(fx.dealsDir);
  checkTrades(rows, fx, null);
  assert.deepEqual([...s.store.catalog.runs.values()].map((r) => [r.runId, r.capital]), [['default', fx.deposit]]);
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  near(Number(summary.total_pnl), fx.trades.reduce((n, t) => n + t.pnl, 0), 'total P&L: the last Balance less the deposit', 1e-9);
});

test("MetaTrader 5's Strategy Tester report as it writes it (UTF-16 HTML): its Deals table is read, its Orders and summary are not", async () => {
  const report = path.join(fx.reportDir, 'ReportTester-12345.html');
  const inspected = await inspectDataset({ inputs: [fx.reportDir] });
  assert.equal(inspected.ready, true, JSON.stringify(inspected.problems));
  assert.deepEqual(inspected.formats.map((f) => f.summary), [`MetaTrader list of deals: ${report}!Deals.csv`]);
  const orders = inspected.files.find((f) => f.path === `${report}!Orders.csv`);
  assert.equal(orders?.recognisedAs, "nothing: a report's table no format recognises");
  const { s, rows } = await servedTrades(fx.reportDir);
  checkTrades(rows, fx, null);
  assert.deepEqual([...s.store.catalog.runs.values()].map((r) => [r.runId, r.capital]), [['default', fx.deposit]], 'the deposit ("100 000.00") is the capital');
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  near(Number(summary.total_pnl), fx.trades.reduce((n, t) => n + t.pnl, 0), "total P&L: the report's Total Net Profit", 1e-9);
});

test("MetaTrader 5's report saved as an Excel workbook: its one sheet read as the HTML report is, the same trades", async () => {
  // The HTML report's rows in one sheet, as MetaTrader's "Open XML" report lays them: titles, the
  // heading's label/value rows, each list under its title; amounts as numbers, times as its text.
  const rows = reportRows(decodeReport(await readFile(path.join(fx.reportDir, 'ReportTester-12345.html'))));
  const cells = rows.map((r) => r.map((c) => (c === '' ? null : /^-?[\d ]+(\.\d+)?$/.test(c) && /\d/.test(c) ? Number(c.replace(/ /g, '')) : c)));
  const dir = await tempDir();
  await writeXlsx(path.join(dir, 'ReportTester-12345.xlsx'), [{ name: 'Sheet1', rows: cells }]);
  const inspected = await inspectDataset({ inputs: [dir] });
  assert.equal(inspected.ready, true, JSON.stringify(inspected.problems));
  assert.deepEqual(inspected.formats.map((f) => f.summary), [`MetaTrader list of deals: ${path.join(dir, 'ReportTester-12345.xlsx')}!Deals.csv`]);
  const { s, rows: trades } = await servedTrades(dir);
  checkTrades(trades, fx, null);
  assert.deepEqual([...s.store.catalog.runs.values()].map((r) => [r.runId, r.capital]), [['default', fx.deposit]]);
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  near(Number(summary.total_pnl), fx.trades.reduce((n, t) => n + t.pnl, 0), "total P&L: the report's Total Net Profit", 1e-9);
});

test('two Strategy Tester reports in sibling folders: a run each, named after its folder', async () => {
  const dir = await tempDir();
  for (const run of ['fast', 'slow']) {
    await mkdir(path.join(dir, run));
    await copyFile(path.join(fx.reportDir, 'ReportTester-12345.html'), path.join(dir, run, 'ReportTester-12345.html'));
  }
  const s = await LocalSession.open(dir);
  sessions.push(s);
  assert.deepEqual([...s.store.catalog.runs.keys()].sort(), ['fast', 'slow']);
  const total = fx.trades.reduce((n, t) => n + t.pnl, 0);
  for (const run of ['fast', 'slow']) {
    const summary = (await s.ask({ query: 'summary', params: { runs: [run] } })).rows[0]!;
    near(Number(summary.total_pnl), total, `${run}: its report's Total Net Profit`, 1e-9);
  }
});

test("MetaTrader 4's Strategy Tester report: an order's opening and closing rows are a trade, its P&L the Balance the close made", async () => {
  const report = path.join(fx.tester4Dir, 'StrategyTester.htm');
  const inspected = await inspectDataset({ inputs: [fx.tester4Dir] });
  assert.equal(inspected.ready, true, JSON.stringify(inspected.problems));
  assert.deepEqual(inspected.formats.map((f) => f.summary), [`MetaTrader 4 Strategy Tester report: ${report}!table 1.csv`]);
  const { s, rows } = await servedTrades(fx.tester4Dir);
  const want = fx.trades.filter((t) => t.symbol === fx.tester4Symbol);
  assert.equal(rows.length, want.length, 'a trade per order');
  for (const [i, t] of rows.entries()) {
    const w = want[i]!;
    const what = `order ${i + 1}`;
    assert.equal(String(t.symbol), fx.tester4Symbol, `${what}: the symbol is the report heading's`);
    assert.equal(String(t.side), w.side, `${what}: side`);
    assert.equal(Number(t.entry_ts), w.entryMs, `${what}: entry`);
    assert.equal(Number(t.exit_ts), w.exitMs, `${what}: exit`);
    near(Number(t.qty), w.qty, `${what}: qty`);
    near(Number(t.entry_price), w.entryPrice, `${what}: entry price`);
    near(Number(t.exit_price), w.exitPrice, `${what}: exit price`);
    near(Number(t.pnl), w.pnl, `${what}: P&L, the close's Profit`);
    assert.equal(t.tag === null ? null : String(t.tag), w.pnl > 0 ? 't/p' : null, `${what}: a take-profit close is tagged`);
  }
  assert.deepEqual([...s.store.catalog.runs.values()].map((r) => [r.runId, r.capital]), [['default', fx.deposit]], 'the first Balance is the capital');
});

test("a MetaTrader 4 tester list whose Balance does not follow its Profit is refused, naming the order", async () => {
  const dir = await tempDir();
  await writeFile(
    path.join(dir, 'StrategyTester.csv'),
    [
      '#,Time,Type,Order,Size,Price,S / L,T / P,Profit,Balance',
      '1,2024.01.02 09:35,buy,1,0.10,1.10120,0.00000,0.00000,,10000.00',
      '2,2024.01.02 15:55,close,1,0.10,1.10340,,,22.00,10022.00',
      '3,2024.01.03 10:00,sell,2,0.20,1.27010,0.00000,0.00000,,10022.00',
      '4,2024.01.04 11:00,t/p,2,0.20,1.26500,,,102.00,10200.00',
      '',
    ].join('\n'),
  );
  await assert.rejects(prepareDataset({ input: dir, storeDir: testStoreDir() }), (error: Error) => {
    assert.match(error.message, /MetaTrader 4 Strategy Tester report .*StrategyTester\.csv: the close of order 2 at .* has Profit 102 but changed the Balance by 178/);
    return true;
  });
});

test("deals of a hedging account (an `in` against the position held) are refused, naming the deal and what to give instead", async () => {
  const dir = await tempDir();
  await writeFile(
    path.join(dir, 'deals.csv'),
    [
      'Time,Deal,Symbol,Type,Direction,Volume,Price,Order,Commission,Swap,Profit,Balance,Comment',
      '2024.01.02 09:35:00,2,EURUSD,buy,in,0.10,1.10120,2,-0.35,0.00,0.00,9999.65,',
      '2024.01.02 10:00:00,3,EURUSD,sell,in,0.10,1.10200,3,-0.35,0.00,0.00,9999.30,',
      '2024.01.02 15:55:00,4,EURUSD,sell,out,0.10,1.10340,4,-0.35,0.00,22.00,10020.95,',
      '',
    ].join('\n'),
  );
  await assert.rejects(prepareDataset({ input: dir, storeDir: testStoreDir() }), (error: Error) => {
    assert.match(error.message, /MetaTrader list of deals .*deals\.csv: deal 3 of EURUSD at 2024[-.]01[-.]02 10:00:00 \(Direction in\) does not match .* hedging account.*give the report's Positions table instead/);
    return true;
  });
});

test('a row with money whose type is neither a position nor money moved is refused, naming the file and the type', async () => {
  const dir = await tempDir();
  await writeFile(
    path.join(dir, 'positions.csv'),
    [
      'Time,Position,Symbol,Type,Volume,Price,S / L,T / P,Time,Price,Commission,Swap,Profit',
      '2024.01.02 09:35:00,1,EURUSD,buy,0.10,1.10120,,,2024.01.02 15:55:00,1.10340,-0.70,0.00,22.00',
      '2024.01.03 10:00:00,2,,correction,,,,,,,0.00,0.00,15.00',
      '',
    ].join('\n'),
  );
  await assert.rejects(prepareDataset({ input: dir, storeDir: testStoreDir() }), (error: Error) => {
    assert.match(error.message, /MetaTrader list of positions .*positions\.csv: 1 row\(s\) with money but a Type that is neither buy, sell, balance nor credit \(one: 'correction' with Profit 15\)/);
    return true;
  });
});

test("what is not a list of positions is not taken for one: a deals list, a trade list with Profit and Commission but no Swap", async () => {
  const dir = await tempDir();
  const deals = path.join(dir, 'deals');
  const ninja = path.join(dir, 'ninja');
  await Promise.all([mkdir(deals), mkdir(ninja)]);
  await writeFile(
    path.join(deals, 'deals.csv'),
    [
      'Time,Deal,Symbol,Type,Direction,Volume,Price,Order,Commission,Swap,Profit,Balance,Comment',
      '2024.01.02 00:00:00,1,,balance,,,,,0.00,0.00,10000.00,10000.00,',
      '2024.01.02 09:35:00,2,EURUSD,buy,in,0.10,1.10120,2,-0.35,0.00,0.00,9999.65,',
      '2024.01.02 15:55:00,3,EURUSD,sell,out,0.10,1.10340,3,-0.35,0.00,22.00,10021.30,',
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(ninja, 'trades.csv'),
    ['Instrument,Market pos.,Quantity,Entry price,Exit price,Entry time,Exit time,Profit,Commission', 'ES 03-24,Long,1,4750.25,4755.50,1/2/2024 9:35:00 AM,1/2/2024 3:55:00 PM,258.46,4.04', ''].join('\n'),
  );
  const dealsReport = await inspectDataset({ inputs: [deals] });
  assert.deepEqual(dealsReport.formats.map((f) => f.summary), [`MetaTrader list of deals: ${path.join(deals, 'deals.csv')}`], 'a deals list is its own format');
  const ninjaReport = await inspectDataset({ inputs: [ninja] });
  assert.deepEqual(ninjaReport.formats, [], 'read the canonical way');
  assert.equal(ninjaReport.ready, true, JSON.stringify(ninjaReport.problems));
});
