import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { BARS_PER_DAY, ensureFixtures, fixtureCacheDir, generateFixtures, repoRoot, SCALES } from '../fixtures/generate.js';

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
  const runs = await query(`SELECT run_id, name, params FROM '${dir}/runs.parquet' ORDER BY run_id`);
  assert.deepEqual(runs.map((r) => r['run_id']), ['alt', 'base']);
  for (const r of runs) assert.equal(typeof JSON.parse(String(r['params'])).gross_notional, 'number');
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

test('tiny fixture: fat tails and sector structure', async () => {
  const dir = path.join(tmp, 'a');
  const r = `WITH px AS (SELECT DISTINCT ts, symbol, price FROM ${bars(dir)} WHERE run_id = 'base'),
    r AS (SELECT ts, symbol, ln(price / lag(price) OVER (PARTITION BY symbol ORDER BY ts)) AS r FROM px)`;
  // Remove the common (market) part per bar, standardise per time-of-day slot (U-shaped vol).
  const [k] = await query(`${r}, d AS (SELECT ts, r - avg(r) OVER (PARTITION BY ts) AS x FROM r WHERE r IS NOT NULL),
      z AS (SELECT x / stddev_pop(x) OVER (PARTITION BY strftime(ts, '%H:%M')) AS z FROM d)
    SELECT kurtosis(z) AS k FROM z`);
  assert.ok(Number(k!['k']) > 1, `excess kurtosis ${String(k!['k'])}`);
  const corr = await query(`${r}, s AS (SELECT r.*, sy.sector FROM r JOIN '${dir}/symbols.parquet' sy USING (symbol) WHERE r IS NOT NULL),
      pairs AS (SELECT a.sector = b.sector AS same, corr(a.r, b.r) AS c FROM s a JOIN s b ON a.ts = b.ts AND a.symbol < b.symbol GROUP BY a.symbol, b.symbol, same)
    SELECT same, avg(c) AS c, count(*) AS n FROM pairs GROUP BY same ORDER BY same`);
  const within = Number(corr.find((x) => x['same'] === true)!['c']);
  const across = Number(corr.find((x) => x['same'] === false)!['c']);
  assert.ok(within > across + 0.03, `within ${within} across ${across}`);
  assert.ok(across > 0, `market factor gives positive cross-sector correlation, got ${across}`);
});

test('fixture cache dir and ensureFixtures', async () => {
  const seed = 987_654_321;
  const dir = fixtureCacheDir('tiny', seed);
  assert.equal(dir, path.join(repoRoot(), '.cache', 'fixtures', `tiny-seed${seed}`));
  assert.ok(existsSync(path.join(repoRoot(), 'package.json')));
  await rm(dir, { recursive: true, force: true });
  try {
    assert.equal(await ensureFixtures('tiny', seed), dir);
    assert.ok(existsSync(path.join(dir, 'runs.parquet')));
    const t0 = Date.now();
    assert.equal(await ensureFixtures('tiny', seed), dir); // present: no work
    assert.ok(Date.now() - t0 < 200);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
