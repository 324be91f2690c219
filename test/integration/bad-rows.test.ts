// Bad rows: under onBadRows "fail" (the default) every problem of the dataset comes in one error
// with where to write the fix; under "drop" the rest is kept (the good copy of a duplicated key),
// what was dropped is in the store's data_quality table and reaches GET /api/datasets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DatasetInfo } from '../../shared/http-api.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { startTestServer } from '../support/control-server.js';
import { mem, withDb } from '../support/duckdb.js';

let tmp = '';
let dataset = '';

/** Ten good bars of AAA, then: a NaN price, a null symbol, a key twice (both good), a key twice (the first copy NaN). */
const BARS = `
  WITH good AS (
    SELECT 'r1' AS run_id, TIMESTAMP '2024-01-02 14:35:00' + to_minutes((5 * i)::INTEGER) AS ts, 'AAA' AS symbol, 10.0 + i AS price,
      1.0 AS position_qty, 10.0 AS position_value, 0.0 AS trade_qty, 0.0 AS fees, 0.5 AS pnl, i
    FROM range(10) t(i))
  SELECT * EXCLUDE (i) FROM (
    SELECT * FROM good
    UNION ALL SELECT * REPLACE ('NaN'::DOUBLE AS price, ts + INTERVAL 1 DAY AS ts, 100 + i AS i) FROM good WHERE i = 0
    UNION ALL SELECT * REPLACE (NULL AS symbol, 200 + i AS i) FROM good WHERE i = 1
    UNION ALL SELECT * REPLACE (300 + i AS i) FROM good WHERE i = 2
    UNION ALL SELECT * REPLACE ('NaN'::DOUBLE AS price, -1 AS i) FROM good WHERE i = 3)
  ORDER BY i`;

/** Trades 0, 1 (NaN P&L) and 2, then trade 2 again. */
const TRADES = `SELECT 'r1' AS run_id, least(i, 2) AS trade_id, 'AAA' AS symbol, TIMESTAMP '2024-01-02 14:35:00' AS entry_ts,
    CASE WHEN i = 1 THEN 'NaN'::DOUBLE ELSE 1.0 END AS pnl FROM range(4) t(i)`;

async function parquet(file: string, select: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await mem((q) => q(`COPY (${select}) TO '${file}' (FORMAT parquet)`));
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-bad-rows-'));
  dataset = path.join(tmp, 'bad');
  await parquet(path.join(dataset, 'bars.parquet'), BARS);
  await parquet(path.join(dataset, 'trades.parquet'), TRADES);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('fail (the default): one error names every problem, and where to write the fix', async () => {
  await assert.rejects(prepareDataset({ input: dataset, storeDir: path.join(tmp, 'stores-fail') }), (e: Error) => {
    assert.equal(e.name, 'PrepareError');
    assert.match(e.message, /5 problem\(s\) in the dataset's rows/);
    assert.match(e.message, /duplicate key \(run_id, trade_id\) = \(r1, 2\) appears 2 times/);
    assert.match(e.message, /key column 'symbol' \(symbol\) has 1 null value\(s\)/);
    assert.match(e.message, /column 'price' \(price\) has 2 NaN or infinite value\(s\)/);
    assert.match(e.message, /duplicate key \(run_id, symbol, ts\) = \(r1, AAA, 2024-01-02 14:45:00\) appears 2 times \(2 row\(s\) in all repeat a key\)/);
    assert.match(e.message, /trades in .*trades\.parquet: column 'pnl' \(pnl\) has 1 NaN or infinite value\(s\)/);
    assert.ok(e.message.includes(`add "onBadRows": "drop" to ${path.join(dataset, 'tickscope.json')}`), e.message);
    assert.ok(e.message.includes(path.join(dataset, 'bars.parquet')), e.message);
    return true;
  });
});

test('drop: the rest is kept, the good copy of a duplicated key stays, the drops are recorded', async () => {
  const r = await prepareDataset({ input: dataset, storeDir: path.join(tmp, 'stores-drop'), onBadRows: 'drop' });
  await withDb(r.storePath, async (q) => {
    const bars = await q(`SELECT ts::VARCHAR AS ts, price FROM bars ORDER BY ts`);
    // 10 good bars; the NaN bar of the next day, the null symbol and the repeated copies are gone.
    assert.equal(bars.length, 10);
    assert.deepEqual(
      bars.map((b) => Number(b['price'])),
      Array.from({ length: 10 }, (_, i) => 10 + i),
    );
    assert.equal(Number((await q(`SELECT count(*) AS n FROM trades`))[0]!['n']), 2);
    const dq = await q(`SELECT kind, table_name, column_name, problem, count::INTEGER AS count, examples FROM data_quality ORDER BY table_name, problem, column_name`);
    assert.deepEqual(
      dq.map((d) => [d['kind'], d['table_name'], d['column_name'], d['problem'], d['count']]),
      [
        ['dropped', 'bars', 'price', 'NaN or infinite value', 2],
        ['dropped', 'bars', null, 'duplicate key', 1],
        ['dropped', 'bars', 'symbol', 'null key', 1],
        ['dropped', 'trades', 'pnl', 'NaN or infinite value', 1],
        ['dropped', 'trades', null, 'duplicate key', 1],
      ],
    );
    assert.deepEqual((await q(`SELECT trade_id FROM trades ORDER BY trade_id`)).map((t) => Number(t['trade_id'])), [0, 2]);
    assert.match(String(dq[1]!['examples']), /2024-01-02 14:45:00/);
  });
  assert.equal(r.dataQuality.length, 5);
  assert.ok(r.dataQuality.every((e) => e.kind === 'dropped' && e.examples.length > 0 && e.message.length > 0));
  // The same inputs and description: the store is reused, with its list.
  const again = await prepareDataset({ input: dataset, storeDir: path.join(tmp, 'stores-drop'), onBadRows: 'drop' });
  assert.equal(again.reused, true);
  assert.deepEqual(again.dataQuality, r.dataQuality);
});

test('drop from tickscope.json: the counts and examples reach GET /api/datasets', async () => {
  const described = path.join(tmp, 'described');
  await parquet(path.join(described, 'bars.parquet'), BARS);
  await parquet(path.join(described, 'trades.parquet'), TRADES);
  await writeFile(path.join(described, 'tickscope.json'), JSON.stringify({ onBadRows: 'drop' }));
  const server = await startTestServer({ datasets: [{ id: 'bad', input: described }], storeDir: path.join(tmp, 'stores-server') });
  try {
    await server.datasets.whenReady('bad');
    const list = (await (await fetch(`${server.url}/api/datasets`)).json()) as DatasetInfo[];
    const info = list.find((d) => d.id === 'bad')!;
    assert.equal(info.state, 'ready');
    assert.equal(info.descriptionPath, path.join(described, 'tickscope.json'));
    const counts = Object.fromEntries(info.dataQuality.map((e) => [`${e.table}.${e.column ?? '*'} ${e.problem}`, e.count]));
    assert.deepEqual(counts, {
      'bars.symbol null key': 1,
      'bars.price NaN or infinite value': 2,
      'bars.* duplicate key': 1,
      'trades.pnl NaN or infinite value': 1,
      'trades.* duplicate key': 1,
    });
    assert.ok(info.dataQuality.every((e) => e.examples.length > 0));
  } finally {
    await server.close();
  }
});

test('text that is not a timestamp is one more problem in the list, reported once', async () => {
  const dir = path.join(tmp, 'text-ts');
  await parquet(
    path.join(dir, 'bars.parquet'),
    `SELECT 'r1' AS run_id, CASE WHEN i = 2 THEN 'yesterday' ELSE (TIMESTAMP '2024-01-02 14:35:00' + to_minutes((5 * i)::INTEGER))::VARCHAR END AS ts,
       'AAA' AS symbol, 10.0 AS price, 1.0 AS position_qty, CASE WHEN i = 4 THEN 'NaN'::DOUBLE ELSE 0.5 END AS pnl FROM range(6) t(i)`,
  );
  await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-text') }), (e: Error) => {
    assert.match(e.message, /2 problem\(s\)/);
    assert.match(e.message, /column 'ts' \(ts\) has 1 value\(s\) that are not timestamps, e\.g\. "yesterday"/);
    assert.match(e.message, /column 'pnl' \(pnl\) has 1 NaN/);
    return true;
  });
  const r = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-text'), onBadRows: 'drop' });
  assert.deepEqual(
    r.dataQuality.map((e) => [e.column, e.problem, e.count]),
    [
      ['ts', 'unparsable timestamp', 1],
      ['pnl', 'NaN or infinite value', 1],
    ],
  );
  await withDb(r.storePath, async (q) => assert.equal(Number((await q(`SELECT count(*) AS n FROM bars`))[0]!['n']), 4));
});
