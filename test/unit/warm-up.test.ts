// The bar tables' warm-up (server/session/warm-up.ts) reads what it says: each probe makes DuckDB
// test every row group's zone map and scan at most one row group, and matches no row. Measured with
// DuckDB's own profiler (rows scanned) on bar tables of a million rows in the store's sort orders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { barTableProbes } from '../../server/session/warm-up.js';

const ROWS = 1_000_000;
/** DuckDB's row group size: a probe scans at most the one its value falls in. */
const ROW_GROUP = 122_880;
const FIRST_BAR = Date.UTC(2024, 0, 2, 14, 35);

test('each bar-table probe scans at most one row group of a million rows and matches none', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-warm-up-'));
  const instance = await DuckDBInstance.create(path.join(dir, 'store.duckdb'));
  const connection = await instance.connect();
  try {
    const symbols = Array.from({ length: 1000 }, (_, i) => `S${String(i).padStart(4, '0')}`);
    // bars in (symbol, ts) order, bars_by_time in ts order, as preparation writes them.
    await connection.run(`CREATE TABLE bars AS SELECT 'S' || lpad((i // 1000)::VARCHAR, 4, '0') AS symbol,
      make_timestamp(${FIRST_BAR * 1000} + (i % 1000) * 300000000) AS ts, i::DOUBLE AS pnl FROM range(${ROWS}) t(i) ORDER BY symbol, ts`);
    await connection.run(`CREATE TABLE bars_by_time AS SELECT make_timestamp(${FIRST_BAR * 1000} + i * 300000000) AS ts,
      'S' || lpad((i % 1000)::VARCHAR, 4, '0') AS symbol, i::DOUBLE AS pnl FROM range(${ROWS}) t(i) ORDER BY ts`);
    await connection.run('CHECKPOINT');
    const probes = barTableProbes({
      symbols: new Map(symbols.reverse().map((s) => [s, 'Tech'])),
      days: [{ iso: '2024-01-02', first: FIRST_BAR, last: FIRST_BAR + 6 * 3_600_000 }],
    });
    assert.deepEqual(probes.map((p) => /FROM (\w+)/.exec(p.sql)?.[1]), ['bars', 'bars_by_time']);
    const profile = path.join(dir, 'profile.json');
    await connection.run(`PRAGMA enable_profiling = 'json'`);
    await connection.run(`PRAGMA profiling_output = '${profile}'`);
    for (const probe of probes) {
      const reader = await connection.runAndReadAll(probe.sql, probe.params);
      assert.equal(Number(reader.getRows()[0]![0]), 0, `${probe.sql} matched rows`);
      const scanned = (JSON.parse(await readFile(profile, 'utf8')) as { cumulative_rows_scanned: number }).cumulative_rows_scanned;
      assert.ok(scanned > 0 && scanned <= ROW_GROUP, `${probe.sql} scanned ${scanned} rows of ${ROWS}`);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a store with no symbols or no days has nothing to probe', () => {
  assert.deepEqual(barTableProbes({ symbols: new Map(), days: [{ iso: '2024-01-02', first: FIRST_BAR, last: FIRST_BAR }] }), []);
  assert.deepEqual(barTableProbes({ symbols: new Map([['A', 'Tech']]), days: [] }), []);
});
