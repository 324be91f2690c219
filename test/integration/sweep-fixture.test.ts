// The sweep-small fixture through the real preparation: its runs keep their grid parameters and
// capital, its bars are recognised as daily, and its trades reconcile with its bars.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureFixtures, fixtureCacheDir, generateFixtures, MANIFEST_FILE, readManifest, SCALES } from '../../fixtures/generate.js';
import { SWEEP_CAPITAL, SWEEP_MODEL_VERSION, SWEEP_SMALL_GRID, sweepRuns } from '../../fixtures/sweep.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { planLeaderboard } from '../../server/session/queries/leaderboard.js';
import type { Lookup } from '../../server/session/queries/plan.js';
import { openStore } from '../../server/session/store.js';
import { defaultPinFor } from '../../server/session/warm-up.js';
import { withDb } from '../support/duckdb.js';

let tmp = '';
let fixture = '';
let storePath = '';
const runs = sweepRuns(SWEEP_SMALL_GRID);

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-sweep-fixture-'));
  fixture = (await generateFixtures({ scale: 'sweep-small', seed: 7, outDir: path.join(tmp, 'a'), threads: 1 })).outDir;
  storePath = (await prepareDataset({ input: fixture, storeDir: path.join(tmp, 'stores') })).storePath;
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Every file of a fixture folder (the manifest aside: it records when it was written) -> sha256. */
async function fileHashes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name === MANIFEST_FILE) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.set(path.relative(dir, file), createHash('sha256').update(await readFile(file)).digest('hex'));
  }
  return out;
}

test('sweep-small: the same seed gives the same files, whatever the thread count; another seed others', async () => {
  const again = await generateFixtures({ scale: 'sweep-small', seed: 7, outDir: path.join(tmp, 'b'), threads: 2 });
  const other = await generateFixtures({ scale: 'sweep-small', seed: 8, outDir: path.join(tmp, 'c') });
  const a = await fileHashes(fixture);
  assert.equal(a.size, runs.length + 3, [...a.keys()].join(', ')); // one bars file per run, trades, symbols, runs
  assert.deepEqual(await fileHashes(again.outDir), a);
  const c = await fileHashes(other.outDir);
  assert.notEqual(c.get(path.join('trades', 'trades.parquet')), a.get(path.join('trades', 'trades.parquet')));
  assert.notEqual(c.get(path.join('bars', `run_id=${runs[0]!.run_id}`, 'part-0.parquet')), a.get(path.join('bars', `run_id=${runs[0]!.run_id}`, 'part-0.parquet')));
  // runs.arrow holds no randomness: the same for every seed.
  assert.equal(c.get('runs.arrow'), a.get('runs.arrow'));
});

test('sweep-small: the manifest counts what was written', async () => {
  const m = readManifest(fixture)!;
  const s = SCALES['sweep-small'];
  assert.equal(m.scale, 'sweep-small');
  assert.equal(m.runs, runs.length);
  // A bar only where a symbol is held or traded: fewer than every symbol every day of every run.
  assert.ok(m.bar_rows > 0 && m.bar_rows < runs.length * s.symbols * s.days, `${m.bar_rows} bars`);
  await withDb(storePath, async (q) => {
    const [n] = await q(`SELECT (SELECT count(*) FROM bars)::INTEGER AS bars, (SELECT count(*) FROM trades)::INTEGER AS trades`);
    assert.deepEqual(n, { bars: m.bar_rows, trades: m.trade_rows });
    assert.ok(m.trade_rows > runs.length * 10, `${m.trade_rows} trades`);
  });
});

test('sweep-small prepared: every run has its grid parameters and its capital', async () => {
  await withDb(storePath, async (q) => {
    const rows = await q(`SELECT run_id, name, params, capital, capital_source FROM runs ORDER BY run_id`);
    assert.deepEqual(rows.map((r) => r['run_id']), runs.map((r) => r.run_id));
    for (const [i, run] of runs.entries()) {
      const row = rows[i]!;
      assert.equal(row['name'], run.name);
      assert.deepEqual(JSON.parse(String(row['params'])), run.params, run.run_id);
      assert.equal(row['capital'], SWEEP_CAPITAL, run.run_id);
      assert.equal(row['capital_source'], 'runs.capital', run.run_id);
    }
  });
  // The session's catalog reads them as numbers, the leaderboard's parameter columns.
  const store = await openStore({ storePath, memoryLimit: '256MB', threads: 1 });
  try {
    for (const run of runs) {
      const info = store.catalog.runs.get(run.run_id);
      assert.ok(info, run.run_id);
      assert.deepEqual(info.params, { lookback: run.params.lookback, quantile: run.params.quantile, hold_days: run.params.hold_days });
      assert.equal(info.capital, SWEEP_CAPITAL);
    }
  } finally {
    store.close();
  }
  // The grid is complete: every combination of the parameter values is one run.
  const combos = new Set(runs.map((r) => JSON.stringify(r.params)));
  assert.equal(combos.size, SWEEP_SMALL_GRID.lookback.length * SWEEP_SMALL_GRID.quantile.length * SWEEP_SMALL_GRID.hold_days.length);
});

test('sweep-small prepared: bars are daily, stamped at midnight, one per day a symbol is held or traded', async () => {
  const s = SCALES['sweep-small'];
  await withDb(storePath, async (q) => {
    const [period] = await q(`SELECT value FROM meta WHERE key = 'bar_period'`);
    assert.equal(period?.['value'], 'day');
    const [shape] = await q(`SELECT count(*) FILTER (WHERE ts::TIME <> TIME '00:00:00')::INTEGER AS off_midnight,
        count(DISTINCT ts)::INTEGER AS days, max(isodow(ts))::INTEGER AS max_dow, count(DISTINCT symbol)::INTEGER AS symbols,
        (SELECT count(*) FROM (SELECT run_id, symbol, ts FROM bars GROUP BY ALL HAVING count(*) > 1))::INTEGER AS duplicates
      FROM bars`);
    assert.deepEqual(shape, { off_midnight: 0, days: s.days, max_dow: 5, symbols: s.symbols, duplicates: 0 });
    // No flat day is written (a flat bar is a position's exit), and none held is left out: a
    // symbol held at a day's close has a bar the next trading day (its P&L).
    const [gaps] = await q(`WITH d AS (SELECT ts, lead(ts) OVER (ORDER BY ts) AS next_ts FROM (SELECT DISTINCT ts FROM bars)),
        held AS (SELECT b.run_id, b.symbol, d.next_ts FROM bars b JOIN d USING (ts) WHERE b.position_qty <> 0 AND d.next_ts IS NOT NULL)
      SELECT (SELECT count(*) FROM bars WHERE position_qty = 0 AND trade_qty = 0)::INTEGER AS flat,
        (SELECT count(*) FROM held h WHERE NOT EXISTS (SELECT 1 FROM bars b WHERE b.run_id = h.run_id AND b.symbol = h.symbol AND b.ts = h.next_ts))::INTEGER AS missing`);
    assert.deepEqual(gaps, { flat: 0, missing: 0 });
    // Trades are stamped like the bars: at the date of the close they were filled at.
    const [t] = await q(`SELECT count(*) FILTER (WHERE entry_ts::TIME <> TIME '00:00:00' OR exit_ts::TIME <> TIME '00:00:00')::INTEGER AS off_midnight,
        count(*) FILTER (WHERE exit_ts <= entry_ts)::INTEGER AS not_after FROM trades`);
    assert.deepEqual(t, { off_midnight: 0, not_after: 0 });
  });
});

test('sweep-small prepared: trade P&L per run and symbol reconciles with the bars', async () => {
  await withDb(storePath, async (q) => {
    // Preparation's own reconciliation found nothing (no finding of any kind).
    assert.deepEqual(await q(`SELECT kind, problem, message FROM data_quality`), []);
    // The same by hand: every trade's P&L is its position's price move less its fees, and per run
    // and symbol the trades' P&L and fees add up to the bars'.
    const [own] = await q(`SELECT count(*)::INTEGER AS bad FROM trades
      WHERE abs(pnl - (CASE WHEN side = 'long' THEN 1 ELSE -1 END * qty * (exit_price - entry_price) - fees)) > 1e-6`);
    assert.equal(own?.['bad'], 0);
    const mismatched = await q(`WITH b AS (SELECT run_id, symbol, sum(pnl) AS pnl, sum(fees) AS fees FROM bars GROUP BY ALL),
        t AS (SELECT run_id, symbol, sum(pnl) AS pnl, sum(fees) AS fees FROM trades GROUP BY ALL)
      SELECT b.run_id, b.symbol, b.pnl AS bar_pnl, coalesce(t.pnl, 0) AS trade_pnl, b.fees AS bar_fees, coalesce(t.fees, 0) AS trade_fees
      FROM b LEFT JOIN t USING (run_id, symbol)
      WHERE abs(b.pnl - coalesce(t.pnl, 0)) > 1e-6 * (1 + abs(b.pnl)) OR abs(b.fees - coalesce(t.fees, 0)) > 1e-6 * (1 + b.fees)`);
    assert.deepEqual(mismatched, []);
    const [covered] = await q(`SELECT count(DISTINCT run_id)::INTEGER AS runs, count(*) FILTER (WHERE side = 'long')::INTEGER AS longs,
        count(*) FILTER (WHERE side = 'short')::INTEGER AS shorts FROM trades`);
    assert.equal(covered?.['runs'], runs.length);
    assert.ok(Number(covered?.['longs']) > 0 && Number(covered?.['shorts']) > 0, JSON.stringify(covered));
  });
});

test('sweep-small: a pool process ranks the default pin ahead of the tab, so the tab\'s first leaderboard (and a range of whole days) reads nothing', async () => {
  const store = await openStore({ storePath, memoryLimit: '256MB', threads: 1 });
  const connection = await store.instance.connect();
  try {
    let lookups = 0;
    const lookup: Lookup = async (sql, params) => {
      lookups++;
      return (await connection.runAndReadAll(sql, params)).getRows();
    };
    // What the tab asks first (client/src/specs.ts, sweepStatsSpec), and another range.
    const firstAsk = () => planLeaderboard({ sort: { column: 'sharpe', descending: true }, limit: 18 }, store.catalog)(lookup);
    const pin = await defaultPinFor(store);
    assert.ok(pin, 'more runs than a tab pins: a default pin');
    assert.equal(pin.of, store.catalog.runs.size);
    assert.equal(pin.runs.length, 4, 'the 3 best by Sharpe and the median run');
    const first = await firstAsk();
    assert.equal(lookups, 0, 'no look-up: the metrics were kept');
    assert.match(first.statements[0]!.sql, /WHERE FALSE/, 'no read: the kept metrics answer');
    // Another range of whole days: a slice of the whole days the warm-up kept (every trade of the
    // fixture closes on a day its run has a row, so they were kept).
    const other = await planLeaderboard({ from: Date.UTC(2024, 0, 20), sort: { column: 'sharpe' }, limit: 18 }, store.catalog)(lookup);
    assert.equal(lookups, 0, 'another range of whole days: no look-up');
    assert.match(other.statements[0]!.sql, /WHERE FALSE/);
    const sector = [...store.catalog.sectors][0]!;
    await planLeaderboard({ from: Date.UTC(2024, 0, 20), filters: { sectors: [sector] }, sort: { column: 'sharpe' }, limit: 18 }, store.catalog)(lookup);
    assert.ok(lookups > 0, 'a sector filter is computed from the store');
  } finally {
    connection.closeSync();
    store.close();
  }
});

test('sweep-small: a longer hold trades less often, a wider quantile holds more names', async () => {
  await withDb(storePath, async (q) => {
    const rows = await q(`SELECT r.params, count(t.trade_id)::INTEGER AS trades,
        (SELECT avg(n) FROM (SELECT count(*) AS n FROM bars b WHERE b.run_id = r.run_id AND b.position_qty <> 0 GROUP BY ts)) AS held
      FROM runs r LEFT JOIN trades t USING (run_id) GROUP BY r.run_id, r.params`);
    const by = new Map(rows.map((r) => [String(r['params']), r]));
    const at = (lookback: number, quantile: number, hold: number) => by.get(JSON.stringify({ lookback, quantile, hold_days: hold }))!;
    for (const lookback of SWEEP_SMALL_GRID.lookback) {
      for (const quantile of SWEEP_SMALL_GRID.quantile) {
        assert.ok(Number(at(lookback, quantile, 5)['trades']) < Number(at(lookback, quantile, 1)['trades']), `lookback ${lookback}, quantile ${quantile}`);
      }
      assert.ok(Number(at(lookback, 0.4, 1)['held']) > Number(at(lookback, 0.1, 1)['held']), `lookback ${lookback}`);
    }
  });
});

test('ensureFixtures: a cached sweep of another sweep model version is generated again', async () => {
  const seed = 987_654_322;
  const dir = fixtureCacheDir('sweep-small', seed);
  await rm(dir, { recursive: true, force: true });
  try {
    assert.equal(await ensureFixtures('sweep-small', seed), dir);
    assert.equal(readManifest(dir)!.sweep_model_version, SWEEP_MODEL_VERSION);
    const manifestPath = path.join(dir, MANIFEST_FILE);
    const manifest = readManifest(dir)!;
    await writeFile(manifestPath, JSON.stringify({ ...manifest, sweep_model_version: SWEEP_MODEL_VERSION - 1 }));
    assert.equal(await ensureFixtures('sweep-small', seed), dir);
    const again = readManifest(dir)!;
    assert.equal(again.sweep_model_version, SWEEP_MODEL_VERSION);
    assert.notEqual(again.generated_at, manifest.generated_at);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
