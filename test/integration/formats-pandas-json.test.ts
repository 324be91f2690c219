// pandas frames saved with to_json in its layouts (pandas-json.ts): pyfolio's three frames
// (fixtures/formats/pyfolio.ts) as a pandas user would write them with to_json's defaults —
// transactions and positions orient='columns' with their DatetimeIndex as epoch milliseconds,
// returns a Series (orient='index') — and again as orient='split' and 'table'. Each must give
// the very answers the CSV frames give (those have tests of their own against the raw rows).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pyfolioFixture, type PyfolioFixture } from '../../fixtures/formats/pyfolio.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { mem } from '../support/duckdb.js';
import { LocalSession, type Ask } from '../support/local-session.js';

let fx: PyfolioFixture;
let tmp: string;
const sessions: LocalSession[] = [];

before(async () => {
  fx = await pyfolioFixture();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-pandas-json-'));
});

after(async () => {
  for (const s of sessions) s.close();
  await rm(tmp, { recursive: true, force: true });
});

type Cell = string | number | null;

/** A CSV frame of the fixture: its index (epoch milliseconds, as to_json writes a DatetimeIndex), its columns and its rows. */
async function frame(name: string): Promise<{ index: number[]; columns: string[]; rows: Cell[][] }> {
  return mem(async (q) => {
    const file = path.join(fx.csvDir, `${name}.csv`);
    // Each row as DuckDB's to_json writes it: numbers as numbers, text as text, NaN as null.
    const rows = (await q(`SELECT to_json(t)::VARCHAR AS j FROM read_csv('${file}') t`)).map((r) => JSON.parse(String(r.j)) as Record<string, Cell>);
    const [indexName, ...columns] = Object.keys(rows[0]!);
    const index = await q(`SELECT epoch_ms("${indexName}"::TIMESTAMPTZ)::DOUBLE AS ms FROM read_csv('${file}')`);
    return { index: index.map((r) => Number(r.ms)), columns, rows: rows.map((r) => columns.map((c) => r[c] ?? null)) };
  });
}

function orientColumns(f: Awaited<ReturnType<typeof frame>>): unknown {
  return Object.fromEntries(f.columns.map((c, j) => [c, Object.fromEntries(f.index.map((ms, i) => [String(ms), f.rows[i]![j]]))]));
}

function orientSplit(f: Awaited<ReturnType<typeof frame>>): unknown {
  return { columns: f.columns, index: f.index, data: f.rows };
}

function orientTable(f: Awaited<ReturnType<typeof frame>>, indexName: string): unknown {
  return {
    schema: { fields: [{ name: indexName, type: 'datetime', tz: 'UTC' }, ...f.columns.map((c) => ({ name: c, type: 'number' }))], primaryKey: [indexName], pandas_version: '1.4.0' },
    data: f.rows.map((r, i) => ({ [indexName]: new Date(f.index[i]!).toISOString(), ...Object.fromEntries(f.columns.map((c, j) => [c, r[j]])) })),
  };
}

async function writeFrames(dir: string, layout: (f: Awaited<ReturnType<typeof frame>>, name: string) => unknown): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of ['transactions', 'positions']) await writeFile(path.join(dir, `${name}.json`), JSON.stringify(layout(await frame(name), name)));
  // Series.to_json(): orient='index', the DatetimeIndex as epoch milliseconds.
  const returns = await frame('returns');
  await writeFile(path.join(dir, 'returns.json'), JSON.stringify(Object.fromEntries(returns.index.map((ms, i) => [String(ms), returns.rows[i]![0]]))));
}

const REQUESTS: Ask[] = [
  { query: 'trades', params: { limit: 10_000, sort: { column: 'entry_ts', descending: false } } },
  { query: 'summary', params: {} },
  { query: 'breakdown', params: { by: 'symbol', limit: 100 } },
];

async function assertSameAsCsv(dir: string): Promise<void> {
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.ok(report.formats.some((f) => f.summary.startsWith('zipline/pyfolio frames')), JSON.stringify(report.formats.map((f) => f.summary)));
  for (const f of report.files) assert.match(f.path, /\.json!\w+\.jsonl$/, `${f.path}: read as its rows`);
  const [json, csv] = [await LocalSession.open(dir), await LocalSession.open(fx.csvDir)];
  sessions.push(json, csv);
  const rowsOf = (rows: readonly Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();
  for (const request of REQUESTS) {
    const [got, want] = await Promise.all([json.ask(request), csv.ask(request)]);
    assert.ok(want.rows.length > 0);
    assert.deepEqual(rowsOf(got.rows), rowsOf(want.rows), `${request.query} ${JSON.stringify(request.params)}`);
  }
}

test("pyfolio's frames with to_json's defaults (orient='columns', a Series by its index): the CSV frames' answers", async () => {
  const dir = path.join(tmp, 'columns');
  await writeFrames(dir, orientColumns);
  await assertSameAsCsv(dir);
});

test("the same frames as orient='split' and orient='table': the same answers", async () => {
  await writeFrames(path.join(tmp, 'split'), orientSplit);
  await assertSameAsCsv(path.join(tmp, 'split'));
  await writeFrames(path.join(tmp, 'table'), (f, name) => orientTable(f, name === 'transactions' ? 'dt' : 'index'));
  await assertSameAsCsv(path.join(tmp, 'table'));
});
