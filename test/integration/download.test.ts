// Downloads over a real socket: a request with `download` answers with the file's bytes in data
// frames and a done naming the file. Each format is read back (DuckDB reads the CSV and the
// Parquet, apache-arrow the stream) and compared with the answer the view asks for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import type { DownloadFormat } from '../../shared/constants.js';
import type { ControlServer } from '../../server/control/app.js';
import { processAlive, startTestServer } from '../support/control-server.js';
import { SessionClient, createSession, rowsOf, type Answer } from '../support/session-client.js';

let server: ControlServer;
let client: SessionClient;
let scratch: string;
let duck: DuckDBConnection;

before(async () => {
  server = await startTestServer();
  const { wsUrl } = await createSession(server.url, { key: 'download-test' });
  client = await SessionClient.connect(server.url, wsUrl);
  scratch = await mkdtemp(path.join(tmpdir(), 'tickscope-download-test-'));
  duck = await (await DuckDBInstance.create(':memory:')).connect();
});

after(async () => {
  await client?.close();
  await server?.close();
  duck?.closeSync();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The downloaded file on disk (for DuckDB to read), and its bytes. */
async function saved(answer: Answer, format: DownloadFormat): Promise<{ file: string; bytes: Buffer }> {
  assert.ok(answer.done, JSON.stringify(answer.error));
  assert.ok(answer.file && answer.done.file, 'a download answers with a file');
  const bytes = Buffer.concat(answer.file);
  assert.equal(bytes.byteLength, answer.done.bytes, 'done counts the file bytes');
  const file = path.join(scratch, answer.done.file.name);
  assert.ok(answer.done.file.name.endsWith(format === 'arrow' ? '.arrows' : `.${format}`), answer.done.file.name);
  await writeFile(file, bytes);
  return { file, bytes };
}

async function readRows(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

test('a filtered, sorted trade list downloads whole as CSV, Parquet and Arrow, equal to the table\'s rows', async () => {
  const dataset = client.hello.dataset;
  const range = { from: dataset.range!.from + (dataset.range!.to - dataset.range!.from) * 0.2, to: dataset.range!.to };
  const params = { ...range, filters: { sides: ['long' as const], sectors: dataset.sectors.slice(0, 2) }, sort: { column: 'pnl' as const, descending: true } };
  // What the table shows, every row of it in one window (the tiny fixture has few enough).
  const shown = await client.ask('trades', { ...params, limit: 10_000 });
  assert.ok(shown.done && shown.done.total! > 10 && shown.done.total! < 10_000, JSON.stringify(shown.done ?? shown.error));
  const expected = rowsOf(shown);
  const ids = expected.map((r) => `${r.run_id}/${r.trade_id}`);
  const pnl = expected.map((r) => r.pnl as number);
  const entry = expected.map((r) => r.entry_ts as number);
  // The window on screen (offset, limit) does not cut the download.
  const window = { ...params, offset: 5, limit: 3 };

  const csv = await saved(await client.download('trades', window, 'csv'), 'csv');
  assert.match(csv.bytes.toString('utf8').split('\n')[0]!, /^run_id,trade_id,symbol,sector,side,entry_ts,exit_ts,/);
  const parquet = await saved(await client.download('trades', window, 'parquet'), 'parquet');
  for (const file of [csv.file, parquet.file]) {
    const rows = await readRows(`SELECT run_id, trade_id, pnl, epoch_ms(entry_ts) AS entry_ms FROM '${file}'`);
    assert.deepEqual(rows.map((r) => `${r.run_id}/${r.trade_id}`), ids, file);
    rows.forEach((r, i) => {
      assert.ok(Math.abs((r.pnl as number) - pnl[i]!) <= 1e-9 * Math.max(1, Math.abs(pnl[i]!)), `${file} row ${i} pnl`);
      assert.equal(Number(r.entry_ms), entry[i], `${file} row ${i} entry_ts`);
    });
  }
  const arrowAnswer = await client.download('trades', window, 'arrow');
  const arrow = tableFromIPC((await saved(arrowAnswer, 'arrow')).bytes);
  assert.equal(arrow.numRows, ids.length);
  assert.equal(arrowAnswer.done!.rows, ids.length);
  assert.deepEqual(arrow.toArray().map((r) => `${r.run_id}/${r.trade_id}`), ids);
  assert.deepEqual(Array.from(arrow.getChild('pnl')!.toArray() as Float64Array), pnl);
});

test('bars of the view, a breakdown and the episodes (computed in the session) download as files', async () => {
  const dataset = client.hello.dataset;
  const sector = dataset.sectors[0]!;
  const bars = await client.ask('export', { table: 'bars', filters: { sectors: [sector] } });
  const barsCsv = await saved(await client.download('export', { table: 'bars', filters: { sectors: [sector] } }, 'csv'), 'csv');
  const [count] = await readRows(`SELECT count(*)::INTEGER AS n, sum(pnl) AS pnl FROM '${barsCsv.file}'`);
  assert.equal(count!.n, bars.done!.rows);
  const barPnl = rowsOf(bars).reduce((sum, r) => sum + (r.pnl as number), 0);
  assert.ok(Math.abs((count!.pnl as number) - barPnl) < 1e-6 * Math.max(1, Math.abs(barPnl)));

  const breakdownParams = { by: 'symbol' as const, filters: { sectors: [sector] }, limit: 10_000 };
  const breakdown = rowsOf(await client.ask('breakdown', breakdownParams));
  const breakdownFile = await saved(await client.download('breakdown', breakdownParams, 'parquet'), 'parquet');
  const fromFile = await readRows(`SELECT * FROM '${breakdownFile.file}'`);
  assert.deepEqual(Object.keys(fromFile[0]!), Object.keys(breakdown[0]!), 'the same columns, the total left out');
  assert.deepEqual(fromFile.map((r) => r.key), breakdown.map((r) => r.key));

  const episodes = rowsOf(await client.ask('episodes', { limit: 5 }));
  const episodesFile = await saved(await client.download('episodes', { limit: 5 }, 'csv'), 'csv');
  const episodeRows = await readRows(`SELECT run_id, rank, epoch_ms(peak_ts) AS peak_ms, depth FROM read_csv('${episodesFile.file}')`);
  assert.equal(episodeRows.length, episodes.length);
  episodeRows.forEach((r, i) => {
    assert.equal(r.run_id, episodes[i]!.run_id);
    assert.equal(Number(r.peak_ms), episodes[i]!.peak_ts, 'epoch-ms times are written as timestamps');
    assert.ok(Math.abs((r.depth as number) - (episodes[i]!.depth as number)) < 1e-12);
  });
});

test('a query no view shows as a table is refused by name, and no temporary file is left behind', async () => {
  const answer = await client.download('summary', {}, 'csv');
  assert.equal(answer.error?.code, 'bad-params');
  assert.match(answer.error!.message, /summary cannot be downloaded/);
  // Folders of live session processes (a killed one's are cleared by the next session's start).
  const left = (await readdir(tmpdir())).filter((name) => {
    const pid = Number(/^tickscope-download-(\d+)-/.exec(name)?.[1]);
    return Number.isInteger(pid) && processAlive(pid);
  });
  assert.deepEqual(left, [], 'every download removed its file');
});
