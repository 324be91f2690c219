// A backtest shared as an archive (server/prepare/archives/): the CSV fixture's tree (bars/run_id=<run>/,
// trades.csv, symbols.csv, runs.arrow) inside a .tar.gz, inside a plain .tar and inside a .zip,
// each read where its path inside the archive puts it, giving the CSV tree's answers; a file
// whose name says no table is left out and named; a member that would escape is not unpacked; a
// listing opens none of them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { csvFixture } from '../../fixtures/formats/csv.js';
import { writeZip } from '../../fixtures/formats/zip.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { resolveInputs } from '../../server/prepare/inputs/index.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { LocalSession, type Ask } from '../support/local-session.js';

let csvDir: string;
let tmp: string;
const sessions: LocalSession[] = [];

before(async () => {
  ({ csvDir } = await csvFixture());
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-archives-'));
});

after(async () => {
  for (const s of sessions) s.close();
  await rm(tmp, { recursive: true, force: true });
});

/** Every file under `dir`, relative, '/'-separated. */
async function filesUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, p)));
    else out.push(p);
  }
  return out;
}

const REQUESTS: Ask[] = [
  { query: 'trades', params: { limit: 10_000, sort: { column: 'entry_ts', descending: false } } },
  { query: 'summary', params: {} },
  { query: 'breakdown', params: { by: 'sector', limit: 100 } },
  { query: 'breakdown', params: { by: 'run', limit: 100 } },
];

async function assertSameAsTree(dir: string, archiveName: string): Promise<void> {
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.deepEqual(report.tables.map((t) => t.table).sort(), ['bars', 'runs', 'symbols', 'trades']);
  for (const f of report.files) assert.ok(f.path.startsWith(path.join(dir, `${archiveName}!`)), `${f.path}: named by the archive`);
  const [archived, tree] = [await LocalSession.open(dir), await LocalSession.open(csvDir)];
  sessions.push(archived, tree);
  const rowsOf = (rows: readonly Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();
  for (const request of REQUESTS) {
    const [got, want] = await Promise.all([archived.ask(request), tree.ask(request)]);
    assert.ok(want.rows.length > 0);
    assert.deepEqual(rowsOf(got.rows), rowsOf(want.rows), `${archiveName}: ${request.query} ${JSON.stringify(request.params)}`);
  }
}

test('a tar.gz, a tar and a zip of a dataset folder: each file read where its path puts it, the tree’s answers', async () => {
  const files = await filesUnder(csvDir);
  for (const [name, write] of [
    ['backtest.tar.gz', (file: string) => tar.c({ gzip: true, file, cwd: csvDir, portable: true }, files)],
    ['backtest.tar', (file: string) => tar.c({ file, cwd: path.dirname(csvDir), portable: true }, files.map((f) => `${path.basename(csvDir)}/${f}`))],
    ['backtest.zip', async (file: string) => writeZip(file, await Promise.all(files.map(async (f) => ({ name: `./${f}`, data: await readFile(path.join(csvDir, f)) }))))],
  ] as const) {
    const dir = path.join(tmp, name.replace(/\W/g, '-'));
    await mkdir(dir);
    await write(path.join(dir, name));
    await assertSameAsTree(dir, name);
  }
});

test('an archive’s file whose name says no table is left out and named; a member escaping the folder is not unpacked', async () => {
  const dir = path.join(tmp, 'unnamed');
  await mkdir(dir);
  await writeZip(path.join(dir, 'results.zip'), [
    { name: 'SampleStrategy.csv', data: 'Symbol,Qty\nAAPL,1\n' },
    { name: 'notes.txt', data: 'not data' },
  ]);
  await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores') }), (e: Error) => {
    assert.match(e.message, /results\.zip!SampleStrategy\.csv: a file of an archive whose name says no table \(columns: Symbol, Qty\)/);
    assert.doesNotMatch(e.message, /notes\.txt/);
    return true;
  });

  const evil = path.join(tmp, 'evil');
  await mkdir(path.join(evil, 'src'), { recursive: true });
  await writeFile(path.join(evil, 'src', 'trades.csv'), 'symbol,entry_ts,pnl\nAAPL,2024-01-02 09:35:00,1\n');
  const archive = path.join(evil, 'data', 'escape.tar');
  await mkdir(path.dirname(archive));
  // A name with `..` in it, as a hostile or careless archive holds one.
  await tar.c({ file: archive, cwd: path.join(evil, 'src'), portable: true, onWriteEntry: (e) => void (e.path = '../../trades.csv') } as tar.TarOptionsWithAliasesAsyncFile, ['trades.csv']);
  await rm(path.join(evil, 'src'), { recursive: true });
  await assert.rejects(prepareDataset({ input: path.join(evil, 'data'), storeDir: path.join(tmp, 'stores') }), /neither bars nor trades/);
  assert.deepEqual((await readdir(evil)).sort(), ['data'], 'nothing written outside');
});

test('a listing (the control server reads one every few seconds) opens no archive, report or workbook: it stamps each as it is', async () => {
  const dir = path.join(tmp, 'listing');
  await mkdir(dir);
  await writeFile(path.join(dir, 'trades.csv'), 'symbol,entry_ts,pnl\nAAPL,2024-01-02 09:35:00,1\n');
  // Each would be refused if opened: a workbook that is not a zip, a tar that is not a tar, a report.
  await writeFile(path.join(dir, 'book.xlsx'), 'not a zip');
  await writeFile(path.join(dir, 'old.tar.gz'), 'not a tar');
  await writeFile(path.join(dir, 'ReportTester.html'), '<table><tr><td>x</td></tr></table>');
  const listed = await resolveInputs([dir]);
  assert.deepEqual(listed.containers?.map((c) => [path.basename(c.path), c.size]).sort(), [['ReportTester.html', 34], ['book.xlsx', 9], ['old.tar.gz', 9]]);
  assert.deepEqual(listed.sources.trades?.files.map((f) => path.basename(f.path)), ['trades.csv']);
  await assert.rejects(resolveInputs([dir], { unpackTo: path.join(tmp, 'unpacked') }), /book\.xlsx cannot be read as an Excel workbook/, 'preparing opens them');
});

test('a damaged pickle, a damaged HDF5 file, an .xls: named with how to save them, not passed over in silence', async () => {
  const dir = path.join(tmp, 'pickles');
  await mkdir(dir);
  // A pickle and an HDF5 file cut short (both are read: formats-python-frames.test.ts), and an old Excel file.
  await writeFile(path.join(dir, 'perf.pickle'), Buffer.from('80049500', 'hex'));
  await writeFile(path.join(dir, 'frames.h5'), Buffer.from('894844460d0a1a0a', 'hex'));
  await writeFile(path.join(dir, 'trades.xls'), Buffer.from('d0cf11e0a1b11ae1', 'hex'));
  await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores') }), (e: Error) => {
    assert.match(e.message, /has neither bars nor trades/);
    assert.match(e.message, /perf\.pickle \(cannot be read as a pandas pickle: the pickle ends inside an argument at byte 3 \(8 bytes wanted, 1 left\); save the frame with to_parquet or to_csv\)/);
    assert.match(e.message, /frames\.h5 \(cannot be read as HDF5: .*; save each frame with to_parquet or to_csv\)/);
    assert.match(e.message, /trades\.xls \(Excel 97-2003's format: save it as \.xlsx or CSV\)/);
    return true;
  });
});

test('archives inside an archive (a zip of a tar.gz of the dataset folder): the tree’s answers; four deep is named', async () => {
  const files = await filesUnder(csvDir);
  const zipOfTar = path.join(tmp, 'zip-of-tar');
  await mkdir(zipOfTar);
  const inner = path.join(tmp, 'inner.tar.gz');
  await tar.c({ gzip: true, file: inner, cwd: csvDir, portable: true }, files);
  await writeZip(path.join(zipOfTar, 'shared.zip'), [{ name: 'backtest/backtest.tar.gz', data: await readFile(inner) }]);
  await assertSameAsTree(zipOfTar, 'shared.zip');

  // Three archives deep is read; four is named, with what to do.
  const deep = path.join(tmp, 'deep');
  await mkdir(deep);
  await writeZip(path.join(tmp, 'level2.zip'), [{ name: 'backtest.tar.gz', data: await readFile(inner) }]);
  await writeZip(path.join(tmp, 'level3.zip'), [{ name: 'level2.zip', data: await readFile(path.join(tmp, 'level2.zip')) }]);
  await writeZip(path.join(deep, 'level4.zip'), [{ name: 'level3.zip', data: await readFile(path.join(tmp, 'level3.zip')) }]);
  await assert.rejects(prepareDataset({ input: deep, storeDir: path.join(tmp, 'stores') }), (e: Error) => {
    assert.match(e.message, /level4\.zip!level3\.zip!level2\.zip!backtest\.tar\.gz \(an archive inside 3 archives: not opened; unpack the outer ones\)/);
    return true;
  });
});
