// Backtests whose tools write no bars (vectorbt records, Nautilus reports, a Lean result, a trades
// file alone, pyfolio transactions without positions) prepare through the whole pipeline and are
// served: daily bars made of their trades or fills (server/prepare/trade-bars.ts,
// formats/fill-bars.ts). Checked against the raw files: total and per-symbol P&L are the tool's
// own trade P&L summed; a hand-made trades file gives exact bars (positions carried over days
// without fills, P&L on the exit day); pyfolio fills alone are valued at the last fill price.
// Daily bars stamped at midnight are matched to trades by day (bar-period.ts): exact bars held,
// MAE and MFE, and no false reconciliation findings on the pyfolio frames.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureLeanFixtures, type LeanFixture } from '../../fixtures/formats/lean.js';
import { ensureNautilusFixtures, type NautilusFixture } from '../../fixtures/formats/nautilus.js';
import { pyfolioFixture, type PyfolioFixture } from '../../fixtures/formats/pyfolio.js';
import { ensureVectorbtFixtures, type VectorbtFixture } from '../../fixtures/formats/vectorbt.js';
import { repoRoot } from '../../fixtures/generate.js';
import { mem } from '../support/duckdb.js';
import { LocalSession } from '../support/local-session.js';
import { near as assertNear } from '../support/checks.js';

let vbt: VectorbtFixture;
let nautilus: NautilusFixture;
let lean: LeanFixture;
let pyfolio: PyfolioFixture;
const sessions: LocalSession[] = [];
const scratch = path.join(repoRoot(), '.cache', 'test-bars-from-trades');

before(async () => {
  [vbt, nautilus, lean, pyfolio] = await Promise.all([ensureVectorbtFixtures(), ensureNautilusFixtures(), ensureLeanFixtures(), pyfolioFixture()]);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
});

after(async () => {
  for (const s of sessions) s.close();
  await rm(scratch, { recursive: true, force: true });
});

async function open(dir: string): Promise<LocalSession> {
  const s = await LocalSession.open(dir);
  sessions.push(s);
  return s;
}

/** Rows of a SQL query over the session's store. */
async function storeRows(s: LocalSession, sql: string): Promise<Record<string, unknown>[]> {
  const con = await s.store.instance.connect();
  try {
    return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    con.closeSync();
  }
}

/** Served total P&L and P&L per symbol against `want` (symbol -> P&L). */
async function checkPnl(s: LocalSession, want: Map<string, number>, what: string): Promise<void> {
  const summary = await s.ask({ query: 'summary', params: {} });
  const total = [...want.values()].reduce((a, b) => a + b, 0);
  assertNear(Number(summary.rows.reduce((n, r) => n + Number(r.total_pnl), 0)), total, `${what}: total P&L`, 1e-9);
  const breakdown = await s.ask({ query: 'breakdown', params: { by: 'symbol', limit: 1000 } });
  const got = new Map<string, number>();
  for (const r of breakdown.rows) got.set(String(r.key), (got.get(String(r.key)) ?? 0) + Number(r.pnl));
  for (const [symbol, pnl] of want) assertNear(got.get(symbol) ?? NaN, pnl, `${what}: P&L of ${symbol}`, 1e-9);
}

function sumBy<T>(rows: readonly T[], key: (r: T) => string, value: (r: T) => number): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) out.set(key(r), (out.get(key(r)) ?? 0) + value(r));
  return out;
}

test('vectorbt trade records alone: the P&L is vectorbt PnL summed (Open trades included), bars say they come from the trades', async () => {
  const raw = await mem((q) => q(`SELECT "Column" AS symbol, "PnL"::DOUBLE AS pnl FROM read_csv('${path.join(vbt.tradesDir, 'trades.csv')}')`));
  const s = await open(vbt.tradesDir);
  await checkPnl(s, sumBy(raw, (r) => String(r.symbol), (r) => Number(r.pnl)), 'vectorbt trades');
  assert.equal(s.store.schema.bars.origin, 'trades');
  const sources = new Map(s.store.schema.columnSources.map((c) => [`${c.table}.${c.column}`, c] as const));
  assert.equal(sources.get('bars.pnl')?.source, 'derived');
  // MAE from fill prices would be made up: it stays absent and says why.
  assert.equal(sources.get('trades.mae')?.source, 'absent');
  assert.match(String(sources.get('trades.mae')?.note), /no bars/);
});

test('vectorbt orders and a parameter sweep: bars from the matched round trips, one set per run', async () => {
  const orders = await open(vbt.ordersDir);
  const trades = await orders.ask({ query: 'trades', params: { limit: 10_000 } });
  await checkPnl(orders, sumBy(trades.rows.filter((r) => r.pnl !== null), (r) => String(r.symbol), (r) => Number(r.pnl)), 'vectorbt orders');

  const raw = await mem((q) => q(`SELECT "Column"::VARCHAR AS col, "PnL"::DOUBLE AS pnl FROM read_parquet('${path.join(vbt.sweepDir, 'trades.parquet')}')`));
  const sweep = await open(vbt.sweepDir);
  assert.ok(sweep.store.catalog.runs.size > 1, 'a sweep has several runs');
  const perRun = await storeRows(sweep, `SELECT run_id, sum(pnl) AS pnl FROM bars GROUP BY run_id`);
  const want = sumBy(raw, (r) => `(${/^\((.*),[^,]*\)$/.exec(String(r.col))![1]})`, (r) => Number(r.pnl));
  assert.equal(perRun.length, want.size, 'runs');
  for (const r of perRun) assertNear(Number(r.pnl), want.get(String(r.run_id)) ?? NaN, `P&L of run ${String(r.run_id)}`);
});

test('Nautilus positions and fills reports alone: realized P&L summed per instrument', async () => {
  const csv = await readFile(path.join(nautilus.positionsDir, 'positions.csv'), 'utf8');
  const [header, ...lines] = csv.trim().split('\n');
  const cols = header!.split(',');
  const instrument = cols.indexOf('instrument_id');
  const realized = cols.indexOf('realized_pnl');
  // The fixture writes no quoted commas in the columns read here.
  const rows = lines.map((l) => l.split(',')).map((c) => ({ symbol: c[instrument]!, pnl: Number(c[realized]!.replace(/ USD$/, '')) }));
  const positions = await open(nautilus.positionsDir);
  await checkPnl(positions, sumBy(rows, (r) => r.symbol, (r) => r.pnl), 'Nautilus positions');

  const fills = await open(nautilus.fillsDir);
  const trades = await fills.ask({ query: 'trades', params: { limit: 10_000 } });
  await checkPnl(fills, sumBy(trades.rows.filter((r) => r.pnl !== null), (r) => String(r.symbol), (r) => Number(r.pnl)), 'Nautilus fills');
});

test('a Lean result alone: closed trades P&L after fees, summed per symbol', async () => {
  const doc = JSON.parse(await readFile(lean.file, 'utf8')) as { totalPerformance: { closedTrades: { symbol: { value: string }; profitLoss: number; totalFees: number }[] } };
  const s = await open(lean.dir);
  await checkPnl(s, sumBy(doc.totalPerformance.closedTrades, (t) => t.symbol.value, (t) => t.profitLoss - t.totalFees), 'Lean');
});

test('a trades file alone: exact daily bars, positions carried over days without fills, P&L on the exit day', async () => {
  const dir = path.join(scratch, 'trades-only');
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'trades.csv'),
    [
      'symbol,side,entry_ts,exit_ts,qty,entry_price,exit_price,fees,pnl',
      'AAA,long,2024-01-02T15:00:00Z,2024-01-05T15:00:00Z,10,100,110,2,98',
      'AAA,short,2024-01-08T15:00:00Z,2024-01-09T15:00:00Z,5,120,118,1,9',
      'BBB,long,2024-01-03T15:00:00Z,,3,50,,0.5,',
    ].join('\n'),
  );
  const s = await open(dir);
  assert.equal(s.store.schema.bars.origin, 'trades');
  assert.equal(s.store.schema.bars.period, 'day');
  const bars = await storeRows(s, `SELECT symbol, strftime(ts, '%Y-%m-%d %H:%M') AS ts, position_qty, price, position_value, trade_qty, fees, pnl FROM bars ORDER BY symbol, ts`);
  assert.deepEqual(
    bars.map((b) => [b.symbol, b.ts, b.position_qty, b.price, b.trade_qty, b.fees, b.pnl]),
    [
      ['AAA', '2024-01-02 00:00', 10, 100, 10, 0, 0],
      ['AAA', '2024-01-03 00:00', 10, 100, 0, 0, 0],
      ['AAA', '2024-01-05 00:00', 0, 110, -10, 2, 98],
      ['AAA', '2024-01-08 00:00', -5, 120, -5, 0, 0],
      ['AAA', '2024-01-09 00:00', 0, 118, 5, 1, 9],
      ['BBB', '2024-01-03 00:00', 3, 50, 3, 0.5, 0],
      ['BBB', '2024-01-05 00:00', 3, 50, 0, 0, 0],
      ['BBB', '2024-01-08 00:00', 3, 50, 0, 0, 0],
      ['BBB', '2024-01-09 00:00', 3, 50, 0, 0, 0],
    ],
  );
  await checkPnl(s, new Map([['AAA', 107], ['BBB', 0]]), 'trades file');
});

test('pyfolio transactions alone, in a transactions/ folder of part files: held days carried, valued at the last fill price', async () => {
  const dir = path.join(scratch, 'pyfolio-fills-only', 'transactions');
  await mkdir(dir, { recursive: true });
  const source = path.join(pyfolio.parquetDir, 'transactions.parquet');
  // Two part files as pyarrow writes a dataset: the frame is named by its folder.
  await mem(async (q) => {
    await q(`COPY (SELECT * FROM read_parquet('${source}') WHERE dt < '2021-03-01') TO '${path.join(dir, 'part-0.parquet')}' (FORMAT parquet)`);
    await q(`COPY (SELECT * FROM read_parquet('${source}') WHERE dt >= '2021-03-01') TO '${path.join(dir, 'part-1.parquet')}' (FORMAT parquet)`);
    return [];
  });
  const fills = await mem((q) =>
    q(`SELECT symbol, (dt::TIMESTAMPTZ AT TIME ZONE 'UTC')::DATE::VARCHAR AS day, amount::DOUBLE AS amount, price::DOUBLE AS price, commission::DOUBLE AS commission
       FROM read_parquet('${source}') ORDER BY dt`),
  );
  // P&L per symbol: the final position at the last fill price, less what the fills paid and cost.
  const want = new Map<string, number>();
  const qty = new Map<string, number>();
  const last = new Map<string, number>();
  for (const f of fills) {
    const sym = String(f.symbol);
    want.set(sym, (want.get(sym) ?? 0) - Number(f.amount) * Number(f.price) - Number(f.commission));
    qty.set(sym, (qty.get(sym) ?? 0) + Number(f.amount));
    last.set(sym, Number(f.price));
  }
  for (const [sym, q] of qty) want.set(sym, want.get(sym)! + Math.round(q * 1e9) / 1e9 * last.get(sym)!);
  const s = await open(path.dirname(dir));
  await checkPnl(s, want, 'pyfolio fills');

  // A bar on every calendar day (a day with any fill) on which a symbol traded or was held.
  const calendar = [...new Set(fills.map((f) => String(f.day)))].sort();
  const expected = new Set<string>();
  for (const sym of qty.keys()) {
    let held = 0;
    for (const day of calendar) {
      const today = fills.filter((f) => f.symbol === sym && f.day === day);
      if (today.length > 0 || Math.abs(held) > 1e-9) expected.add(`${sym} ${day}`);
      held += today.reduce((n, f) => n + Number(f.amount), 0);
    }
  }
  const bars = await storeRows(s, `SELECT symbol || ' ' || strftime(ts, '%Y-%m-%d') AS k FROM bars`);
  assert.deepEqual(new Set(bars.map((b) => String(b.k))), expected);
});

test('daily bars: a trade is matched to the bars of its days, at the close or during the day', async () => {
  const dir = path.join(scratch, 'daily');
  await mkdir(dir, { recursive: true });
  const closes = [['2024-01-02', 100], ['2024-01-03', 90], ['2024-01-04', 95], ['2024-01-05', 120], ['2024-01-08', 110], ['2024-01-09', 105]] as const;
  // Long 10 from the close of 01-03 to the close of 01-08; the position is in the bars of those days' ends.
  const held = new Set(['2024-01-03', '2024-01-04', '2024-01-05']);
  await writeFile(
    path.join(dir, 'bars.csv'),
    ['ts,symbol,price,position_qty,pnl', ...closes.map(([d, p]) => `${d},XYZ,${p},${held.has(d) ? 10 : 0},0`)].join('\n'),
  );
  await writeFile(
    path.join(dir, 'trades.csv'),
    [
      'trade_id,symbol,side,entry_ts,exit_ts,qty,entry_price,exit_price,pnl',
      // At the closes, as daily backtesters stamp them: held over the closes of 01-04 to 01-08.
      '1,XYZ,long,2024-01-03,2024-01-08,10,90,110,200',
      // During the day: held over the closes of 01-03 to 01-05 (01-08's close comes after the exit).
      '2,XYZ,long,2024-01-03 15:00:00,2024-01-08 15:00:00,10,92,108,160',
    ].join('\n'),
  );
  const s = await open(dir);
  assert.equal(s.store.schema.bars.period, 'day');
  const trades = await storeRows(s, `SELECT trade_id, bars_held, mae, mfe FROM trades ORDER BY trade_id`);
  assert.deepEqual(trades.map((t) => [Number(t.trade_id), Number(t.bars_held)]), [[1, 3], [2, 3]]);
  assertNear(Number(trades[0]!.mae), 0, 'mae at the closes (lowest close held 95 > 90)');
  assertNear(Number(trades[0]!.mfe), 120 / 90 - 1, 'mfe at the closes');
  assertNear(Number(trades[1]!.mae), 90 / 92 - 1, 'mae during the day');
  assertNear(Number(trades[1]!.mfe), 120 / 92 - 1, 'mfe during the day');
  const findings = await storeRows(s, `SELECT problem FROM data_quality WHERE column_name = 'side'`);
  assert.deepEqual(findings, [], 'no side findings');
});

test('pyfolio frames (daily positions, intraday fills): no false side findings', async () => {
  const s = await open(pyfolio.parquetDir);
  assert.equal(s.store.schema.bars.period, 'day');
  const findings = await storeRows(s, `SELECT problem, message FROM data_quality WHERE column_name = 'side'`);
  assert.deepEqual(findings, []);
});
