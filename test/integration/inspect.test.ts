// `tickscope inspect`: a dry run. On the tiny fixture every column is found by name (the run by
// its hive partition) and nothing is suggested; on a dataset with renamed columns it suggests
// the tickscope.json that makes prepare succeed, and leaves an ambiguous column to the user;
// files a format adapter recognises are listed with it. Nothing is written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pyfolioFixture } from '../../fixtures/formats/pyfolio.js';
import { inspectDataset, type InspectReport } from '../../server/prepare/inspect.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { tinyDataset } from '../support/datasets.js';
import { mem } from '../support/duckdb.js';
import { CLI_ENTRY as CLI } from '../support/cli.js';

const run = promisify(execFile);

let tmp = '';

async function parquet(file: string, select: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await mem((q) => q(`COPY (${select}) TO '${file}' (FORMAT parquet)`));
}

async function inspectJson(...args: string[]): Promise<InspectReport> {
  return JSON.parse((await run(process.execPath, [CLI, 'inspect', ...args, '--json'])).stdout) as InspectReport;
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-inspect-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('inspect --json on the tiny fixture: every table and column found, nothing to suggest', async () => {
  const tiny = await tinyDataset();
  const before = (await readdir(tiny, { recursive: true })).sort();
  const r = await inspectJson(tiny);
  assert.equal(r.ready, true);
  assert.deepEqual(r.suggestion, {});
  assert.equal(r.description.path, path.join(tiny, 'tickscope.json'));
  assert.equal(r.description.found, false);
  assert.deepEqual(r.tables.map((t) => t.table), ['bars', 'trades', 'symbols', 'runs']);
  const bars = r.tables[0]!;
  const from = Object.fromEntries(bars.columns.map((c) => [c.canonical, c.from]));
  assert.equal(from['run_id'], 'hive');
  assert.equal(from['ts'], 'name');
  assert.deepEqual(bars.missing.filter((m) => m.required), []);
  assert.equal(bars.sample.length, 3);
  const runsFile = r.files.find((f) => f.path.endsWith('runs.arrow'))!;
  assert.equal(runsFile.format, 'arrow-file');
  assert.equal(runsFile.recognisedAs, 'runs');
  // A dry run: nothing written beside the data.
  assert.deepEqual((await readdir(tiny, { recursive: true })).sort(), before);
});

test('inspect on renamed columns suggests the tickscope.json that makes prepare succeed', async () => {
  const dir = path.join(tmp, 'renamed');
  // ts and symbol go by names no alias knows; price and pnl are found by alias; one extra number.
  await parquet(
    path.join(dir, 'bars.parquet'),
    `SELECT TIMESTAMP '2024-03-01 09:00:00' + to_minutes((5 * i)::INTEGER) AS "Stamp", 'AAA' AS "Code", 10.0 + i AS close,
       2.0 AS "Held", 0.25 * i AS profit FROM range(6) t(i)`,
  );
  const r = await inspectJson(dir);
  assert.equal(r.ready, false);
  const bars = r.tables[0]!;
  assert.deepEqual(
    bars.columns.filter((c) => c.from === 'alias').map((c) => [c.canonical, c.column]),
    [['price', 'close'], ['pnl', 'profit']],
  );
  const missing = Object.fromEntries(bars.missing.filter((m) => m.required).map((m) => [m.canonical, m.likely]));
  assert.deepEqual(missing, { ts: ['Stamp'], symbol: ['Code'], position_qty: ['Held'] });
  assert.deepEqual(r.suggestion, { bars: { ts: 'Stamp', symbol: 'Code', position_qty: 'Held' } });
  // The text report says the same to a person.
  const text = (await run(process.execPath, [CLI, 'inspect', dir])).stdout;
  assert.match(text, /ts\s+MISSING \(required\); could be Stamp/);
  assert.match(text, /"position_qty": "Held"/);

  await writeFile(path.join(dir, 'tickscope.json'), JSON.stringify(r.suggestion));
  const prepared = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores') });
  assert.equal(prepared.reused, false);
  const after = await inspectDataset({ inputs: [dir] });
  assert.equal(after.ready, true);
  assert.deepEqual(after.suggestion, r.suggestion);
});

test('a column two canonical columns could be is listed, not guessed', async () => {
  const dir = path.join(tmp, 'ambiguous');
  await parquet(
    path.join(dir, 'bars.parquet'),
    `SELECT TIMESTAMP '2024-03-01 09:00:00' + to_minutes((5 * i)::INTEGER) AS ts, 'AAA' AS symbol, 10.0 AS close, 2.0 AS "A", 1.0 AS "B" FROM range(3) t(i)`,
  );
  const r = await inspectDataset({ inputs: [dir] });
  const missing = Object.fromEntries(r.tables[0]!.missing.filter((m) => m.required).map((m) => [m.canonical, m.candidates]));
  assert.deepEqual(missing, { position_qty: ['A', 'B'], pnl: ['A', 'B'] });
  assert.deepEqual(r.suggestion, {});
});

test('files a format adapter recognises are listed with it', async () => {
  const { parquetDir } = await pyfolioFixture();
  const r = await inspectDataset({ inputs: [parquetDir] });
  assert.equal(r.formats.length, 1);
  assert.match(r.formats[0]!.summary, /pyfolio/);
  for (const f of r.files) assert.match(f.recognisedAs, /pyfolio/, f.path);
});
