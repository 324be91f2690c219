// backtesting.py's output as its users save it: `stats._trades.to_csv('trades.csv')` (an unnamed
// index, PascalCase names: Size signed by side, EntryPrice, ExitPrice, PnL, ReturnPct, EntryTime,
// ExitTime, Duration, Tag) and `stats._equity_curve.to_csv('equity_curve.csv')` (a date index,
// Equity, DrawdownPct, DrawdownDuration). No symbol column: backtesting.py runs one instrument.
// Written here from one symbol of the tiny fixture's trades, prepared without a mapping, served,
// and checked against them: every trade, and the equity curve's P&L.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureFixtures, repoRoot } from '../../fixtures/generate.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { mem } from '../support/duckdb.js';
import { LocalSession } from '../support/local-session.js';

const dir = path.join(repoRoot(), '.cache', 'test-backtesting-py', 'sma-cross');
const sessions: LocalSession[] = [];
let trades: string;
let symbol: string;

before(async () => {
  trades = path.join(await ensureFixtures('tiny', 7), 'trades', 'trades.parquet');
  await rm(path.dirname(dir), { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await mem(async (q) => {
    const [first] = await q(`SELECT symbol FROM read_parquet('${trades}') WHERE run_id = 'base' AND exit_ts IS NOT NULL GROUP BY symbol ORDER BY count(*) DESC, symbol LIMIT 1`);
    symbol = String(first!.symbol);
    const own = `SELECT * FROM read_parquet('${trades}') WHERE run_id = 'base' AND symbol = '${symbol}' AND exit_ts IS NOT NULL`;
    await q(`COPY (
        SELECT row_number() OVER (ORDER BY entry_ts) - 1 AS "__index__", CASE side WHEN 'long' THEN qty ELSE -qty END AS "Size", 0 AS "EntryBar", 0 AS "ExitBar",
          entry_price AS "EntryPrice", exit_price AS "ExitPrice", NULL AS "SL", NULL AS "TP", pnl AS "PnL", ret AS "ReturnPct",
          strftime(entry_ts, '%Y-%m-%d %H:%M:%S') AS "EntryTime", strftime(exit_ts, '%Y-%m-%d %H:%M:%S') AS "ExitTime",
          (exit_ts - entry_ts)::VARCHAR AS "Duration", NULL AS "Tag"
        FROM (${own}) ORDER BY entry_ts)
      TO '${path.join(dir, 'trades.csv')}' (FORMAT csv, HEADER true)`);
    // The equity curve: 100,000 plus the P&L of the trades closed by each day's end.
    await q(`COPY (
        SELECT strftime(d, '%Y-%m-%d') AS "__index__", 100000 + coalesce(sum(pnl) FILTER (WHERE exit_ts::DATE <= d), 0) AS "Equity", 0.0 AS "DrawdownPct", NULL AS "DrawdownDuration"
        FROM (SELECT DISTINCT exit_ts::DATE AS d FROM (${own}) UNION SELECT min(entry_ts)::DATE FROM (${own})) days, (${own}) t
        GROUP BY d ORDER BY d)
      TO '${path.join(dir, 'equity_curve.csv')}' (FORMAT csv, HEADER true)`);
  });
  // pandas writes its index under an empty header (DuckDB cannot name a column so).
  for (const file of ['trades.csv', 'equity_curve.csv']) {
    const text = await readFile(path.join(dir, file), 'utf8');
    await writeFile(path.join(dir, file), text.replace(/^__index__/, ''));
  }
});

after(async () => {
  for (const s of sessions) s.close();
  await rm(path.dirname(dir), { recursive: true, force: true });
});

test('backtesting.py trades and equity curve: one instrument named after the folder, every trade, the curve’s P&L', async () => {
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.ok(report.formats.some((f) => f.summary.startsWith("portfolio-only backtest: equity_curve.csv (equity curve in 'Equity')")), 'the equity curve among its columns');
  const tradeTable = report.tables.find((t) => t.table === 'trades')!;
  assert.deepEqual(
    tradeTable.columns.map((c) => [c.canonical, c.column]).sort(),
    [['entry_price', 'EntryPrice'], ['entry_ts', 'EntryTime'], ['exit_price', 'ExitPrice'], ['exit_ts', 'ExitTime'], ['pnl', 'PnL'], ['qty', 'Size'], ['ret', 'ReturnPct'], ['symbol', 'sma-cross'], ['tag', 'Tag']],
    'PascalCase names by their words; the symbol is the folder’s name',
  );

  const want = await mem((q) =>
    q(`SELECT side, epoch_ms(date_trunc('second', entry_ts)) AS entry, epoch_ms(date_trunc('second', exit_ts)) AS exit, qty, entry_price, exit_price, pnl, ret
       FROM read_parquet('${trades}') WHERE run_id = 'base' AND symbol = '${symbol}' AND exit_ts IS NOT NULL ORDER BY entry_ts`),
  );
  const s = await LocalSession.open(dir);
  sessions.push(s);
  const got = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 1000 } })).rows;
  assert.equal(got.length, want.length);
  for (const [i, t] of got.entries()) {
    const w = want[i]!;
    assert.deepEqual(
      [t.symbol, t.side, Number(t.entry_ts), Number(t.exit_ts), Number(t.qty), Number(t.entry_price), Number(t.exit_price), Number(t.pnl), Number(t.ret)],
      ['sma-cross', w.side, Number(w.entry), Number(w.exit), Number(w.qty), Number(w.entry_price), Number(w.exit_price), Number(w.pnl), Number(w.ret)],
      `trade ${i + 1}`,
    );
  }
  // The bars are the equity curve's: its total change is the trades' P&L.
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  const total = want.reduce((n, w) => n + Number(w.pnl), 0);
  assert.ok(Math.abs(Number(summary.total_pnl) - total) < 1e-6 * Math.max(1, Math.abs(total)), `total P&L ${String(summary.total_pnl)} against ${total}`);
});
