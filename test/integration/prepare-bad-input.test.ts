// Bad input gets a clear error that names the file (and the column where it helps), leaves no
// half-written store, and cannot take the control server down; what the input holds is quoted
// printably; a full disk is reported as one. Every file of ../shared/testdata (files written by
// other implementations) is tried in testdata-corpus.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateFixtures } from '../../fixtures/generate.js';
import { DatasetCatalog } from '../../server/control/dataset-catalog.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { prepareInChild } from '../../server/prepare/run-in-child.js';
import { errorMessage } from '../../shared/errors.js';
import { isPrintable, printable } from '../../shared/printable.js';
import { mem } from '../support/duckdb.js';
import { CLI_ENTRY as CLI } from '../support/cli.js';

let tmp = '';
let fixture = '';
let storeDir = '';

/** The CLI, compiled beside this test. */

async function parquet(file: string, select: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await mem((q) => q(`COPY (${select}) TO '${file}' (FORMAT parquet)`));
}

const GOOD = (from = 0, n = 3, symbol = 'AAA') =>
  `SELECT 'r1' AS run_id, TIMESTAMP '2024-01-02 14:35:00' + to_minutes((5 * i)::INTEGER) AS ts, '${symbol}' AS symbol, 10.0 AS price,
    1.0 AS position_qty, 10.0 AS position_value, 0.0 AS trade_qty, 0.0 AS fees, 0.5 AS pnl FROM range(${from}, ${from + n}) t(i)`;

/** Asserts that preparing `input` fails with a message naming `names` and matching `re`. */
async function rejects(input: string | string[], re: RegExp, names: string[] = typeof input === 'string' ? [input] : input): Promise<void> {
  await assert.rejects(prepareDataset({ input, storeDir }), (e: Error) => {
    assert.equal(e.name, 'PrepareError', e.stack);
    assert.match(e.message, re);
    for (const n of names) assert.ok(e.message.includes(n), `"${e.message}" should name ${n}`);
    return true;
  });
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-bad-'));
  storeDir = path.join(tmp, 'stores');
  fixture = (await generateFixtures({ scale: 'tiny', seed: 13, outDir: path.join(tmp, 'fixture') })).outDir;
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('paths: nonexistent, empty folder, glob matching nothing, neither bars nor trades', async () => {
  await rejects(path.join(tmp, 'nope'), /does not exist/);
  const empty = path.join(tmp, 'empty');
  await mkdir(path.join(empty, 'bars'), { recursive: true });
  await writeFile(path.join(empty, 'README.txt'), 'no data here');
  await rejects(empty, /is an empty folder/);
  await rejects(path.join(tmp, 'nothing-here', '*.parquet'), /matched no Parquet or Arrow files/, [path.join(tmp, 'nothing-here', '*.parquet')]);
  // Trades alone are a dataset (its bars are made of the trades: bars-from-trades.test.ts); sectors alone are not.
  const onlySymbols = path.join(tmp, 'only-symbols');
  await mkdir(onlySymbols);
  await writeFile(path.join(onlySymbols, 'symbols.csv'), 'symbol,sector\nAAA,Energy\n');
  await rejects(onlySymbols, /has neither bars nor trades: found symbols \(1 file\(s\)\)/);
});

test('files that are not Parquet: text, empty, truncated, an Arrow file cut short', async () => {
  const dir = path.join(tmp, 'not-parquet');
  await mkdir(dir, { recursive: true });
  const csv = path.join(dir, 'bars.parquet');
  await writeFile(csv, 'run_id,ts\n1,2\n');
  await rejects(csv, /is not a Parquet file \(no PAR1 magic bytes/);
  await rejects(dir, /is not a Parquet file/, [csv]);
  const txt = path.join(tmp, 'bars.dat');
  await writeFile(txt, 'run_id,ts\n1,2\n');
  await rejects(txt, /is neither Parquet nor Arrow IPC/);
  const zero = path.join(tmp, 'zero', 'bars.parquet');
  await mkdir(path.dirname(zero));
  await writeFile(zero, '');
  await rejects(zero, /is empty \(0 bytes\)/);

  // Truncated: a real file cut in half still starts with PAR1 but has lost its footer.
  const cut = path.join(tmp, 'truncated', 'bars', 'run_id=base', 'part-0.parquet');
  await mkdir(path.dirname(cut), { recursive: true });
  const src = path.join(fixture, 'bars', 'run_id=base', 'part-0.parquet');
  await copyFile(src, cut);
  await truncate(cut, Math.floor((await readFile(src)).byteLength / 2));
  await copyFile(path.join(fixture, 'bars', 'run_id=alt', 'part-0.parquet'), path.join(tmp, 'truncated', 'bars', 'part-alt.parquet'));
  await rejects(path.join(tmp, 'truncated'), /Parquet input .* cannot be read/, [cut]);

  const arrowCut = path.join(tmp, 'arrow-cut', 'runs.arrow');
  await mkdir(path.dirname(arrowCut));
  const bytes = await readFile(path.join(fixture, 'runs.arrow'));
  await writeFile(arrowCut, bytes.subarray(0, Math.floor(bytes.byteLength * 0.6)));
  await rejects([path.join(fixture, 'bars'), arrowCut], /Arrow IPC input .* cannot be read/, [arrowCut]);
});

test('columns: a required column missing, a column of the wrong type (string pnl)', async () => {
  const noPnl = path.join(tmp, 'no-pnl', 'bars.parquet');
  await parquet(noPnl, `SELECT * EXCLUDE (pnl) FROM (${GOOD()})`);
  await rejects(noPnl, /required column 'pnl' is missing \(looked for pnl, pl, p&l, profit/);

  const stringPnl = path.join(tmp, 'string-pnl', 'bars.parquet');
  await parquet(stringPnl, `SELECT * REPLACE (pnl::VARCHAR AS pnl) FROM (${GOOD()})`);
  await rejects(stringPnl, /column 'pnl' \(pnl\) has type VARCHAR \(text\); expected a number/);

  const boolSymbol = path.join(tmp, 'double-symbol', 'bars.parquet');
  await parquet(boolSymbol, `SELECT * REPLACE (1.5 AS symbol) FROM (${GOOD()})`);
  await rejects(boolSymbol, /column 'symbol' \(symbol\) has type DECIMAL\(2,1\); expected strings or integers/);

  const badTs = path.join(tmp, 'bad-ts', 'bars.parquet');
  await parquet(badTs, `SELECT * REPLACE (CASE WHEN i = 1 THEN 'yesterday' ELSE ts::VARCHAR END AS ts) FROM (SELECT *, row_number() OVER () AS i FROM (${GOOD()}))`);
  await rejects(badTs, /column 'ts' \(ts\) has 1 value\(s\) that are not timestamps, e\.g\. "yesterday"/);
});

test('keys and values: null keys, duplicate keys (in one file and across files), NaN and infinities', async () => {
  const nullKey = path.join(tmp, 'null-key', 'bars.parquet');
  await parquet(nullKey, `SELECT * REPLACE (CASE WHEN ts > TIMESTAMP '2024-01-02 14:36:00' THEN NULL ELSE symbol END AS symbol) FROM (${GOOD()})`);
  await rejects(nullKey, /key column 'symbol' \(symbol\) has 2 null value\(s\)/);

  const dup = path.join(tmp, 'dup', 'bars.parquet');
  await parquet(dup, `${GOOD()} UNION ALL (${GOOD()} LIMIT 1)`);
  await rejects(dup, /duplicate key \(run_id, symbol, ts\) = \(r1, AAA, 2024-01-02 14:35:00\) appears 2 times/);

  const across = path.join(tmp, 'dup-across', 'bars');
  await parquet(path.join(across, 'a.parquet'), GOOD(0, 3));
  await parquet(path.join(across, 'b.parquet'), GOOD(2, 3));
  await rejects(path.join(tmp, 'dup-across'), /duplicate key \(run_id, symbol, ts\) = \(r1, AAA, 2024-01-02 14:45:00\)/, [
    path.join(across, 'a.parquet'),
    path.join(across, 'b.parquet'),
  ]);

  const nan = path.join(tmp, 'nan', 'bars.parquet');
  await parquet(nan, `SELECT * REPLACE (CASE WHEN ts = TIMESTAMP '2024-01-02 14:40:00' THEN 'NaN'::DOUBLE ELSE pnl END AS pnl) FROM (${GOOD()})`);
  await rejects(nan, /column 'pnl' \(pnl\) has 1 NaN or infinite value\(s\), e\.g\. nan at \(run_id, symbol, ts\) = \(r1, AAA, 2024-01-02 14:40:00\)/i);

  const inf = path.join(tmp, 'inf', 'bars.parquet');
  await parquet(inf, `SELECT * REPLACE ('Infinity'::DOUBLE AS price) FROM (${GOOD()})`);
  await rejects(inf, /column 'price' \(price\) has 3 NaN or infinite value\(s\)/);

  const infTs = path.join(tmp, 'inf-ts', 'bars.parquet');
  await parquet(infTs, `SELECT * REPLACE (CASE WHEN pnl > 0 AND ts = TIMESTAMP '2024-01-02 14:35:00' THEN 'infinity'::TIMESTAMP ELSE ts END AS ts) FROM (${GOOD()})`);
  await rejects(infTs, /column 'ts' \(ts\) has 1 infinite timestamp/);

  const nullPnl = path.join(tmp, 'null-pnl', 'bars.parquet');
  await parquet(nullPnl, `SELECT * REPLACE (NULL::DOUBLE AS pnl) FROM (${GOOD()})`);
  await rejects(nullPnl, /column 'pnl' \(pnl\) has 3 null value\(s\)/);

  // Trades: NaN pnl, duplicate trade ids.
  const tradesNan = path.join(tmp, 'trades-nan');
  await parquet(path.join(tradesNan, 'bars.parquet'), GOOD());
  await parquet(path.join(tradesNan, 'trades.parquet'), `SELECT 'r1' AS run_id, i AS trade_id, 'AAA' AS symbol, TIMESTAMP '2024-01-02 14:35:00' AS entry_ts,
    CASE WHEN i = 1 THEN 'NaN'::DOUBLE ELSE 1.0 END AS pnl FROM range(2) t(i)`);
  await rejects(tradesNan, /trades in .*trades\.parquet: column 'pnl' \(pnl\) has 1 NaN or infinite value/, [path.join(tradesNan, 'trades.parquet')]);
  const tradesDup = path.join(tmp, 'trades-dup');
  await parquet(path.join(tradesDup, 'bars.parquet'), GOOD());
  await parquet(path.join(tradesDup, 'trades.parquet'), `SELECT 'r1' AS run_id, 7 AS trade_id, 'AAA' AS symbol, TIMESTAMP '2024-01-02 14:35:00' AS entry_ts FROM range(2)`);
  await rejects(tradesDup, /duplicate key \(run_id, trade_id\) = \(r1, 7\) appears 2 times/, [path.join(tradesDup, 'trades.parquet')]);
});

test('mixed schemas across the files of one table', async () => {
  const missing = path.join(tmp, 'mixed-missing', 'bars');
  await parquet(path.join(missing, 'a.parquet'), GOOD(0, 3));
  await parquet(path.join(missing, 'b.parquet'), `SELECT * EXCLUDE (fees) FROM (${GOOD(3, 3)})`);
  await rejects(path.join(tmp, 'mixed-missing'), /mixed schemas in one table\): .*b\.parquet lacks column\(s\) 'fees' compared with .*a\.parquet/, [
    path.join(missing, 'a.parquet'),
    path.join(missing, 'b.parquet'),
  ]);
  const types = path.join(tmp, 'mixed-types', 'bars');
  await parquet(path.join(types, 'a.parquet'), GOOD(0, 3));
  await parquet(path.join(types, 'b.parquet'), `SELECT * REPLACE (pnl::VARCHAR AS pnl) FROM (${GOOD(3, 3)})`);
  await rejects(path.join(tmp, 'mixed-types'), /column 'pnl' is VARCHAR in .*b\.parquet but DECIMAL\(2,1\) in .*a\.parquet/, [path.join(types, 'b.parquet')]);
  const zones = path.join(tmp, 'mixed-zones', 'bars');
  await parquet(path.join(zones, 'a.parquet'), GOOD(0, 3));
  await parquet(path.join(zones, 'b.parquet'), `SELECT * REPLACE (ts::TIMESTAMPTZ AS ts) FROM (${GOOD(3, 3)})`);
  await rejects(path.join(tmp, 'mixed-zones'), /column 'ts' is TIMESTAMP WITH TIME ZONE in .*b\.parquet but TIMESTAMP in/);
  // Integer and floating point numbers of one column do mix.
  const widths = path.join(tmp, 'mixed-widths');
  await parquet(path.join(widths, 'bars', 'a.parquet'), GOOD(0, 3));
  await parquet(path.join(widths, 'bars', 'b.parquet'), `SELECT * REPLACE (1::INTEGER AS position_qty) FROM (${GOOD(3, 3)})`);
  assert.equal((await prepareDataset({ input: widths, storeDir: path.join(tmp, 'stores-ok') })).reused, false);
});

test('nothing half-written is left in the store folder after all of the above', async () => {
  const left = await readdir(storeDir).catch(() => [] as string[]);
  assert.deepEqual(left, [], `left behind: ${left.join(', ')}`);
});

test('control bytes in column names and paths are escaped in the error and on the terminal', async () => {
  // ESC ] 0 ; ... BEL retitles a terminal; CR LF forges a log line; U+202E reverses what follows.
  const dir = path.join(tmp, 'escape-\x1b[31m-dir');
  const file = path.join(dir, 'bars.parquet');
  await parquet(file, `SELECT 1 AS "\x1b]0;pwned\x07", 2.0 AS "ts\r\nFAKE LOG LINE", 3 AS "\u202Eevil"`);
  await assert.rejects(prepareDataset({ input: file, storeDir }), (e: Error) => {
    // Line breaks are the message's own (one problem, then where the description is); every line is printable.
    assert.ok(e.message.split('\n').every(isPrintable), JSON.stringify(e.message));
    assert.ok(e.message.includes(printable(file)), `names ${printable(file)}: ${e.message}`);
    assert.ok(e.message.includes('\\x1b]0;pwned\\x07') && e.message.includes('ts\\x0d\\x0aFAKE LOG LINE') && e.message.includes('\\u{202e}evil'), e.message);
    return true;
  });
  // The same through `tickscope prepare` (progress lines and the error), as a terminal gets it.
  const run = spawnSync(process.execPath, [CLI, 'prepare', file, '--out', storeDir, '--threads', '1'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 1, run.stderr);
  // Every required column is missing: all five in one problem.
  assert.match(run.stderr, /tickscope prepare: bars in .*escape-\\x1b\[31m-dir.*: required columns 'ts', 'symbol', 'price', 'position_qty', 'pnl' are missing/);
  for (const line of `${run.stdout}${run.stderr}`.split('\n')) assert.ok(isPrintable(line), `raw control characters on the terminal: ${JSON.stringify(line)}`);
});

test('the control server survives a bad dataset: it fails by name, the good one is served', async () => {
  const bad = path.join(tmp, 'catalog-bad');
  await mkdir(bad, { recursive: true });
  const cut = path.join(bad, 'bars.parquet');
  const src = path.join(fixture, 'bars', 'run_id=base', 'part-0.parquet');
  await writeFile(cut, (await readFile(src)).subarray(0, 1000));
  const events: string[] = [];
  const catalog = new DatasetCatalog(
    [
      { id: 'bad', input: bad },
      { id: 'good', input: fixture },
    ],
    path.join(tmp, 'stores-catalog'),
    (event) => events.push(event),
  );
  await assert.rejects(catalog.whenReady('bad'), (e: Error) => e.message.includes(cut));
  const store = await catalog.whenReady('good');
  assert.ok(existsSync(store));
  const list = catalog.list();
  assert.equal(list.find((d) => d.id === 'bad')!.state, 'failed');
  assert.ok(list.find((d) => d.id === 'bad')!.error!.includes(cut));
  assert.equal(list.find((d) => d.id === 'good')!.state, 'ready');
  assert.deepEqual(events, ['dataset.preparing', 'dataset.failed', 'dataset.preparing', 'dataset.ready']);
});

test('a full disk is reported as a full disk of the store folder, not as an input that cannot be read', async (t) => {
  // A 2 MiB tmpfs as the store folder: the tiny fixture's store does not fit. Mounting needs root
  // (CAP_SYS_ADMIN); elsewhere the classification is covered by test/unit/disk-full.test.ts.
  const disk = path.join(tmp, 'full-disk');
  await mkdir(disk, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk], { stdio: 'pipe' });
  } catch (error) {
    t.skip(`cannot mount a small tmpfs here (${errorMessage(error).split('\n')[0]}); needs root`);
    return;
  }
  try {
    const storeDir = path.join(disk, 'stores');
    await assert.rejects(prepareInChild({ input: fixture, storeDir, threads: 1 }), (e: Error) => {
      assert.match(e.message, new RegExp(`the disk is full: no space left on device in the store folder ${storeDir} \\(`));
      assert.ok(e.message.includes(fixture), e.message);
      assert.doesNotMatch(e.message, /cannot be read/, 'a full disk is not an unreadable input');
      return true;
    });
    // Nothing half-written stays on the full disk: it is empty again for the next try.
    assert.deepEqual(await readdir(storeDir), []);
  } finally {
    execFileSync('umount', [disk], { stdio: 'pipe' });
  }
});
