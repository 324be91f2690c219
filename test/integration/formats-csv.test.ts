// Canonical tables written as CSV with everyday column names (fixtures/formats/csv.ts): prepared
// without a mapping, served through the session's path, against the raw CSV text (every value
// read as text and parsed here) and against the same dataset prepared from its Parquet original.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { csvFixture } from '../../fixtures/formats/csv.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { mem } from '../support/duckdb.js';
import { LocalSession, type Ask } from '../support/local-session.js';
import { near } from '../support/checks.js';
import { startTestServer } from '../support/control-server.js';
import type { DatasetInfo } from '../../shared/http-api.js';

let csv: LocalSession;
let parquet: LocalSession;
let csvDir: string;
let tmp: string;
const others: LocalSession[] = [];

before(async () => {
  const fx = await csvFixture();
  csvDir = fx.csvDir;
  csv = await LocalSession.open(fx.csvDir);
  parquet = await LocalSession.open(fx.sourceDir);
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-csv-'));
});

after(async () => {
  csv?.close();
  parquet?.close();
  for (const s of others) s.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
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

test('CSV files compressed as pandas writes them (.csv.gz) or as zstd (.csv.zst) serve what the plain files serve', async () => {
  // trades and symbols gzipped byte for byte; the bars' part files re-written by DuckDB as zstd.
  const dir = path.join(tmp, 'compressed');
  await mkdir(dir, { recursive: true });
  await copyFile(path.join(csvDir, 'runs.arrow'), path.join(dir, 'runs.arrow'));
  for (const name of ['trades.csv', 'symbols.csv']) await writeFile(path.join(dir, `${name}.gz`), gzipSync(await readFile(path.join(csvDir, name))));
  for (const run of ['base', 'alt']) {
    const from = path.join(csvDir, 'bars', `run_id=${run}`, 'part-0.csv');
    const to = path.join(dir, 'bars', `run_id=${run}`, 'part-0.csv.zst');
    await mkdir(path.dirname(to), { recursive: true });
    await mem((q) => q(`COPY (SELECT * FROM read_csv('${from}', all_varchar = true, hive_partitioning = false)) TO '${to}' (FORMAT csv, HEADER, COMPRESSION zstd)`));
  }
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  const compressed = await LocalSession.open(dir, 1, { storeDir: path.join(tmp, 'stores') });
  others.push(compressed);
  const asks: Ask[] = [
    { query: 'summary', params: {} },
    { query: 'breakdown', params: { by: 'symbol', limit: 10_000 } },
    { query: 'breakdown', params: { by: 'sector', limit: 100 } },
    { query: 'trades', params: { limit: 10_000, sort: { column: 'pnl', descending: true } } },
  ];
  for (const ask of asks) {
    const [a, b] = await Promise.all([compressed.ask(ask), csv.ask(ask)]);
    assert.ok(b.rows.length > 0, `${ask.query}: the plain CSV dataset answers`);
    // The same text read by the same reader: the same numbers, not merely near ones.
    assert.deepEqual(a.rows, b.rows, `${ask.query} ${JSON.stringify(ask.params)}`);
  }
});

test('a file named .csv.gz that is not gzip is refused, naming the file and why', async () => {
  const dir = path.join(tmp, 'not-gzip');
  await mkdir(dir, { recursive: true });
  await copyFile(path.join(csvDir, 'trades.csv'), path.join(dir, 'trades.csv.gz'));
  await copyFile(path.join(csvDir, 'symbols.csv'), path.join(dir, 'symbols.csv'));
  const file = path.join(dir, 'trades.csv.gz');
  await assert.rejects(inspectDataset({ inputs: [dir] }), (err: Error) => {
    assert.ok(err.message.includes(`CSV input ${file} cannot be read`), err.message);
    assert.match(err.message, /not a GZIP stream/);
    return true;
  });
});

test('an archive beside data that was read is said, not silently left out: a trades.7z leaves the dataset without its trades', async () => {
  const dir = path.join(tmp, 'archive-beside');
  await mkdir(path.join(dir, 'bars', 'run_id=base'), { recursive: true });
  await copyFile(path.join(csvDir, 'bars', 'run_id=base', 'part-0.csv'), path.join(dir, 'bars', 'run_id=base', 'part-0.csv'));
  await copyFile(path.join(csvDir, 'symbols.csv'), path.join(dir, 'symbols.csv'));
  // A 7-Zip archive is not opened (a tar or zip is: archives.test.ts).
  const archive = path.join(dir, 'trades.7z');
  await writeFile(archive, Buffer.from('377abcaf271c0004', 'hex'));
  const why = `${archive} (an archive of a kind not opened: unpack it, or make it a zip or tar)`;
  const said = new RegExp(`^not read: ${why.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.match(report.notRead ?? '', said);
  const result = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores') });
  assert.deepEqual(result.unreadArchives, [why]);
  // Said again when the store is found prepared.
  const again = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores') });
  assert.equal(again.reused, true);
  assert.deepEqual(again.unreadArchives, [why]);
  // And to the analyst: the control server lists it with the dataset, for the UI's notice.
  const server = await startTestServer({ datasets: [{ id: 'beside', input: dir }], storeDir: path.join(tmp, 'stores') });
  try {
    await server.datasets.whenReady('beside');
    const list = (await (await fetch(`${server.url}/api/datasets`)).json()) as DatasetInfo[];
    assert.deepEqual(list.find((d) => d.id === 'beside')?.notRead, [why]);
  } finally {
    await server.close();
  }
});
