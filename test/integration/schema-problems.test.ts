// Every schema problem of a dataset in one error, before any row is read: `tickscope prepare`
// names them all (file, column, what is expected), `tickscope inspect --json` lists the same ones
// per table and per file. And a timestamp that does not parse is a bad row in every timestamp
// column alike: an unparsable exit time is dropped (and counted) under "drop" and listed under
// "fail", never read as an open trade; an empty or missing exit time is an open trade.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspectDataset, type InspectReport } from '../../server/prepare/inspect.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { mem, withDb } from '../support/duckdb.js';
import { CLI_ENTRY as CLI } from '../support/cli.js';


let tmp = '';

async function parquet(file: string, select: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await mem((q) => q(`COPY (${select}) TO '${file}' (FORMAT parquet)`));
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** Six bars of AAA, five minutes apart from 14:35 on 2 January 2024. */
const BARS = (from = 0) =>
  `SELECT 'r1' AS run_id, TIMESTAMP '2024-01-02 14:35:00' + to_minutes((5 * i)::INTEGER) AS ts, 'AAA' AS symbol, 10.0 AS price,
    1.0 AS position_qty, 10.0 AS position_value, 0.0 AS trade_qty, 0.0 AS fees, 0.5 AS pnl FROM range(${from}, ${from + 6}) t(i)`;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-schema-problems-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('every schema problem of two tables in one error, from prepare and from inspect --json', async () => {
  const dir = path.join(tmp, 'four-problems');
  const a = path.join(dir, 'bars', 'a.parquet');
  const b = path.join(dir, 'bars', 'b.parquet');
  const trades = path.join(dir, 'trades.parquet');
  // bars: no position column in either file (1), and pnl as text in the second file only (2).
  await parquet(a, `SELECT * EXCLUDE (position_qty) FROM (${BARS(0)})`);
  // Its rows would be bad rows too (a NaN price): they must not be read, let alone reported.
  await parquet(b, `SELECT * EXCLUDE (position_qty) REPLACE (pnl::VARCHAR AS pnl, 'NaN'::DOUBLE AS price) FROM (${BARS(6)})`);
  // trades: no entry time (3), and the P&L as text (4).
  await parquet(trades, `SELECT 'r1' AS run_id, 1 AS trade_id, 'AAA' AS symbol, TIMESTAMP '2024-01-02 15:00:00' AS exit_ts, '12.5' AS pnl`);

  const stores = path.join(tmp, 'stores-four');
  const run = cli('prepare', dir, '--out', stores, '--threads', '1');
  assert.equal(run.status, 1, run.stderr);
  const message = run.stderr;
  assert.match(message, /tickscope prepare: 4 schema problems in the dataset's inputs \(found from the files' columns, before any row was read\):/);
  // One problem a line: real line breaks between them (PrepareError escapes only those inside a line).
  const lines = message.split('\n').filter((l) => l.startsWith('- '));
  assert.equal(lines.length, 4, message);
  const line = (re: RegExp) => lines.find((l) => re.test(l)) ?? assert.fail(`no line matches ${re}:\n${message}`);
  // Each names the table, the file(s), the column, what is expected and, where a mapping fixes it, the key to write.
  const position = line(/required column 'position_qty' is missing/);
  assert.ok(position.includes(`bars in ${path.join(dir, 'bars')} (2 files)`), position);
  assert.match(position, /looked for position_qty, position, amount.*"bars": \{ "position_qty": "<your column>" \}/);
  const mixed = line(/mixed schemas in one table/);
  assert.ok(mixed.includes(`column 'pnl' is VARCHAR in ${b} but DECIMAL(2,1) in ${a}`), mixed);
  const entry = line(/required column 'entry_ts' is missing/);
  assert.ok(entry.includes(`trades in ${trades}`), entry);
  assert.match(entry, /"trades": \{ "entry_ts": "<your column>" \}\); columns found: run_id, trade_id, symbol, exit_ts, pnl/);
  const pnl = line(/column 'pnl' \(pnl\) has type VARCHAR \(text\); expected a number/);
  assert.ok(pnl.includes(`trades in ${trades}`), pnl);
  assert.doesNotMatch(message, /problem\(s\) in the dataset's rows|NaN/);
  assert.deepEqual(await readdir(stores).catch(() => []), [], 'nothing is left in the store folder');

  const inspected = cli('inspect', dir, '--json');
  assert.equal(inspected.status, 0, inspected.stderr);
  const r = JSON.parse(inspected.stdout) as InspectReport;
  assert.equal(r.ready, false);
  assert.deepEqual(
    r.problems.map((p) => [p.table, p.canonical, p.columns, p.expected]),
    [
      ['bars', [], ['pnl'], `type DECIMAL(2,1), as in ${a} (or another number type where that is a number)`],
      ['bars', ['position_qty'], [], 'position_qty: a column named position_qty, position, amount, qty, quantity, shares, pos, holding, holdings, position_shares'],
      ['trades', ['entry_ts'], [], 'entry_ts: a column named entry_ts, entry_time, entry_dt, open_dt, open_time, open_ts, entry_date, opened, entry_timestamp, opened_at, open_date, entry_at'],
      ['trades', ['pnl'], ['pnl'], 'a number'],
    ],
  );
  // The same sentences as prepare's, listed per table and per file.
  for (const p of r.problems) assert.ok(lines.includes(`- ${p.message}`), p.message);
  assert.equal(r.tables.find((t) => t.table === 'bars')!.problems.length, 2);
  assert.equal(r.tables.find((t) => t.table === 'trades')!.problems.length, 2);
  const ofFile = (file: string) => r.files.find((f) => f.path === file)!.problems;
  assert.equal(ofFile(a).length, 2);
  assert.equal(ofFile(b).length, 2);
  assert.equal(ofFile(trades).length, 2);
  assert.deepEqual(r.problems.find((p) => p.canonical.includes('entry_ts'))!.fix, '"trades": { "entry_ts": "<your column>" }');
  // The text report says it too.
  assert.match(cli('inspect', dir).stdout, /not ready: 4 problem\(s\) above, all of which prepare would report at once/);
});

test('the required columns a table lacks are one problem, with one entry of tickscope.json to write', async () => {
  const dir = path.join(tmp, 'renamed');
  await parquet(path.join(dir, 'bars.parquet'), `SELECT ts AS "When", symbol AS "Code", price, position_qty, pnl AS "Gain" FROM (${BARS(0)})`);
  const r = await inspectDataset({ inputs: [dir] });
  assert.equal(r.problems.length, 1);
  const [p] = r.problems;
  assert.deepEqual(p!.canonical, ['ts', 'symbol', 'pnl']);
  assert.equal(p!.fix, '"bars": { "ts": "<your column>", "symbol": "<your column>", "pnl": "<your column>" }');
  assert.match(p!.message, /bars in .*bars\.parquet: required columns 'ts', 'symbol', 'pnl' are missing \(looked for ts: ts, timestamp, .*; symbol: symbol, sid, .*; pnl: pnl, pl, .*; map them with --mapping or in tickscope\.json: "bars": \{ "ts": "<your column>", "symbol": "<your column>", "pnl": "<your column>" \}\); columns found: When, Code, price, position_qty, Gain$/);
  await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-renamed') }), (e: Error) => {
    // prepare adds where the description is (prepare.ts).
    assert.ok(e.message.startsWith(p!.message), e.message);
    return true;
  });
});

test('a mapped column the files lack is one problem among the others, not also a missing one', async () => {
  const dir = path.join(tmp, 'mapped');
  await parquet(path.join(dir, 'bars.parquet'), `SELECT * EXCLUDE (symbol) REPLACE (pnl::VARCHAR AS pnl) FROM (${BARS(0)})`);
  await writeFile(path.join(dir, 'tickscope.json'), JSON.stringify({ bars: { symbol: 'Ticker' } }));
  await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-mapped') }), (e: Error) => {
    assert.equal(e.name, 'PrepareError');
    assert.match(e.message, /^2 schema problems/);
    assert.match(e.message, /mapped column 'Ticker' \(for bars\.symbol\) is missing/);
    assert.match(e.message, /column 'pnl' \(pnl\) has type VARCHAR \(text\); expected a number/);
    assert.doesNotMatch(e.message, /required column 'symbol'/);
    return true;
  });
});

test('files of one table that differ the same way are one problem naming them all', async () => {
  const dir = path.join(tmp, 'grouped');
  const files = ['a', 'b', 'c', 'd'].map((n) => path.join(dir, 'bars', `${n}.parquet`));
  await parquet(files[0]!, BARS(0));
  await parquet(files[1]!, `SELECT * EXCLUDE (fees) FROM (${BARS(6)})`);
  await parquet(files[2]!, `SELECT * EXCLUDE (fees) FROM (${BARS(12)})`);
  await parquet(files[3]!, `SELECT * REPLACE (ts::TIMESTAMPTZ AS ts) FROM (${BARS(18)})`);
  const r = await inspectDataset({ inputs: [dir] });
  assert.deepEqual(
    r.problems.map((p) => p.message.replace(/ \(run_id VARCHAR, .*\)$/, '')),
    [
      `bars: files have different schemas (mixed schemas in one table): 2 files (${files[1]}, ${files[2]}) lack column(s) 'fees' compared with ${files[0]}`,
      `bars: files have different schemas (mixed schemas in one table): column 'ts' is TIMESTAMP WITH TIME ZONE in ${files[3]} but TIMESTAMP in ${files[0]}`,
    ],
  );
  assert.deepEqual(r.problems[0]!.files, [files[1], files[2], files[0]]);
  await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-grouped') }), (e: Error) => {
    assert.match(e.message, /^2 schema problems/);
    for (const p of r.problems) assert.ok(e.message.includes(p.message), p.message);
    return true;
  });
});

/** Trades with text times: 1 closed, 2 an exit that is no time, 3 to 5 open (NULL, empty, pandas' NaT), 6 an entry that is no time. */
const TRADES = `SELECT * FROM (VALUES
    ('r1', 1, 'AAA', '2024-01-02 14:35:00', '2024-01-02 14:50:00', 1.0),
    ('r1', 2, 'AAA', '2024-01-02 14:40:00', 'soon', 2.0),
    ('r1', 3, 'AAA', '2024-01-02 14:45:00', NULL, 3.0),
    ('r1', 4, 'AAA', '2024-01-02 14:45:00', '', 4.0),
    ('r1', 5, 'AAA', '2024-01-02 14:45:00', 'NaT', 5.0),
    ('r1', 6, 'AAA', 'later', '2024-01-02 14:55:00', 6.0))
  t(run_id, trade_id, symbol, entry_ts, exit_ts, pnl)`;

test('a time that does not parse is a bad row in entry_ts and exit_ts alike; an empty exit time is an open trade', async () => {
  const dir = path.join(tmp, 'text-times');
  await parquet(path.join(dir, 'bars.parquet'), BARS(0));
  await parquet(path.join(dir, 'trades.parquet'), TRADES);

  await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-times-fail') }), (e: Error) => {
    assert.match(e.message, /^2 problem\(s\) in the dataset's rows/);
    assert.match(e.message, /trades in .*trades\.parquet: column 'exit_ts' \(exit_ts\) has 1 value\(s\) that are not timestamps, e\.g\. "soon"/);
    assert.match(e.message, /column 'entry_ts' \(entry_ts\) has 1 value\(s\) that are not timestamps, e\.g\. "later"/);
    return true;
  });

  const r = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-times-drop'), onBadRows: 'drop' });
  assert.deepEqual(
    r.dataQuality.filter((e) => e.kind === 'dropped').map((e) => [e.table, e.column, e.problem, e.count, e.examples]),
    [
      ['trades', 'entry_ts', 'unparsable timestamp', 1, ['entry_ts = "later"']],
      ['trades', 'exit_ts', 'unparsable timestamp', 1, ['exit_ts = "soon"']],
    ],
  );
  await withDb(r.storePath, async (q) => {
    const trades = await q(`SELECT trade_id::INTEGER AS id, exit_ts::VARCHAR AS exit_ts FROM trades ORDER BY trade_id`);
    assert.deepEqual(
      trades.map((t) => [t['id'], t['exit_ts']]),
      [
        [1, '2024-01-02 14:50:00'],
        [3, null],
        [4, null],
        [5, null],
      ],
    );
  });
});

test('in a CSV, an empty exit time is an open trade and one that does not parse is dropped', async () => {
  const dir = path.join(tmp, 'csv-times');
  await parquet(path.join(dir, 'bars.parquet'), BARS(0));
  await writeFile(
    path.join(dir, 'trades.csv'),
    'trade_id,symbol,entry_ts,exit_ts,pnl\n1,AAA,2024-01-02 14:35:00,2024-01-02 14:50:00,1.0\n2,AAA,2024-01-02 14:40:00,tomorrow,2.0\n3,AAA,2024-01-02 14:45:00,,3.0\n',
  );
  const r = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-csv'), onBadRows: 'drop' });
  assert.deepEqual(
    r.dataQuality.filter((e) => e.kind === 'dropped').map((e) => [e.column, e.count]),
    [['exit_ts', 1]],
  );
  await withDb(r.storePath, async (q) => {
    const trades = await q(`SELECT trade_id::INTEGER AS id, exit_ts::VARCHAR AS exit_ts FROM trades ORDER BY trade_id`);
    assert.deepEqual(trades.map((t) => [t['id'], t['exit_ts']]), [[1, '2024-01-02 14:50:00'], [3, null]]);
  });
});
