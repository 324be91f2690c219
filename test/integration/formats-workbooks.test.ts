// Backtests saved as Excel workbooks (fixtures/formats/workbooks.ts): TradingView's workbook
// export, pyfolio's frames as sheets of one workbook, a CSV tree with every file a workbook. Each
// is made from a fixture whose CSV reading has tests of its own against independent computations,
// so the workbook must give the very same answers as the CSV files it holds: value for value,
// exactly (the numbers are the same doubles; the times the same to the millisecond).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { metatraderFixture } from '../../fixtures/formats/metatrader.js';
import { TRADINGVIEW_CAPITALS, workbookFixtures, writeXlsx, type WorkbookFixtures } from '../../fixtures/formats/workbooks.js';
import { writeZip } from '../../fixtures/formats/zip.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { LocalSession, type Ask } from '../support/local-session.js';
import { near } from '../support/checks.js';

let fx: WorkbookFixtures;
const sessions: LocalSession[] = [];

before(async () => {
  fx = await workbookFixtures();
});

after(() => {
  for (const s of sessions) s.close();
});

async function open(dir: string): Promise<LocalSession> {
  const s = await LocalSession.open(dir);
  sessions.push(s);
  return s;
}

/** The answers of both datasets to the same requests: the same rows (in any order: ties of a sort may fall either way). */
async function assertSameAnswers(workbooks: LocalSession, csv: LocalSession, requests: readonly Ask[]): Promise<void> {
  const rowsOf = (rows: readonly Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();
  for (const request of requests) {
    const [got, want] = await Promise.all([workbooks.ask(request), csv.ask(request)]);
    assert.ok(want.rows.length > 0, `${request.query} ${JSON.stringify(request.params)}: the CSV dataset answers something`);
    assert.deepEqual(rowsOf(got.rows), rowsOf(want.rows), `${request.query} ${JSON.stringify(request.params)}`);
  }
}

const TRADES: Ask = { query: 'trades', params: { limit: 10_000, sort: { column: 'entry_ts', descending: false } } };

test('TradingView workbook exports: the List of trades sheet read as its CSV export, the symbol from the workbook’s name, other sheets left out', async () => {
  const report = await inspectDataset({ inputs: [fx.tradingview.dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  const tv = report.formats.find((f) => f.summary.startsWith('TradingView list of trades'));
  assert.ok(tv, JSON.stringify(report.formats.map((f) => f.summary)));
  for (const f of tv.files) assert.match(f.path, /\.xlsx!List of trades\.csv$/, 'the sheet, named by its workbook');
  assert.deepEqual(tv.files.map((f) => path.basename(f.path).split('_')[3]).sort(), [...fx.tradingview.symbols].sort(), 'the symbols from the workbooks’ names');
  const others = report.files.filter((f) => !/List of trades|Properties/.test(f.path));
  assert.deepEqual(new Set(others.map((f) => f.path.replace(/^.*\.xlsx!/, ''))), new Set(['Performance.csv', 'Trades analysis.csv']));
  for (const f of others) assert.match(f.recognisedAs, /^nothing: a workbook's sheet/, `${f.path} is left out, and said so`);
  for (const f of report.files.filter((f) => /Properties/.test(f.path))) assert.equal(f.recognisedAs, 'TradingView list of trades', 'the Properties sheet is read for the capital');

  const [workbooks, csv] = await Promise.all([open(fx.tradingview.dir), open(fx.tradingview.csvDir)]);
  await assertSameAnswers(workbooks, csv, [TRADES]);
  // The workbooks state the capital the CSV exports lack: the run's is both exports' Initial capital.
  const capital = TRADINGVIEW_CAPITALS[0] + TRADINGVIEW_CAPITALS[1];
  assert.deepEqual([...workbooks.store.catalog.runs.values()].map((r) => [r.runId, r.capital]), [['default', capital]]);
  const bySymbol = (await workbooks.ask({ query: 'breakdown', params: { by: 'symbol', limit: 100 } })).rows;
  const bySymbolCsv = (await csv.ask({ query: 'breakdown', params: { by: 'symbol', limit: 100 } })).rows;
  assert.deepEqual(bySymbol.map(({ contribution: _, ...r }) => r), bySymbolCsv.map(({ contribution: _, ...r }) => r));
  for (const r of bySymbol) near(Number(r.contribution), Number(r.pnl) / capital, `${String(r.key)}: contribution over the stated capital`);
  assert.deepEqual([...csv.store.catalog.runs.values()].map((r) => [r.runId, r.capital]), [['default', null]]);
  const [withCapital, without] = await Promise.all([workbooks.ask({ query: 'summary', params: {} }), csv.ask({ query: 'summary', params: {} })]);
  assert.equal(withCapital.rows[0]!.total_pnl, without.rows[0]!.total_pnl);
  assert.ok(Number.isFinite(Number(withCapital.rows[0]!.sharpe)), `a Sharpe ratio over the stated capital: ${JSON.stringify(withCapital.rows[0])}`);
});

test('workbooks and an HTML report shared in a zip are read as they are: the same trades, the capital, the files named inside the archive', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-zipped-reports-'));
  try {
    const zipOf = async (dir: string, name: string) => {
      const into = path.join(tmp, name);
      await mkdir(into);
      const files = await readdir(dir);
      await writeZip(path.join(into, 'shared.zip'), await Promise.all(files.map(async (f) => ({ name: `export/${f}`, data: await readFile(path.join(dir, f)) }))));
      return into;
    };
    const tvZip = await zipOf(fx.tradingview.dir, 'tradingview');
    const report = await inspectDataset({ inputs: [tvZip] });
    assert.equal(report.ready, true, JSON.stringify(report.problems));
    assert.equal(report.notRead ?? null, null, 'everything in the archive was read');
    const tv = report.formats.find((f) => f.summary.startsWith('TradingView list of trades'));
    assert.ok(tv, JSON.stringify(report.formats.map((f) => f.summary)));
    for (const f of tv.files) assert.match(f.path, /\/shared\.zip!export\/Tickscope_demo_\w+_S\d+_2024-01-16\.xlsx!List of trades\.csv$/, 'the sheet, named by its workbook inside the archive');
    const [zipped, workbooks] = await Promise.all([open(tvZip), open(fx.tradingview.dir)]);
    await assertSameAnswers(zipped, workbooks, [TRADES]);
    assert.deepEqual([...zipped.store.catalog.runs.values()].map((r) => [r.runId, r.capital]), [['default', TRADINGVIEW_CAPITALS[0] + TRADINGVIEW_CAPITALS[1]]], 'the Properties sheets read');

    // A workbook in the archive that is not one (saved as .xls and renamed, say) is left out and named; the rest is read.
    const withBroken = path.join(tmp, 'with-broken');
    await mkdir(withBroken);
    const members = await Promise.all((await readdir(fx.tradingview.dir)).map(async (f) => ({ name: f, data: await readFile(path.join(fx.tradingview.dir, f)) })));
    await writeZip(path.join(withBroken, 'shared.zip'), [...members, { name: 'notes/broken.xlsx', data: 'not a workbook' }]);
    const partly = await inspectDataset({ inputs: [withBroken] });
    assert.equal(partly.ready, true, JSON.stringify(partly.problems));
    assert.match(partly.notRead ?? '', /^not read: .*shared\.zip!notes\/broken\.xlsx \(cannot be read as an Excel workbook: /);

    const mt = await metatraderFixture();
    const [zippedReport, htmlReport] = await Promise.all([open(await zipOf(mt.reportDir, 'metatrader')), open(mt.reportDir)]);
    await assertSameAnswers(zippedReport, htmlReport, [TRADES, { query: 'summary', params: {} }]);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('pyfolio’s frames as sheets of one workbook (returns, positions, transactions): the same P&L, positions and round trips as the CSV frames', async () => {
  const [workbooks, csv] = await Promise.all([open(fx.pyfolio.dir), open(fx.pyfolio.csvDir)]);
  await assertSameAnswers(workbooks, csv, [TRADES, { query: 'summary', params: {} }, { query: 'breakdown', params: { by: 'symbol', limit: 100 } }]);
});

test('a CSV tree saved as workbooks of one sheet (hive folders, the 1904 date system): each read as the file of its name, the same store', async () => {
  const report = await inspectDataset({ inputs: [fx.csv.dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  const tables = Object.fromEntries(report.tables.map((t) => [t.table, t]));
  assert.ok(tables.bars && tables.trades && tables.symbols, `bars, trades and symbols from bars/, trades.xlsx and symbols.xlsx: ${JSON.stringify(report.tables.map((t) => t.table))}`);
  const [workbooks, csv] = await Promise.all([open(fx.csv.dir), open(fx.csv.csvDir)]);
  await assertSameAnswers(workbooks, csv, [
    TRADES,
    { query: 'summary', params: {} },
    { query: 'breakdown', params: { by: 'sector', limit: 100 } },
    { query: 'breakdown', params: { by: 'run', limit: 100 } },
    { query: 'breakdown', params: { by: 'symbol', limit: 10_000 } },
  ]);
});

test('a workbook that cannot be read, or with a value under no column name, is refused naming the workbook and the cell', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-workbooks-'));
  try {
    await writeFile(path.join(dir, 'trades.xlsx'), 'not a zip');
    await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(dir, 'store') }), (err: Error) => {
      assert.match(err.message, /trades\.xlsx cannot be read as an Excel workbook/);
      assert.match(err.message, /password|\.xls/);
      return true;
    });
    await writeXlsx(path.join(dir, 'trades.xlsx'), [{ name: 'Sheet1', rows: [['symbol', 'pnl'], ['AAPL', 1, 'stray']] }]);
    await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(dir, 'store') }), (err: Error) => {
      assert.match(err.message, /trades\.xlsx/);
      assert.match(err.message, /sheet 'Sheet1': cell C2 holds a value beyond the last named column \(B\)/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
