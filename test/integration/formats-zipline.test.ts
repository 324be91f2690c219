// zipline's performance frame saved with perf.to_csv (fixtures/formats/zipline.ts), prepared without
// a mapping and served: each session's P&L is zipline's own pnl column, the capital its first
// starting_cash, and the trades are the round trips of the transactions, against the trades they
// were written from.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ziplineFixture, ZIPLINE_CAPITAL, type ZiplineFixture } from '../../fixtures/formats/zipline.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { mem } from '../support/duckdb.js';
import { LocalSession } from '../support/local-session.js';
import { near as assertNear } from '../support/checks.js';

let fx: ZiplineFixture;
const sessions: LocalSession[] = [];

before(async () => {
  fx = await ziplineFixture();
});

after(() => {
  for (const s of sessions) s.close();
});

test("a zipline performance frame: zipline's pnl each session, its capital, the round trips of its transactions", async () => {
  const report = await inspectDataset({ inputs: [fx.dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.deepEqual(report.formats.map((f) => f.summary), [`zipline performance frame: ${path.join(fx.dir, 'perf.csv')}`]);

  const s = await LocalSession.open(fx.dir);
  sessions.push(s);
  assert.equal(s.store.catalog.runs.get('default')!.capital, ZIPLINE_CAPITAL, "capital: the first session's starting_cash");

  // Each session's P&L over every symbol, from the store's bars, against the frame's pnl column.
  const perf = await mem((q) => q(`SELECT period_close::DATE::VARCHAR AS day, pnl FROM read_csv('${path.join(fx.dir, 'perf.csv')}') ORDER BY 1`));
  const con = await s.store.instance.connect();
  const daily = new Map(
    (await con.runAndReadAll(`SELECT ts::DATE::VARCHAR, sum(pnl) FROM bars GROUP BY 1`)).getRows().map(([day, pnl]) => [String(day), Number(pnl)] as const),
  );
  con.closeSync();
  for (const { day, pnl } of perf) assertNear(daily.get(String(day)) ?? 0, Number(pnl), `P&L of ${String(day)}`, 1e-7);
  const summary = (await s.ask({ query: 'summary', params: {} })).rows[0]!;
  assertNear(Number(summary.total_pnl), perf.reduce((n, r) => n + Number(r.pnl), 0), 'total P&L', 1e-7);

  // The trades, as the round trips of the fills they were written as.
  const want = await mem((q) =>
    q(`SELECT symbol, side, epoch_ms(entry_ts) AS entry, epoch_ms(exit_ts) AS exit, qty, entry_price, exit_price,
         CASE side WHEN 'long' THEN 1 ELSE -1 END * (exit_price - entry_price) * qty - coalesce(fees, 0) AS pnl
       FROM (${fx.trades}) ORDER BY symbol, entry_ts`),
  );
  const got = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 1000 } })).rows.sort(
    (a, b) => String(a.symbol).localeCompare(String(b.symbol)) || Number(a.entry_ts) - Number(b.entry_ts),
  );
  assert.equal(got.length, want.length, 'one round trip per trade');
  for (const [i, t] of got.entries()) {
    const w = want[i]!;
    const what = `${String(w.symbol)} trade ${i + 1}`;
    assert.deepEqual([t.symbol, t.side, Number(t.entry_ts), Number(t.exit_ts), Number(t.qty)], [w.symbol, w.side, Number(w.entry), Number(w.exit), Number(w.qty)], what);
    assertNear(Number(t.entry_price), Number(w.entry_price), `${what}: entry price`);
    assertNear(Number(t.exit_price), Number(w.exit_price), `${what}: exit price`);
    assertNear(Number(t.pnl), Number(w.pnl), `${what}: P&L after the orders' commissions`, 1e-7);
  }
});
