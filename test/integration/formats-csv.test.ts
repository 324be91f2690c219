// Canonical tables written as CSV with everyday column names (fixtures/formats/csv.ts): prepared
// without a mapping, served through the session's path, against the raw CSV text (every value
// read as text and parsed here) and against the same dataset prepared from its Parquet original.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { csvFixture } from '../../fixtures/formats/csv.js';
import { mem } from '../support/duckdb.js';
import { LocalSession, type Ask } from '../support/local-session.js';
import { near } from '../support/checks.js';

let csv: LocalSession;
let parquet: LocalSession;
let csvDir: string;

before(async () => {
  const fx = await csvFixture();
  csvDir = fx.csvDir;
  csv = await LocalSession.open(fx.csvDir);
  parquet = await LocalSession.open(fx.sourceDir);
});

after(() => {
  csv?.close();
  parquet?.close();
});

/** Within a relative 1e-6 unless told (the tools' own numbers went through text). */
const assertNear = (got: number, want: number, what: string, tolerance = 1e-6): void => near(got, want, what, tolerance);

test('CSV bars and trades: P&L per symbol and trade counts as the raw text has them', async () => {
  const raw = await mem(async (q) => ({
    bars: await q(`SELECT "Ticker" AS symbol, "PnL" AS pnl FROM read_csv('${path.join(csvDir, 'bars', '*', '*.csv')}', all_varchar = true)`),
    trades: await q(`SELECT "Ticker" AS symbol, "PnL" AS pnl FROM read_csv('${path.join(csvDir, 'trades.csv')}', all_varchar = true)`),
  }));
  const want = new Map<string, { pnl: number; trades: number }>();
  for (const b of raw.bars) {
    const w = want.get(String(b.symbol)) ?? want.set(String(b.symbol), { pnl: 0, trades: 0 }).get(String(b.symbol))!;
    w.pnl += Number(b.pnl);
  }
  for (const t of raw.trades) want.get(String(t.symbol))!.trades += 1;
  const answer = await csv.ask({ query: 'breakdown', params: { by: 'symbol', limit: 10_000 } });
  assert.equal(answer.rows.length, want.size, 'symbols');
  for (const row of answer.rows) {
    const w = want.get(String(row.key))!;
    assertNear(Number(row.pnl), w.pnl, `P&L of ${String(row.key)}`);
    assert.equal(Number(row.trades), w.trades, `trades of ${String(row.key)}`);
  }
  const trades = await csv.ask({ query: 'trades', params: { limit: 1 } });
  assert.equal(trades.outcome.total, raw.trades.length, 'trade count');
});

test('the CSV dataset serves what its Parquet original serves: summary, sectors, trades', async () => {
  const asks: Ask[] = [
    { query: 'summary', params: {} },
    { query: 'breakdown', params: { by: 'sector', limit: 100 } },
    { query: 'breakdown', params: { by: 'run', limit: 100 } },
  ];
  for (const ask of asks) {
    const [a, b] = await Promise.all([csv.ask(ask), parquet.ask(ask)]);
    assert.equal(a.rows.length, b.rows.length, `${ask.query} rows`);
    a.rows.forEach((row, i) => {
      for (const [k, v] of Object.entries(b.rows[i]!)) {
        if (typeof v === 'number') assertNear(Number(row[k]), v, `${ask.query} ${k} of row ${i}`);
        else assert.deepEqual(row[k], v, `${ask.query} ${k} of row ${i}`);
      }
    });
  }
  const [a, b] = await Promise.all([
    csv.ask({ query: 'trades', params: { limit: 10_000, sort: { column: 'pnl', descending: true } } }),
    parquet.ask({ query: 'trades', params: { limit: 10_000, sort: { column: 'pnl', descending: true } } }),
  ]);
  assert.equal(a.rows.length, b.rows.length);
  a.rows.forEach((row, i) => {
    const ref = b.rows[i]!;
    assert.deepEqual([row.run_id, row.symbol, row.side, row.entry_ts, row.exit_ts, row.tag], [ref.run_id, ref.symbol, ref.side, ref.entry_ts, ref.exit_ts, ref.tag], `trade ${i}`);
    assertNear(Number(row.pnl), Number(ref.pnl), `pnl of trade ${i}`);
  });
});
