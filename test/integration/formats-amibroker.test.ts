// AmiBroker's backtest trade lists (fixtures/formats/amibroker.ts: a US and a European export in
// two folders, the European one's last trade open), prepared without a mapping and served: every
// trade against the tiny fixture's own trades the lists were written from, value for value.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { amibrokerFixture, type AmiBrokerFixture } from '../../fixtures/formats/amibroker.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { LocalSession } from '../support/local-session.js';
import { near } from '../support/checks.js';

let fx: AmiBrokerFixture;
const sessions: LocalSession[] = [];

before(async () => {
  fx = await amibrokerFixture();
});

after(() => {
  for (const s of sessions) s.close();
});

test('AmiBroker trade lists: recognised by their header, a run per folder, each trade as AmiBroker listed it', async () => {
  const report = await inspectDataset({ inputs: [fx.dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  const recognised = report.formats.find((f) => f.summary.startsWith('AmiBroker trade list'));
  assert.ok(recognised, JSON.stringify(report.formats.map((f) => f.summary)));
  assert.equal(recognised.files.length, 2);
  assert.equal(recognised.files[0]!.columns.side, 'Trade (Long, Short)', 'Trade is the side, not the trade number');

  const s = await LocalSession.open(fx.dir);
  sessions.push(s);
  for (const run of ['us', 'eu']) {
    const served = (await s.ask({ query: 'trades', params: { runs: [run], sort: { column: 'entry_ts', descending: false }, limit: 10_000 } })).rows;
    assert.equal(served.length, fx.trades.length, `${run}: every trade`);
    const got = [...served].sort((a, b) => Number(a.entry_ts) - Number(b.entry_ts) || String(a.symbol).localeCompare(String(b.symbol)) || Number(a.pnl) - Number(b.pnl));
    const want = [...fx.trades].map((t, i) => ({ ...t, open: run === 'eu' && i === fx.trades.length - 1 }));
    want.sort((a, b) => a.entryMs - b.entryMs || a.symbol.localeCompare(b.symbol) || a.pnl - b.pnl);
    for (const [i, t] of got.entries()) {
      const w = want[i]!;
      const what = `${run}: ${w.symbol} trade entered ${new Date(w.entryMs).toISOString()}`;
      assert.equal(String(t.symbol), w.symbol, what);
      assert.equal(String(t.side), w.side, `${what}: side`);
      assert.equal(Number(t.entry_ts), w.entryMs, `${what}: entry, read ${run === 'us' ? 'month first, 12-hour' : 'day first'}`);
      assert.equal(t.exit_ts === null ? null : Number(t.exit_ts), w.open ? null : w.exitMs, `${what}: exit`);
      assert.equal(Number(t.qty), w.qty, `${what}: qty`);
      near(Number(t.entry_price), w.entryPrice, `${what}: entry price`);
      if (w.open) assert.equal(t.exit_price, null, `${what}: an open trade has no exit price`);
      else near(Number(t.exit_price), w.exitPrice, `${what}: exit price`);
      near(Number(t.pnl), w.pnl, `${what}: P&L`, 1e-6);
      near(Number(t.ret), w.pnl / (w.entryPrice * w.qty), `${what}: return = % Profit`, 1e-6);
      near(Number(t.mae), -Math.abs(w.mae), `${what}: MAE, a fraction`, 1e-6);
      near(Number(t.mfe), Math.abs(w.mfe), `${what}: MFE, a fraction`, 1e-6);
      assert.equal(Number(t.bars_held), w.barsHeld, `${what}: bars held`);
      assert.equal(t.tag === null ? null : String(t.tag), w.open ? 'open' : null, `${what}: tag`);
    }
    const summary = (await s.ask({ query: 'summary', params: { runs: [run] } })).rows[0]!;
    near(Number(summary.total_pnl), fx.trades.reduce((n, t) => n + t.pnl, 0), `${run}: total P&L, the trades' own (an open one's mark included)`, 1e-6);
  }
});
