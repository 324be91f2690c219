// Portfolio-only backtests (fixtures/formats/portfolio.ts): a returns series and an equity curve,
// prepared without a mapping, served through the session's path, against the raw series: total
// P&L, the capital base and where it came from, monthly P&L of the heatmap, and the Sharpe ratio
// of the series (empyrical's: mean / sample sd x sqrt(252)).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pyfolioFixture } from '../../fixtures/formats/pyfolio.js';
import { EQUITY_START, portfolioFixtures } from '../../fixtures/formats/portfolio.js';
import { PORTFOLIO_SYMBOL } from '../../server/prepare/formats/portfolio.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { mem } from '../support/duckdb.js';
import { LocalSession } from '../support/local-session.js';
import { near } from '../support/checks.js';

let fx: { returnsDir: string; equityDir: string };
const sessions: LocalSession[] = [];

before(async () => {
  fx = await portfolioFixtures();
});

after(() => {
  for (const s of sessions) s.close();
});

/** Within a relative 1e-6 unless told (the tools' own numbers went through text). */
const assertNear = (got: number, want: number, what: string, tolerance = 1e-6): void => near(got, want, what, tolerance);

function sharpe(daily: readonly number[]): number {
  const m = daily.reduce((a, b) => a + b, 0) / daily.length;
  const sd = Math.sqrt(daily.reduce((a, b) => a + (b - m) ** 2, 0) / (daily.length - 1));
  return (m / sd) * Math.sqrt(252);
}

/** Monthly sums of a daily series keyed 'YYYY-MM'. */
function monthly(rows: readonly { month: string; pnl: number }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) out.set(r.month, (out.get(r.month) ?? 0) + r.pnl);
  return out;
}

async function checkHeatmap(s: LocalSession, want: Map<string, number>, what: string): Promise<void> {
  const heatmap = await s.ask({ query: 'heatmap', params: {} });
  assert.equal(heatmap.rows.length, want.size, `${what}: months`);
  for (const r of heatmap.rows) {
    const key = `${String(r.year)}-${String(r.month).padStart(2, '0')}`;
    assertNear(Number(r.pnl), want.get(key)!, `${what}: P&L of ${key}`);
  }
}

test('a returns series alone: P&L in units of capital 1, the series’ own Sharpe ratio, monthly heatmap', async () => {
  const raw = await mem((q) => q(`SELECT strftime(__index_level_0__, '%Y-%m') AS month, returns FROM read_parquet('${path.join(fx.returnsDir, 'returns.parquet')}') ORDER BY __index_level_0__`));
  const r = raw.map((x) => Number(x.returns));
  const s = await LocalSession.open(fx.returnsDir);
  sessions.push(s);
  const run = s.store.catalog.runs.get('default')!;
  assert.equal(run.capital, 1, 'returns alone: capital 1');
  assert.deepEqual(s.store.schema.bars, { origin: 'portfolio', period: 'day' }, 'the hello says the bars are one daily portfolio series');
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  assertNear(Number(summary.total_pnl), r.reduce((a, b) => a + b, 0), 'total P&L');
  assertNear(Number(summary.sharpe), sharpe(r), 'Sharpe ratio', 1e-8);
  await checkHeatmap(s, monthly(raw.map((x) => ({ month: String(x.month), pnl: Number(x.returns) }))), 'returns');
  const bySymbol = await s.ask({ query: 'breakdown', params: { by: 'symbol', limit: 10 } });
  assert.deepEqual(bySymbol.rows.map((x) => x.key), [PORTFOLIO_SYMBOL], 'one pseudo-symbol');
  const trades = await s.ask({ query: 'trades', params: { limit: 10 } });
  assert.equal(trades.rows.length, 0, 'no trades');
});

test('an equity curve in CSV: capital is its first value, P&L its changes', async () => {
  const raw = await mem((q) => q(`SELECT strftime("Date"::DATE, '%Y-%m') AS month, "Equity"::DOUBLE AS equity FROM read_csv('${path.join(fx.equityDir, 'equity.csv')}') ORDER BY "Date"`));
  const eq = raw.map((x) => Number(x.equity));
  const s = await LocalSession.open(fx.equityDir);
  sessions.push(s);
  const run = s.store.catalog.runs.get('default')!;
  assert.equal(run.capital, EQUITY_START, 'capital: the first equity value');
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  assertNear(Number(summary.total_pnl), eq[eq.length - 1]! - eq[0]!, 'total P&L');
  const daily = eq.slice(1).map((e, i) => (e - eq[i]!) / EQUITY_START);
  // The first day's P&L is 0 (the starting value): it is one of the series' days.
  assertNear(Number(summary.sharpe), sharpe([0, ...daily]), 'Sharpe ratio', 1e-8);
  await checkHeatmap(s, monthly(raw.map((x, i) => ({ month: String(x.month), pnl: i === 0 ? 0 : eq[i]! - eq[i - 1]! }))), 'equity');
});

test('an equity curve beside a trades file: the trades are read, and inspect does not call them missing', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-portfolio-'));
  try {
    await copyFile(path.join(fx.equityDir, 'equity.csv'), path.join(dir, 'equity.csv'));
    const first = await mem((q) => q(`SELECT min("Date"::DATE)::VARCHAR AS day FROM read_csv('${path.join(dir, 'equity.csv')}')`));
    const day = String(first[0]!.day);
    await writeFile(
      path.join(dir, 'trades.csv'),
      `Symbol,Side,Entry Time,Exit Time,Qty,Entry Price,Exit Price,P&L\nAAPL,BUY,${day} 14:35:00,${day} 20:55:00,100,185.10,186.20,110\nMSFT,SELL,${day} 15:00:00,${day} 19:00:00,50,370.00,365.50,225\n`,
    );
    const report = await inspectDataset({ inputs: [dir] });
    const portfolio = report.formats.find((f) => f.summary.startsWith('portfolio-only backtest'));
    assert.ok(portfolio, `the equity curve is recognised: ${JSON.stringify(report.formats.map((f) => f.summary))}`);
    assert.deepEqual(portfolio.missing.map((m) => m.table), ['bars'], 'only per-symbol bars are missing, not the trades beside it');
    assert.ok(report.tables.some((t) => t.table === 'trades'), 'trades.csv is read as the trades table');
    const s = await LocalSession.open(dir);
    sessions.push(s);
    const trades = await s.ask({ query: 'trades', params: { sort: { column: 'pnl', descending: true }, limit: 10 } });
    assert.deepEqual(trades.rows.map((t) => [t.symbol, t.side, Number(t.pnl)]), [['MSFT', 'short', 225], ['AAPL', 'long', 110]]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("bt's output: its prices (an index from 100) are the portfolio, its transactions a list of fills for the trades", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-portfolio-'));
  try {
    // res.prices.to_csv() and res.get_transactions().to_csv(): an unnamed index and the strategy's name; Date and Security.
    await writeFile(path.join(dir, 'prices.csv'), ',s1\n2024-01-01,100.0\n2024-01-02,100.0\n2024-01-03,100.4\n2024-02-01,101.9\n2024-02-02,102.3\n');
    await writeFile(path.join(dir, 'transactions.csv'), 'Date,Security,price,quantity\n2024-01-02,aapl,185.0,540.0\n2024-01-02,msft,370.0,270.0\n2024-02-01,aapl,190.0,-40.0\n');
    const report = await inspectDataset({ inputs: [dir] });
    assert.equal(report.ready, true, JSON.stringify(report.problems));
    const portfolio = report.formats.find((f) => f.summary.startsWith('portfolio-only backtest'));
    assert.ok(portfolio, `the prices are recognised: ${JSON.stringify(report.formats.map((f) => f.summary))}`);
    assert.deepEqual(portfolio.files[0]!.columns, { ts: 'column0', equity: 's1' });
    assert.deepEqual(portfolio.missing.map((m) => m.table), ['bars'], 'the fills beside it give trades: they are not called missing');
    assert.ok(report.formats.some((f) => f.summary.startsWith('list of fills')), JSON.stringify(report.formats.map((f) => f.summary)));
    const s = await LocalSession.open(dir);
    sessions.push(s);
    const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
    assertNear(Number(summary.total_pnl), 2.3, 'P&L: the change of the index, in its points');
    assert.equal([...s.store.catalog.runs.values()][0]!.capital, 100, 'capital: its first value');
    const trades = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 10 } })).rows;
    const closed = trades.filter((t) => t.exit_ts !== null);
    assert.deepEqual(closed.map((t) => [t.symbol, Number(t.qty), Number(t.pnl)]), [['aapl', 40, 200]], 'the 40 sold of 540 bought: one closed round trip, (190 - 185) x 40');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('strategies side by side in one returns or equity file: a run each, named after its column, each its own capital and P&L', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-portfolio-'));
  try {
    // returns.csv as returns_df.to_csv() writes a frame of three strategies; the third starts late (NaN before).
    const returnsDir = path.join(dir, 'returns');
    await mkdir(returnsDir);
    const days = ['2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05'];
    const series: Record<string, (number | null)[]> = { momentum: [0.01, -0.02, 0.005, 0.0], value: [0.0, 0.003, 0.002, -0.001], carry: [null, null, 0.004, 0.006] };
    await writeFile(path.join(returnsDir, 'returns.csv'), [',momentum,value,carry', ...days.map((d, i) => [d, ...Object.values(series).map((v) => v[i] ?? '')].join(','))].join('\n') + '\n');
    await writeFile(path.join(returnsDir, 'tickscope.json'), JSON.stringify({ capital: { momentum: 1_000_000, value: 500_000 } }));
    const report = await inspectDataset({ inputs: [returnsDir] });
    assert.equal(report.ready, true, JSON.stringify(report.problems));
    assert.match(report.formats[0]!.summary, /3 runs side by side/);
    const s = await LocalSession.open(returnsDir);
    sessions.push(s);
    const capital: Record<string, number> = { momentum: 1_000_000, value: 500_000, carry: 1 };
    assert.deepEqual(Object.fromEntries([...s.store.catalog.runs.values()].map((r) => [r.runId, r.capital])), capital, 'the stated capitals, and 1 for a run without one');
    for (const [run, rets] of Object.entries(series)) {
      const summary = (await s.ask({ query: 'summary', params: { runs: [run] } })).rows[0]!;
      assertNear(Number(summary.total_pnl), rets.reduce((n: number, r) => n + (r ?? 0), 0) * capital[run]!, `${run}: P&L = returns x its capital`);
    }

    // equity.csv of two sweep points: each run's capital its own first value.
    const equityDir = path.join(dir, 'equity');
    await mkdir(equityDir);
    await writeFile(path.join(equityDir, 'equity.csv'), 'date,fast_10,fast_20\n2024-01-02,100000,250000\n2024-01-03,101500,249000\n2024-01-04,99800,252500\n');
    const e = await LocalSession.open(equityDir);
    sessions.push(e);
    assert.deepEqual(Object.fromEntries([...e.store.catalog.runs.values()].map((r) => [r.runId, r.capital])), { fast_10: 100_000, fast_20: 250_000 });
    for (const [run, pnl] of [['fast_10', -200], ['fast_20', 2500]] as const) {
      const summary = (await e.ask({ query: 'summary', params: { runs: [run] } })).rows[0]!;
      assertNear(Number(summary.total_pnl), pnl, `${run}: the last value less the first`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('pyfolio returns with wide positions but no transactions: the returns are the dataset, positions are not read as bars', async () => {
  const pyfolio = await pyfolioFixture();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-portfolio-'));
  try {
    for (const name of ['returns.parquet', 'positions.parquet']) await copyFile(path.join(pyfolio.parquetDir, name), path.join(dir, name));
    const raw = await mem((q) => q(`SELECT returns FROM read_parquet('${path.join(dir, 'returns.parquet')}')`));
    const s = await LocalSession.open(dir);
    sessions.push(s);
    const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
    assertNear(Number(summary.total_pnl), raw.reduce((n, r) => n + Number(r.returns), 0), 'total P&L in units of capital');
    const bySymbol = await s.ask({ query: 'breakdown', params: { by: 'symbol', limit: 10 } });
    assert.deepEqual(bySymbol.rows.map((x) => x.key), [PORTFOLIO_SYMBOL]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
