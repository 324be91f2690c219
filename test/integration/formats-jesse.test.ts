// Jesse's backtest exports, read without a mapping: the JSON (storage/json/<session>.json:
// {"trades": [ClosedTrade.to_json, ...], "considering_timeframes": [...]}, a document of named
// tables: json-tables.ts) and the CSV (storage/csv/<session>.csv, every value quoted). Their
// trades as a trade list is read: epoch-millisecond times, sides, quantities, fees, Jesse's P&L;
// two sessions side by side are two runs; a column whose fractions first appear after DuckDB's
// sample of 20,480 rows is still read as numbers; a document whose arrays are not records is left alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeZip } from '../../fixtures/formats/zip.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { LocalSession } from '../support/local-session.js';
import { near } from '../support/checks.js';

const dirs: string[] = [];
const sessions: LocalSession[] = [];
after(async () => {
  for (const s of sessions) s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const START_MS = Date.UTC(2021, 0, 1);

/** Jesse's ClosedTrade.to_json of the i-th trade of a strategy (PNL after the fee, qty negative for a short). */
function jesseTrade(strategy: string, i: number, fractionalFrom = Number.POSITIVE_INFINITY) {
  const long = i % 3 !== 1;
  const qty = i >= fractionalFrom ? 0.25 + (i % 4) : 1 + (i % 4);
  const entry = 100 + (i % 50);
  const exit = entry + ((i % 7) - 3);
  const fee = 0.001 * qty * (entry + exit);
  const pnl = (long ? exit - entry : entry - exit) * qty - fee;
  const opened = START_MS + i * 3_600_000;
  return {
    id: `${strategy}-${i}`, strategy_name: strategy, symbol: i % 2 ? 'ETH-USDT' : 'BTC-USDT', exchange: 'Binance Perpetual Futures',
    type: long ? 'long' : 'short', entry_price: entry, exit_price: exit, qty: long ? qty : -qty, fee, size: qty * entry, PNL: pnl,
    PNL_percentage: (pnl / (qty * entry)) * 100, holding_period: 1800, opened_at: opened, closed_at: opened + 1_800_000,
  };
}

async function folderOf(docs: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-jesse-'));
  dirs.push(dir);
  for (const [name, doc] of Object.entries(docs)) await writeFile(path.join(dir, name), typeof doc === 'string' ? doc : JSON.stringify(doc));
  return dir;
}

/** Jesse's CSV export: a header of to_json's keys, then each trade's values, every one quoted (csv.QUOTE_ALL). */
function jesseCsv(trades: readonly Record<string, unknown>[]): string {
  const quoted = (vs: readonly unknown[]) => vs.map((v) => `"${String(v)}"`).join(',');
  return [quoted(Object.keys(trades[0]!)), ...trades.map((t) => quoted(Object.values(t)))].join('\r\n') + '\r\n';
}

const fast = Array.from({ length: 40 }, (_, i) => jesseTrade('FastTrend', i));
const slow = Array.from({ length: 25 }, (_, i) => jesseTrade('SlowTrend', i));

for (const [kind, docs] of [
  ['JSON', { 'a1f3-session.json': { trades: fast, considering_timeframes: ['1h', '4h'] }, 'b7c2-session.json': { trades: slow, considering_timeframes: ['4h'] } }],
  ['CSV', { 'a1f3-session.csv': jesseCsv(fast), 'b7c2-session.csv': jesseCsv(slow) }],
] as const) {
  test(`Jesse's ${kind} export: each session's trades, their times, sides, quantities and fees; two sessions are two runs`, async () => {
    const dir = await folderOf(docs);
    const report = await inspectDataset({ inputs: [dir] });
    assert.equal(report.ready, true, JSON.stringify(report.problems));
    assert.deepEqual(report.tables.map((t) => t.table), ['trades']);
    if (kind === 'JSON') assert.deepEqual(report.files.map((f) => f.path).sort(), [path.join(dir, 'a1f3-session.json!a1f3-session/trades.jsonl'), path.join(dir, 'b7c2-session.json!b7c2-session/trades.jsonl')]);
    const session = await LocalSession.open(dir);
    sessions.push(session);
    const rows = (await session.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 1000 } })).rows;
    assert.equal(rows.length, fast.length + slow.length);
    for (const [run, want] of [['FastTrend', fast], ['SlowTrend', slow]] as const) {
      const got = rows.filter((r) => r.run_id === run);
      assert.equal(got.length, want.length, `${run}: its trades`);
      near(got.reduce((s, r) => s + Number(r.pnl), 0), want.reduce((s, t) => s + t.PNL, 0), `${run}: P&L (Jesse's, after fees)`, 1e-9);
      for (const w of want.slice(0, 4)) {
        const t = got.find((r) => Number(r.entry_ts) === w.opened_at && r.symbol === w.symbol);
        assert.ok(t, `${run}: the trade opened at ${new Date(w.opened_at).toISOString()}`);
        assert.equal(Number(t.exit_ts), w.closed_at, 'closed_at, epoch milliseconds');
        assert.equal(Number(t.qty), Math.abs(w.qty), 'quantity, a short’s without its sign');
        assert.equal(t.side, w.type === 'long' ? 'long' : 'short');
        near(Number(t.fees), w.fee, 'fee', 1e-12);
      }
    }
  });
}

test('a column whose first fraction comes after the first 20,480 records is read as numbers; arrays of other things are left alone', async () => {
  const trades = Array.from({ length: 20_600 }, (_, i) => jesseTrade('Late', i, 20_500));
  const dir = await folderOf({ 'session.json': { trades, considering_timeframes: ['1m'] }, 'notes.json': { trades: [1, 2, 3], note: 'not records' } });
  const session = await LocalSession.open(dir);
  sessions.push(session);
  const summary = (await session.ask({ query: 'trades', params: { sort: { column: 'qty', descending: false }, limit: 1 } })).rows[0]!;
  assert.equal(Number(summary.qty), 0.25, 'the smallest quantity, a fraction after the sample');
  const report = await inspectDataset({ inputs: [dir] });
  const notes = report.files.find((f) => f.path === path.join(dir, 'notes.json'));
  assert.match(notes?.recognisedAs ?? '', /^nothing: a JSON document no format recognises/, 'an array of numbers under "trades" is not a table: the document is left as it is');
});

test("Jesse's JSON exports zipped, as they are shared: each document's trades, named by the archive, the same as loose", async () => {
  const loose = await folderOf({ 'a1f3-session.json': { trades: fast }, 'b7c2-session.json': { trades: slow } });
  const zipped = await folderOf({});
  await writeZip(path.join(zipped, 'exports.zip'), [
    { name: 'storage/json/a1f3-session.json', data: JSON.stringify({ trades: fast, considering_timeframes: ['1h'] }) },
    { name: 'storage/json/b7c2-session.json', data: JSON.stringify({ trades: slow, considering_timeframes: ['4h'] }) },
  ]);
  const report = await inspectDataset({ inputs: [zipped] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.deepEqual(
    report.files.map((f) => f.path).sort(),
    ['a1f3', 'b7c2'].map((s) => path.join(zipped, `exports.zip!storage/json/${s}-session.json!${s}-session/trades.jsonl`)),
  );
  const rowsOf = async (dir: string) => {
    const session = await LocalSession.open(dir);
    sessions.push(session);
    const rows = (await session.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 1000 } })).rows;
    return rows.map((r) => [r.run_id, r.symbol, r.side, r.entry_ts, r.exit_ts, r.qty, r.pnl, r.fees].map(String).join(' ')).sort();
  };
  const want = await rowsOf(loose);
  assert.equal(want.length, fast.length + slow.length);
  assert.deepEqual(await rowsOf(zipped), want);
});
