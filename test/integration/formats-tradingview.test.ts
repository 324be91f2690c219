// TradingView's "List of Trades" exports (fixtures/formats/tradingview.ts: two symbols' files, both
// header generations, exit rows first, totals on both rows or on the exit row only, one trade
// still open), prepared without a mapping and served: every trade against the tiny fixture's own
// trades it was written from, value for value.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { tradingviewFixture, type TradingViewFixture } from '../../fixtures/formats/tradingview.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { mem } from '../support/duckdb.js';
import { LocalSession } from '../support/local-session.js';
import { near as assertNear } from '../support/checks.js';

let fx: TradingViewFixture;
const sessions: LocalSession[] = [];

before(async () => {
  fx = await tradingviewFixture();
});

after(() => {
  for (const s of sessions) s.close();
});

interface Source {
  symbol: string;
  side: string;
  entry: number;
  exit: number | null;
  qty: number;
  entry_price: number;
  exit_price: number | null;
  pnl: number;
  mae: number;
  mfe: number;
}

test('two exports, both header generations: every trade as the tool had it, the open one without an exit', async () => {
  const report = await inspectDataset({ inputs: [fx.dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  const recognised = report.formats.find((f) => f.summary.startsWith('TradingView list of trades'));
  assert.ok(recognised, JSON.stringify(report.formats.map((f) => f.summary)));
  assert.deepEqual(recognised.files.map((f) => path.basename(f.path).split('_')[3]).sort(), [...fx.symbols].sort(), 'the symbols from the exports’ names');

  // The source trades, as the exports hold them (times to the minute; the newest of the second symbol open).
  const source = (await mem((q) =>
    q(`SELECT symbol, side, epoch_ms(date_trunc('minute', entry_ts)) AS entry, epoch_ms(date_trunc('minute', exit_ts)) AS exit, qty, entry_price, exit_price, pnl, mae, mfe,
         symbol = '${fx.symbols[1]}' AND row_number() OVER (PARTITION BY symbol ORDER BY entry_ts DESC, trade_id DESC) = 1 AS open
       FROM read_parquet('${path.join(fx.sourceDir, 'trades', 'trades.parquet')}')
       WHERE run_id = 'base' AND symbol IN ('${fx.symbols[0]}', '${fx.symbols[1]}') AND exit_ts IS NOT NULL
       ORDER BY entry, symbol`),
  )).map((r) => ({
    symbol: String(r.symbol),
    side: String(r.side),
    entry: Number(r.entry),
    exit: r.open ? null : Number(r.exit),
    qty: Number(r.qty),
    entry_price: Number(r.entry_price),
    exit_price: r.open ? null : Number(r.exit_price),
    pnl: Number(r.pnl),
    mae: Number(r.mae),
    mfe: Number(r.mfe),
  })) as Source[];

  const s = await LocalSession.open(fx.dir);
  sessions.push(s);
  const served = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 1000 } })).rows;
  assert.equal(served.length, source.length, 'every trade');
  const got = [...served].sort((a, b) => String(a.symbol).localeCompare(String(b.symbol)) || Number(a.entry_ts) - Number(b.entry_ts));
  const want = [...source].sort((a, b) => a.symbol.localeCompare(b.symbol) || a.entry - b.entry);
  for (const [i, t] of got.entries()) {
    const w = want[i]!;
    const what = `${w.symbol} trade entered ${new Date(w.entry).toISOString()}`;
    assert.equal(String(t.symbol), w.symbol, what);
    assert.equal(String(t.side), w.side, `${what}: side`);
    assert.equal(Number(t.entry_ts), w.entry, `${what}: entry`);
    assert.equal(t.exit_ts === null ? null : Number(t.exit_ts), w.exit, `${what}: exit`);
    assert.equal(Number(t.qty), w.qty, `${what}: qty`);
    assertNear(Number(t.entry_price), w.entry_price, `${what}: entry price`);
    if (w.exit_price === null) assert.equal(t.exit_price, null, `${what}: an open trade has no exit price`);
    else assertNear(Number(t.exit_price), w.exit_price, `${what}: exit price`);
    assertNear(Number(t.pnl), w.pnl, `${what}: P&L`);
    assertNear(Number(t.mae), w.mae, `${what}: MAE`, 1e-6);
    assertNear(Number(t.mfe), w.mfe, `${what}: MFE`, 1e-6);
    assert.equal(t.tag === null ? null : String(t.tag), w.exit === null ? 'open' : null, `${what}: tag`);
  }
  // Numbered in entry order over both files (each file's numbers restart at 1).
  const ids = [...served].map((t) => Number(t.trade_id));
  assert.deepEqual(ids, ids.map((_, i) => i + 1));

  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  assertNear(Number(summary.total_pnl), source.reduce((n, t) => n + t.pnl, 0), 'total P&L: the trades’ own (the open one’s mark included)');
});
