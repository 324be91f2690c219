import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { readFile, writeFile } from 'node:fs/promises';
import { tableFromIPC } from 'apache-arrow';
import {
  BARS_PER_DAY,
  ensureFixtures,
  fixtureCacheDir,
  generateFixtures,
  GENERATOR_VERSION,
  readManifest,
  repoRoot,
  RUNS,
  SCALES,
} from '../../fixtures/generate.js';

let tmp = '';

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  try {
    await con.run(`SET TimeZone = 'UTC'`);
    return (await con.runAndReadAll(sql)).getRowObjectsJson();
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

const bars = (dir: string) => `read_parquet('${dir}/bars/**/*.parquet', hive_partitioning = true)`;
const trades = (dir: string) => `read_parquet('${dir}/trades/*.parquet')`;

async function checksum(dir: string): Promise<string> {
  const [row] = await query(`SELECT
      (SELECT bit_xor(hash(run_id, ts, symbol, price, position_qty, position_value, trade_qty, fees, pnl)) FROM ${bars(dir)})::VARCHAR AS b,
      (SELECT bit_xor(hash(run_id, trade_id, symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees, pnl, mae, mfe, tag)) FROM ${trades(dir)})::VARCHAR AS t`);
  return `${String(row!['b'])}/${String(row!['t'])}`;
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-fx-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('tiny fixture: deterministic per seed, whatever the thread count', async () => {
  const a = await generateFixtures({ scale: 'tiny', seed: 1, outDir: path.join(tmp, 'a'), threads: 1 });
  const b = await generateFixtures({ scale: 'tiny', seed: 1, outDir: path.join(tmp, 'b'), threads: 4 });
  const c = await generateFixtures({ scale: 'tiny', seed: 2, outDir: path.join(tmp, 'c') });
  assert.equal(await checksum(a.outDir), await checksum(b.outDir));
  assert.notEqual(await checksum(a.outDir), await checksum(c.outDir));
  // No temporary siblings left behind.
  assert.deepEqual((await readdir(tmp)).sort(), ['a', 'b', 'c']);
});

test('tiny fixture: layout, row counts and columns', async () => {
  const dir = path.join(tmp, 'a');
  const s = SCALES.tiny;
  assert.ok(existsSync(path.join(dir, 'bars', 'run_id=base', 'part-0.parquet')));
  assert.ok(existsSync(path.join(dir, 'bars', 'run_id=alt', 'part-0.parquet')));
  assert.ok(existsSync(path.join(dir, 'trades', 'trades.parquet')));
  const cols = await query(`DESCRIBE SELECT * FROM ${bars(dir)}`);
  assert.deepEqual(
    cols.map((r) => r['column_name']).sort(),
    ['fees', 'pnl', 'position_qty', 'position_value', 'price', 'run_id', 'symbol', 'trade_qty', 'ts'],
  );
  assert.equal(cols.find((r) => r['column_name'] === 'ts')!['column_type'], 'TIMESTAMP');
  const tcols = await query(`DESCRIBE SELECT * FROM ${trades(dir)}`);
  assert.deepEqual(
    tcols.map((r) => r['column_name']),
    ['run_id', 'trade_id', 'symbol', 'side', 'entry_ts', 'exit_ts', 'qty', 'entry_price', 'exit_price', 'fees', 'pnl', 'ret', 'bars_held', 'mae', 'mfe', 'tag'],
  );
  const [c] = await query(`SELECT count(*) AS n, count(DISTINCT symbol) AS syms, count(DISTINCT run_id) AS runs,
      count(DISTINCT ts::DATE) AS days, min(ts)::VARCHAR AS first, max(isodow(ts)) AS maxdow,
      count(DISTINCT strftime(ts, '%H:%M')) AS slots FROM ${bars(dir)}`);
  assert.equal(Number(c!['n']), 2 * s.symbols * s.days * BARS_PER_DAY);
  assert.equal(Number(c!['syms']), s.symbols);
  assert.equal(Number(c!['runs']), 2);
  assert.equal(Number(c!['days']), s.days);
  assert.equal(c!['first'], '2024-01-02 14:35:00'); // 09:35 New York (EST) as UTC
  assert.ok(Number(c!['maxdow']) <= 5);
  assert.equal(Number(c!['slots']), BARS_PER_DAY);
  const [sym] = await query(`SELECT count(*) AS n, count(DISTINCT sector) AS sectors FROM '${dir}/symbols.parquet'`);
  assert.equal(Number(sym!['n']), s.symbols);
  assert.equal(Number(sym!['sectors']), s.sectors);
  // symbols.parquet is written by parquetjs-lite, runs.arrow by apache-arrow (IPC file format).
  const [meta] = await query(`SELECT created_by FROM parquet_file_metadata('${dir}/symbols.parquet')`);
  assert.match(String(meta!['created_by']), /parquet(js|\.js)/i);
  const bytes = await readFile(path.join(dir, 'runs.arrow'));
  assert.equal(bytes.subarray(0, 6).toString('latin1'), 'ARROW1');
  const runs = tableFromIPC(bytes).toArray().map((r) => ({ ...(r as { run_id: string; name: string; params: string }) }));
  assert.deepEqual(runs.map((r) => r.run_id), ['base', 'alt']);
  for (const r of runs) assert.equal(typeof JSON.parse(r.params).gross_notional, 'number');
  const manifest = readManifest(dir)!;
  assert.equal(manifest.generator_version, GENERATOR_VERSION);
  assert.equal(manifest.bar_rows, Number(c!['n']));
  // Some symbols flat on a given bar, some long, some short.
  const [mix] = await query(`SELECT count(*) FILTER (WHERE position_qty > 0) AS l, count(*) FILTER (WHERE position_qty < 0) AS s,
      count(*) FILTER (WHERE position_qty = 0) AS f FROM ${bars(dir)}`);
  for (const k of ['l', 's', 'f']) assert.ok(Number(mix![k]) > 0, k);
});

test('tiny fixture: bars and trades agree (pnl, fees, costs)', async () => {
  const dir = path.join(tmp, 'a');
  const rows = await query(`WITH b AS (SELECT run_id, sum(pnl) AS pnl, sum(fees) AS fees FROM ${bars(dir)} GROUP BY run_id),
      t AS (SELECT run_id, sum(pnl) AS pnl, sum(fees) AS fees, count(*) AS n FROM ${trades(dir)} GROUP BY run_id)
    SELECT b.run_id, b.pnl AS bp, t.pnl AS tp, b.fees AS bf, t.fees AS tf, t.n FROM b JOIN t USING (run_id)`);
  assert.equal(rows.length, 2);
  for (const r of rows) {
    assert.ok(Number(r['n']) > 0);
    assert.ok(Math.abs(Number(r['bp']) - Number(r['tp'])) < 1e-3 * Math.max(1, Math.abs(Number(r['bp']))), JSON.stringify(r));
    assert.ok(Math.abs(Number(r['bf']) - Number(r['tf'])) < 1e-6 * Number(r['bf']), JSON.stringify(r));
  }
  // Per-bar accounting: fees on the traded quantity, pnl = held position x price change - fees.
  const [bad] = await query(`WITH x AS (
      SELECT *, coalesce(lag(position_qty) OVER w, 0) AS prev_q, coalesce(lag(price) OVER w, price) AS prev_p
      FROM ${bars(dir)} WINDOW w AS (PARTITION BY run_id, symbol ORDER BY ts))
    SELECT count(*) FILTER (WHERE abs(fees - abs(trade_qty) * (0.005 + 0.0002 * price)) > 1e-6) AS fee_bad,
      count(*) FILTER (WHERE abs(pnl - (prev_q * (price - prev_p) - fees)) > 1e-6) AS pnl_bad,
      count(*) FILTER (WHERE trade_qty <> position_qty - prev_q) AS qty_bad FROM x`);
  assert.deepEqual(bad, { fee_bad: '0', pnl_bad: '0', qty_bad: '0' });
});

// Bar log returns of run `base`, market removed (cross-sectional mean per bar) and standardised
// per time-of-day slot (removes the U-shaped intraday profile): z(ts, symbol, slot, z).
const standardised = (dir: string) => `WITH px AS (SELECT DISTINCT ts, symbol, price FROM ${bars(dir)} WHERE run_id = 'base'),
  r AS (SELECT ts, symbol, ln(price / lag(price) OVER (PARTITION BY symbol ORDER BY ts)) AS r FROM px),
  d AS (SELECT ts, symbol, r - avg(r) OVER (PARTITION BY ts) AS x FROM r WHERE r IS NOT NULL),
  z AS (SELECT ts, symbol, strftime(ts, '%H:%M') AS slot, x / stddev_pop(x) OVER (PARTITION BY strftime(ts, '%H:%M')) AS z FROM d)`;

test('tiny fixture statistics: fat tails (kurtosis above the Gaussian)', async () => {
  const dir = path.join(tmp, 'a');
  const [k] = await query(`${standardised(dir)} SELECT kurtosis(z) AS k, count(*) AS n FROM z`);
  // Excess kurtosis: 0 for a Gaussian, 6 for unit-variance t(5) innovations (more with GARCH mixing).
  assert.ok(Number(k!['k']) > 1, `excess kurtosis ${String(k!['k'])} over ${String(k!['n'])} returns`);
});

test('tiny fixture statistics: volatility clusters (positive autocorrelation of absolute returns)', async () => {
  const dir = path.join(tmp, 'a');
  // Same symbol, same time of day, consecutive days: only the daily GARCH variance links them.
  const [day] = await query(`${standardised(dir)}
    SELECT corr(abs(z), abs(prev)) AS ac, count(*) AS n FROM (
      SELECT z, lag(z) OVER (PARTITION BY symbol, slot ORDER BY ts) AS prev FROM z) WHERE prev IS NOT NULL`);
  assert.ok(Number(day!['ac']) > 0.03, `autocorrelation of |z| a day apart: ${String(day!['ac'])} (n=${String(day!['n'])})`);
  // Consecutive bars too.
  const [bar] = await query(`${standardised(dir)}
    SELECT corr(abs(z), abs(prev)) AS ac FROM (
      SELECT z, lag(z) OVER (PARTITION BY symbol ORDER BY ts) AS prev FROM z) WHERE prev IS NOT NULL`);
  assert.ok(Number(bar!['ac']) > 0.03, `autocorrelation of |z| a bar apart: ${String(bar!['ac'])}`);
  // And the raw (unstandardised) returns show the U-shaped intraday profile: the open and the
  // close are more volatile than midday.
  const prof = await query(`WITH px AS (SELECT DISTINCT ts, symbol, price FROM ${bars(dir)} WHERE run_id = 'base'),
      r AS (SELECT ts, ln(price / lag(price) OVER (PARTITION BY symbol ORDER BY ts)) AS r FROM px)
    SELECT strftime(ts, '%H:%M') AS slot, stddev_pop(r) AS sd FROM r WHERE r IS NOT NULL GROUP BY slot ORDER BY slot`);
  const sd = prof.map((p) => Number(p['sd']));
  const mid = sd[Math.floor(sd.length / 2)]!;
  assert.ok(sd[0]! > 1.5 * mid && sd[sd.length - 1]! > 1.2 * mid, `intraday profile ${sd.map((x) => x.toExponential(2)).join(' ')}`);
});

test('tiny fixture statistics: 11 sectors, higher correlation within sectors than across', async () => {
  const dir = path.join(tmp, 'a');
  const [sec] = await query(`SELECT count(DISTINCT sector) AS n, min(c) AS lo FROM (SELECT sector, count(*) AS c FROM '${dir}/symbols.parquet' GROUP BY sector)`);
  assert.equal(Number(sec!['n']), 11);
  assert.ok(Number(sec!['lo']) >= 2, 'every sector has a pair of symbols');
  const r = `WITH px AS (SELECT DISTINCT ts, symbol, price FROM ${bars(dir)} WHERE run_id = 'base'),
    r AS (SELECT ts, symbol, ln(price / lag(price) OVER (PARTITION BY symbol ORDER BY ts)) AS r FROM px)`;
  const corr = await query(`${r}, s AS (SELECT r.*, sy.sector FROM r JOIN '${dir}/symbols.parquet' sy USING (symbol) WHERE r IS NOT NULL),
      pairs AS (SELECT a.sector = b.sector AS same, corr(a.r, b.r) AS c FROM s a JOIN s b ON a.ts = b.ts AND a.symbol < b.symbol GROUP BY a.symbol, b.symbol, same)
    SELECT same, avg(c) AS c, count(*) AS n FROM pairs GROUP BY same ORDER BY same`);
  const within = Number(corr.find((x) => x['same'] === true)!['c']);
  const across = Number(corr.find((x) => x['same'] === false)!['c']);
  assert.ok(within > across + 0.03, `within ${within} across ${across}`);
  assert.ok(across > 0, `market factor gives positive cross-sector correlation, got ${across}`);
});

test('tiny fixture: trades of both runs (rebalance periods, sides, tags, MAE/MFE, costs)', async () => {
  const dir = path.join(tmp, 'a');
  const s = SCALES.tiny;
  const rows = await query(`SELECT run_id, count(*) AS n, count(DISTINCT strftime(entry_ts, '%H:%M')) AS entry_slots,
      count(*) FILTER (WHERE side = 'long') AS longs, count(*) FILTER (WHERE side = 'short') AS shorts,
      count(*) FILTER (WHERE mae > 0 OR mfe < 0 OR ret IS NULL OR bars_held < 1 OR exit_ts <= entry_ts) AS bad,
      count(DISTINCT tag) AS tags, count(DISTINCT trade_id) AS ids
    FROM ${trades(dir)} GROUP BY run_id ORDER BY run_id`);
  const byRun = Object.fromEntries(rows.map((r) => [String(r['run_id']), r]));
  for (const run of RUNS) {
    const r = byRun[run.run_id]!;
    const p = run.params;
    // One trade per held (symbol, rebalance period): the held fraction of names at each rebalance.
    // percent_rank = rank / (n - 1): names at or above long_quantile, at or below short_quantile.
    const n = s.symbols;
    const heldNames = n - Math.ceil(p.long_quantile * (n - 1) - 1e-9) + Math.floor(p.short_quantile * (n - 1) + 1e-9) + 1;
    const expected = heldNames * s.days * p.rebalance_slots.length;
    assert.equal(Number(r['n']), expected, `${run.run_id}: trades`);
    assert.equal(Number(r['entry_slots']), p.rebalance_slots.length, run.run_id);
    assert.ok(Number(r['longs']) > 0 && Number(r['shorts']) > 0);
    assert.equal(Number(r['bad']), 0);
    assert.equal(Number(r['ids']), Number(r['n']));
    assert.ok(Number(r['tags']) >= 2);
  }
  // Costs: $0.005/share + 2 bps of notional on every share traded.
  const [fees] = await query(`SELECT sum(fees) AS f, sum(abs(trade_qty) * (0.005 + 0.0002 * price)) AS want FROM ${bars(dir)}`);
  assert.ok(Math.abs(Number(fees!['f']) - Number(fees!['want'])) < 1e-6 * Number(fees!['want']));
});

test('large scale parameters: 3,000 symbols x 504 days x 78 bars, two runs, 1M+ trades per run', () => {
  const l = SCALES.large;
  assert.equal(l.symbols * l.days * BARS_PER_DAY, 117_936_000);
  assert.equal(RUNS.length, 2);
  for (const run of RUNS) {
    const held = 1 - (run.params.long_quantile - run.params.short_quantile);
    assert.ok(held * l.symbols * l.days * run.params.rebalance_slots.length > 1_000_000, run.run_id);
  }
});

test('fixture cache dir and ensureFixtures', async () => {
  const seed = 987_654_321;
  const dir = fixtureCacheDir('tiny', seed);
  assert.equal(dir, path.join(repoRoot(), '.cache', 'fixtures', `tiny-seed${seed}`));
  assert.ok(existsSync(path.join(repoRoot(), 'package.json')));
  await rm(dir, { recursive: true, force: true });
  try {
    assert.equal(await ensureFixtures('tiny', seed), dir);
    assert.ok(existsSync(path.join(dir, 'runs.arrow')));
    const t0 = Date.now();
    assert.equal(await ensureFixtures('tiny', seed), dir); // present: no work
    assert.ok(Date.now() - t0 < 200);
    // A cached fixture from another generator version is regenerated in place.
    const manifestPath = path.join(dir, 'fixture.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { generator_version: number };
    await writeFile(manifestPath, JSON.stringify({ ...manifest, generator_version: GENERATOR_VERSION - 1 }));
    assert.equal(await ensureFixtures('tiny', seed), dir);
    assert.equal(readManifest(dir)!.generator_version, GENERATOR_VERSION);
    assert.deepEqual((await readdir(path.dirname(dir))).filter((f) => f.startsWith(`tiny-seed${seed}.`)), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
