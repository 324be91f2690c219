import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { generateFixtures } from '../fixtures/generate.js';
import { prepareDataset } from '../server/prepare/prepare.js';
import { prepareInChild } from '../server/prepare/run-in-child.js';
import { META_TABLE, STORE_FORMAT_VERSION, StoreTable } from '../server/store/format.js';

let tmp = '';
let fixture = '';

async function withDb<T>(file: string, mode: 'READ_ONLY' | 'READ_WRITE', fn: (q: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T> {
  const inst = await DuckDBInstance.create(file, file === ':memory:' ? {} : { access_mode: mode });
  const con = await inst.connect();
  try {
    await con.run(`SET TimeZone = 'UTC'`);
    return await fn(async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson());
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}
const mem = <T>(fn: (q: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>) => withDb(':memory:', 'READ_WRITE', fn);

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-prep-'));
  fixture = (await generateFixtures({ scale: 'tiny', seed: 3, outDir: path.join(tmp, 'fixture') })).outDir;
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const COLUMNS: Record<string, string[]> = {
  runs: ['run_id', 'name', 'params'],
  symbols: ['symbol', 'sector', 'industry'],
  bars: ['run_id', 'ts', 'symbol', 'price', 'position_qty', 'position_value', 'trade_qty', 'fees', 'pnl'],
  trades: ['run_id', 'trade_id', 'symbol', 'side', 'entry_ts', 'exit_ts', 'qty', 'entry_price', 'exit_price', 'fees', 'pnl', 'ret', 'bars_held', 'mae', 'mfe', 'tag'],
  portfolio_bar: ['run_id', 'ts', 'pnl', 'fees', 'gross_exposure', 'net_exposure', 'long_exposure', 'short_exposure', 'trade_qty'],
  portfolio_day: ['run_id', 'day', 'pnl', 'fees', 'gross_exposure', 'net_exposure', 'bars'],
  symbol_day: ['run_id', 'symbol', 'day', 'pnl', 'fees', 'position_value', 'trade_qty'],
  sector_day: ['run_id', 'sector', 'day', 'pnl', 'fees', 'gross_exposure', 'net_exposure'],
  meta: ['key', 'value'],
};

test('prepare builds every table, sorted, with rollups matching an independent sum', async () => {
  const storeDir = path.join(tmp, 'stores');
  const phases: string[] = [];
  const r = await prepareDataset({ input: fixture, storeDir, onProgress: (p) => phases.push(p.phase) });
  assert.equal(r.reused, false);
  assert.match(r.fingerprint, /^[0-9a-f]{16}$/);
  assert.equal(r.storePath, path.join(storeDir, `${r.fingerprint}.duckdb`));
  for (const p of ['reading', 'sorting bars', 'rollups', 'trades', 'publishing']) assert.ok(phases.includes(p), p);
  assert.deepEqual(await readdir(storeDir), [`${r.fingerprint}.duckdb`]);

  await withDb(r.storePath, 'READ_ONLY', async (q) => {
    assert.deepEqual([...Object.values(StoreTable), META_TABLE].sort(), Object.keys(COLUMNS).sort());
    for (const [table, cols] of Object.entries(COLUMNS)) {
      const got = await q(`SELECT column_name FROM information_schema.columns WHERE table_name = '${table}' ORDER BY ordinal_position`);
      assert.deepEqual(got.map((x) => x['column_name']), cols, table);
    }
    const meta = Object.fromEntries((await q(`SELECT key, value FROM meta`)).map((x) => [x['key'], x['value']]));
    assert.equal(meta['format_version'], String(STORE_FORMAT_VERSION));
    assert.equal(meta['fingerprint'], r.fingerprint);
    assert.ok(Array.isArray(JSON.parse(String(meta['inputs']))));
    assert.ok(String(meta['timezone_note']).length > 0);
    assert.equal((await q(`SELECT count(*) AS n FROM symbols WHERE sector = 'Unknown'`))[0]!['n'], '0');
    assert.equal((await q(`SELECT count(*) AS n FROM runs`))[0]!['n'], '2');
    assert.equal((await q(`SELECT typeof(ts) AS t FROM bars LIMIT 1`))[0]!['t'], 'TIMESTAMP');

    // Physical order of bars is (run_id, symbol, ts).
    const keys = await q(`SELECT run_id, symbol, epoch_us(ts)::VARCHAR AS t FROM bars ORDER BY rowid`);
    assert.equal(keys.length, 2 * 12 * 10 * 78);
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    for (let i = 1; i < keys.length; i++) {
      const a = keys[i - 1]!;
      const b = keys[i]!;
      const order =
        cmp(String(a['run_id']), String(b['run_id'])) ||
        cmp(String(a['symbol']), String(b['symbol'])) ||
        Math.sign(Number(BigInt(String(a['t'])) - BigInt(String(b['t']))));
      assert.equal(order, -1, `bars row ${i} out of (run_id, symbol, ts) order`);
    }

    // portfolio_bar equals an independent sum in TypeScript over the raw parquet rows.
    const raw = await mem((m) =>
      m(`SELECT run_id, epoch_us(ts)::VARCHAR AS t, pnl, fees, position_value, trade_qty FROM read_parquet('${fixture}/bars/**/*.parquet', hive_partitioning = true)`),
    );
    const sums = new Map<string, number[]>();
    for (const row of raw) {
      const k = `${String(row['run_id'])}|${String(row['t'])}`;
      const s = sums.get(k) ?? [0, 0, 0, 0, 0, 0, 0];
      const pv = Number(row['position_value']);
      s[0]! += Number(row['pnl']);
      s[1]! += Number(row['fees']);
      s[2]! += Math.abs(pv);
      s[3]! += pv;
      s[4]! += pv > 0 ? pv : 0;
      s[5]! += pv < 0 ? pv : 0;
      s[6]! += Math.abs(Number(row['trade_qty']));
      sums.set(k, s);
    }
    const pb = await q(`SELECT run_id, epoch_us(ts)::VARCHAR AS t, pnl, fees, gross_exposure, net_exposure, long_exposure, short_exposure, trade_qty FROM portfolio_bar`);
    assert.equal(pb.length, sums.size);
    const names = ['pnl', 'fees', 'gross_exposure', 'net_exposure', 'long_exposure', 'short_exposure', 'trade_qty'];
    for (const row of pb) {
      const s = sums.get(`${String(row['run_id'])}|${String(row['t'])}`);
      assert.ok(s, 'portfolio_bar row without raw bars');
      names.forEach((n, i) => {
        const want = s[i]!;
        const got = Number(row[n]);
        assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${n}: ${got} vs ${want}`);
      });
    }
    // Day rollups agree with the bar table.
    const [chk] = await q(`SELECT
        (SELECT sum(pnl) FROM bars) AS b, (SELECT sum(pnl) FROM portfolio_day) AS pd,
        (SELECT sum(pnl) FROM symbol_day) AS sd, (SELECT sum(pnl) FROM sector_day) AS sec,
        (SELECT count(*) FROM portfolio_day) AS days, (SELECT min(bars) FROM portfolio_day) AS minbars`);
    for (const k of ['pd', 'sd', 'sec']) assert.ok(Math.abs(Number(chk![k]) - Number(chk!['b'])) < 1e-3, k);
    assert.equal(chk!['days'], '20');
    assert.equal(chk!['minbars'], '78');
    assert.equal((await q(`SELECT count(*) AS n FROM trades`))[0]!['n'], (await mem((m) => m(`SELECT count(*) AS n FROM '${fixture}/trades/trades.parquet'`)))[0]!['n']);
  });

  // Second call: reused, untouched.
  const before = await stat(r.storePath);
  const again = await prepareDataset({ input: fixture, storeDir });
  assert.deepEqual(again, { ...r, reused: true });
  assert.equal((await stat(r.storePath)).mtimeMs, before.mtimeMs);
});

test('a store with another format_version is rebuilt; nothing temporary is left', async () => {
  const storeDir = path.join(tmp, 'stores-v');
  const r = await prepareDataset({ input: fixture, storeDir });
  await withDb(r.storePath, 'READ_WRITE', (q) => q(`UPDATE meta SET value = '0' WHERE key = 'format_version'`));
  const r2 = await prepareDataset({ input: fixture, storeDir });
  assert.equal(r2.reused, false);
  assert.equal(r2.storePath, r.storePath);
  const v = await withDb(r.storePath, 'READ_ONLY', (q) => q(`SELECT value FROM meta WHERE key = 'format_version'`));
  assert.equal(v[0]!['value'], String(STORE_FORMAT_VERSION));
  // An unreadable file at the store path is rebuilt too.
  await writeFile(r.storePath, 'not a database');
  assert.equal((await prepareDataset({ input: fixture, storeDir })).reused, false);
  assert.deepEqual(await readdir(storeDir), [path.basename(r.storePath)]);
});

async function writeBars(dir: string, select: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await mem((m) => m(`COPY (${select}) TO '${path.join(dir, 'bars.parquet')}' (FORMAT parquet)`));
}
const GOOD_ROW = `SELECT 'r1' AS run_id, TIMESTAMP '2024-01-02 14:35:00' + to_minutes(5 * i::INTEGER) AS ts, 'AAA' AS symbol, 10.0 AS price,
  1.0 AS position_qty, 10.0 AS position_value, 0.0 AS trade_qty, 0.0 AS fees, 0.5 AS pnl FROM range(3) t(i)`;

test('clear errors for bad inputs', async () => {
  const storeDir = path.join(tmp, 'stores-bad');
  const missing = path.join(tmp, 'nope');
  await assert.rejects(prepareDataset({ input: missing, storeDir }), (e: Error) => e.message.includes(missing) && /does not exist/.test(e.message));

  const empty = path.join(tmp, 'empty');
  await mkdir(empty);
  await assert.rejects(prepareDataset({ input: empty, storeDir }), (e: Error) => e.message.includes(empty) && /no bars parquet/.test(e.message));

  const notParquet = path.join(tmp, 'not-parquet');
  await mkdir(notParquet);
  await writeFile(path.join(notParquet, 'bars.parquet'), 'run_id,ts\n1,2\n');
  await assert.rejects(prepareDataset({ input: notParquet, storeDir }), (e: Error) => {
    assert.ok(e.message.includes(path.join(notParquet, 'bars.parquet')), e.message);
    assert.match(e.message, /reading failed/);
    return true;
  });

  const noPnl = path.join(tmp, 'no-pnl');
  await writeBars(noPnl, `SELECT * EXCLUDE (pnl) FROM (${GOOD_ROW})`);
  await assert.rejects(prepareDataset({ input: noPnl, storeDir }), (e: Error) => {
    assert.ok(e.message.includes(path.join(noPnl, 'bars.parquet')), e.message);
    assert.match(e.message, /required column 'pnl' is missing/);
    return true;
  });

  const dup = path.join(tmp, 'dup');
  await writeBars(dup, `${GOOD_ROW} UNION ALL (${GOOD_ROW} LIMIT 1)`);
  await assert.rejects(prepareDataset({ input: dup, storeDir }), (e: Error) => {
    assert.ok(e.message.includes(dup), e.message);
    assert.match(e.message, /duplicate key \(run_id, symbol, ts\) = \(r1, AAA, 2024-01-02 14:35:00\)/);
    return true;
  });

  const nullKey = path.join(tmp, 'null-key');
  await writeBars(nullKey, `SELECT * REPLACE (CASE WHEN ts > TIMESTAMP '2024-01-02 14:36:00' THEN NULL ELSE symbol END AS symbol) FROM (${GOOD_ROW})`);
  await assert.rejects(prepareDataset({ input: nullKey, storeDir }), /key column 'symbol' \(symbol\) has 2 null value\(s\)/);

  // Nothing half-built was published or left behind.
  assert.deepEqual(await readdir(storeDir).catch(() => []), []);
});

test('common column names are mapped; symbols and runs derived when absent', async () => {
  const dir = path.join(tmp, 'aliases');
  await writeBars(dir, `SELECT ts AS dt, symbol AS ticker, price AS close, position_qty AS amount, pnl FROM (${GOOD_ROW})`);
  const r = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-alias') });
  await withDb(r.storePath, 'READ_ONLY', async (q) => {
    const [b] = await q(`SELECT count(*) AS n, any_value(run_id) AS run, sum(position_value) AS pv, sum(trade_qty) AS tq FROM bars`);
    assert.deepEqual(b, { n: '3', run: 'default', pv: 30, tq: 1 });
    assert.deepEqual(await q(`SELECT * FROM symbols`), [{ symbol: 'AAA', sector: 'Unknown', industry: 'Unknown' }]);
    assert.deepEqual(await q(`SELECT * FROM runs`), [{ run_id: 'default', name: 'default', params: null }]);
    assert.equal((await q(`SELECT count(*) AS n FROM trades`))[0]!['n'], '0');
  });
});

test('prepareInChild runs the preparation in a child process', async () => {
  const storeDir = path.join(tmp, 'stores-child');
  const phases: string[] = [];
  const r = await prepareInChild({ input: fixture, storeDir, onProgress: (p) => phases.push(p.phase) });
  assert.equal(r.reused, false);
  assert.ok(phases.length > 0);
  assert.deepEqual(await readdir(storeDir), [path.basename(r.storePath)]);
  await assert.rejects(prepareInChild({ input: path.join(tmp, 'nope'), storeDir }), /does not exist/);
  const ac = new AbortController();
  const p = prepareInChild({ input: fixture, storeDir: path.join(tmp, 'stores-abort'), signal: ac.signal });
  ac.abort();
  await assert.rejects(p, /abort/i);
});
