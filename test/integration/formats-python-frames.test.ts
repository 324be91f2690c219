// Frames pickled and stored in HDF5 by pandas itself (fixtures/formats/pandas-files: pandas 2.2.3
// with numpy 1.26, pandas 3.0.6 with numpy 2.4; zipline's assets as stand-ins pickled as zipline
// pickles them), prepared without a mapping and served: zipline's `perf.pickle` and `perf.h5`, and
// pyfolio's returns, positions and transactions as pickles, in an HDF5 store (fixed and table
// formats) and zipped, give the store that the same frames saved by pandas' to_csv give, and the
// trades of the fills computed here by hand. A pickle of something else beside the data is named,
// and the data is prepared. The same frames compressed as pandas compresses them (bzip2, xz, gzip, zstd; tar.bz2, tar.xz, tar.zst)
// give the same store; a compressed file cut off or not what its name says is named with why.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../fixtures/generate.js';
import { writeZip } from '../../fixtures/formats/zip.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { LocalSession } from '../support/local-session.js';
import { near } from '../support/checks.js';

const PICKLES = path.join(repoRoot(), 'fixtures', 'formats', 'pandas-files');
const sessions: LocalSession[] = [];
const dirs: string[] = [];

after(async () => {
  for (const s of sessions) s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A dataset folder holding `files` of a fixture set (a pandas version's, backtrader's), each under its own name (`compressed/perf.pkl.bz2` as `perf.pkl.bz2`). */
async function dataset(set: string, files: readonly string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-pickles-'));
  dirs.push(dir);
  for (const f of files) await copyFile(path.join(PICKLES, set, f), path.join(dir, path.basename(f)));
  return dir;
}

interface Served {
  capital: number;
  daily: Map<string, number>;
  trades: string[];
}

async function serve(dir: string): Promise<Served & { session: LocalSession }> {
  const session = await LocalSession.open(dir);
  sessions.push(session);
  const con = await session.store.instance.connect();
  try {
    const daily = new Map((await con.runAndReadAll(`SELECT ts::DATE::VARCHAR, sum(pnl) FROM bars GROUP BY 1`)).getRows().map(([d, p]) => [String(d), Number(p)] as const));
    const trades = (
      await con.runAndReadAll(`SELECT symbol, side, epoch_ms(entry_ts), epoch_ms(exit_ts), qty, round(entry_price, 6), round(exit_price, 6), round(pnl, 6) FROM trades ORDER BY symbol, entry_ts, exit_ts NULLS LAST`)
    )
      .getRows()
      .map((r) => r.map(String).join(' '));
    return { session, capital: session.store.catalog.runs.get('default')!.capital ?? Number.NaN, daily, trades };
  } finally {
    con.closeSync();
  }
}

function assertSameStore(got: Served, want: Served, what: string): void {
  assert.equal(got.capital, want.capital, `${what}: capital`);
  assert.deepEqual([...got.daily.keys()].sort(), [...want.daily.keys()].sort(), `${what}: days`);
  for (const [day, pnl] of want.daily) near(got.daily.get(day)!, pnl, `${what}: P&L of ${day}`, 1e-9);
  assert.deepEqual(got.trades, want.trades, `${what}: trades`);
}

/** The round trips of make-pickles.py's fills, by hand (FIFO, each order's commission on its fill). */
const ROUND_TRIPS = [
  // AAPL: 100 @ 105.35 (1.0) and 50 @ 100.70 (0.5), closed by 150 @ 97.33 (1.5).
  { symbol: 'AAPL', qty: 150, entry: (100 * 105.35 + 50 * 100.7) / 150, exit: 97.33, pnl: (97.33 - 103.8) * 150 - 3.0 },
  // MSFT: short 50 @ 54.80 (1.0), bought back @ 52.17 (1.0).
  { symbol: 'MSFT', qty: 50, entry: 54.8, exit: 52.17, pnl: (54.8 - 52.17) * 50 - 2.0 },
  // ESH16: 2 @ 2012.25 (4.2), sold @ 1990.50 (4.2): price points, no multiplier without a symbols file.
  { symbol: 'ESH16', qty: 2, entry: 2012.25, exit: 1990.5, pnl: (1990.5 - 2012.25) * 2 - 8.4 },
];

for (const version of ['pandas-2.2.3', 'pandas-3.0.6', 'pandas-3.0.6-pyarrow']) {
  test(`${version}: zipline's perf.pickle is read as its to_csv, and its trades are its fills' round trips`, async () => {
    const pickled = await dataset(version, ['perf.pickle']);
    const report = await inspectDataset({ inputs: [pickled] });
    assert.equal(report.ready, true, JSON.stringify(report.problems));
    assert.deepEqual(report.formats.map((f) => f.summary), [`zipline performance frame: ${path.join(pickled, 'perf.pickle')}!perf.csv`]);
    const got = await serve(pickled);
    // pandas 3 with numpy 2 writes the transactions' prices as np.float64(105.35): read as numbers too.
    const want = await serve(await dataset(version, ['perf.csv']));
    assertSameStore(got, want, `${version} perf`);
    // The same frame in HDF5 (to_hdf's fixed format, its lists pickled), under the key df.
    assertSameStore(await serve(await dataset(version, ['perf.h5'])), want, `${version} perf.h5`);
    assert.equal(got.capital, 1_000_000, "capital: the first session's starting_cash");

    const closed = (await got.session.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 100 } })).rows.filter((t) => t.exit_ts !== null);
    assert.equal(closed.length, ROUND_TRIPS.length, 'one round trip per closing fill');
    for (const w of ROUND_TRIPS) {
      const t = closed.find((r) => r.symbol === w.symbol);
      assert.ok(t, `a ${w.symbol} round trip`);
      assert.equal(Number(t.qty), w.qty, `${w.symbol} quantity`);
      near(Number(t.entry_price), w.entry, `${w.symbol} entry price`, 1e-9);
      near(Number(t.exit_price), w.exit, `${w.symbol} exit price`, 1e-9);
      near(Number(t.pnl), w.pnl, `${w.symbol} P&L`, 1e-9);
    }
  });

  test(`${version}: pyfolio's returns, positions and transactions pickles give the store their CSVs give`, async () => {
    const frames = ['returns', 'positions', 'transactions'];
    const pickled = await dataset(version, frames.map((f) => `${f}.pickle`));
    const report = await inspectDataset({ inputs: [pickled] });
    assert.equal(report.ready, true, JSON.stringify(report.problems));
    assert.match(report.formats.map((f) => f.summary).join('\n'), /pyfolio/);
    const got = await serve(pickled);
    assert.equal(got.trades.length, ROUND_TRIPS.length + 2, `the round trips and the two positions left open: ${got.trades.join('; ')}`);
    assert.equal(got.trades.filter((t) => t.includes(' null ')).length, 2, 'two open');
    // The frames hold zipline's assets, which to_csv writes Equity(24 [AAPL]): named by symbol, as zipline's frame names them.
    assert.deepEqual([...new Set(got.trades.map((t) => t.split(' ')[0]))].sort(), ['AAPL', 'ESH16', 'MSFT']);
    assertSameStore(got, await serve(await dataset(version, frames.map((f) => `${f}.csv`))), `${version} pyfolio`);

    // The same pickles in a zip, as they are shared, in a folder of the archive.
    const zipped = await mkdtemp(path.join(os.tmpdir(), 'tickscope-pickles-'));
    dirs.push(zipped);
    await writeZip(path.join(zipped, 'backtest.zip'), await Promise.all(frames.map(async (f) => ({ name: `results/${f}.pkl`, data: await readFile(path.join(pickled, `${f}.pickle`)) }))));
    assertSameStore(await serve(zipped), got, `${version} pyfolio zipped`);

    // One HDF5 store of the three, by key: the fixed format (zipline's assets pickled), and the
    // table format (assets by symbol, which the table format takes as text only).
    assertSameStore(await serve(await dataset(version, ['results.h5'])), got, `${version} pyfolio results.h5`);
    assertSameStore(await serve(await dataset(version, ['results-table.h5'])), got, `${version} pyfolio results-table.h5`);
  });
}

test('a pickle of something other than frames beside the data is named as not read, and the data is prepared', async () => {
  const dir = await dataset('pandas-2.2.3', ['perf.pickle']);
  // pickle.dumps({'a': [1, 2.5, 'x', None, True], ...}, protocol=2): a pickled dict of parameters.
  const params =
    '80027d71002858010000006171015d7102284b0147400400000000000058010000007871034e886558010000006271044b015802000000c3a97105867106580300000062696771078a0900000000000000004058030000006e656771084afbffffff5801000000667109474024000000000000752e';
  await writeFile(path.join(dir, 'params.pkl'), Buffer.from(params, 'hex'));
  await mkdir(path.join(dir, 'models'));
  await writeFile(path.join(dir, 'models', 'model.pkl'), Buffer.from('not a pickle at all\n'));
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.match(report.notRead ?? '', /params\.pkl \(cannot be read as a pandas pickle: it holds a dict, not a pandas DataFrame or Series \(nor a dict of them\); save the frame with to_parquet or to_csv\)/);
  assert.match(report.notRead ?? '', /model\.pkl \(cannot be read as a pandas pickle: byte 0 holds 0x6e, not a pickle opcode/);
  const served = await serve(dir);
  assert.equal(served.capital, 1_000_000);

  // Alone, the same pickle is the reason the dataset has no data.
  const alone = await mkdtemp(path.join(os.tmpdir(), 'tickscope-pickles-'));
  dirs.push(alone);
  await writeFile(path.join(alone, 'params.pkl'), Buffer.from(params, 'hex'));
  await assert.rejects(LocalSession.open(alone), /params\.pkl \(cannot be read as a pandas pickle: it holds a dict/);
});

test("pyfolio's and zipline's frames compressed as pandas writes them (.csv.bz2, .pkl.xz, .pkl.gz, .csv.xz, .pkl.zst, tar.bz2, tar.xz, tar.zst) give the store their CSVs give", async () => {
  const version = 'pandas-2.2.3';
  const frames = ['returns', 'positions', 'transactions'];
  const want = await serve(await dataset(version, frames.map((f) => `${f}.csv`)));
  const compressed = (files: readonly string[]) => dataset(version, files.map((f) => `compressed/${f}`));
  const mixed = await compressed(['returns.csv.bz2', 'positions.pkl.xz', 'transactions.pkl.gz']);
  const report = await inspectDataset({ inputs: [mixed] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  assert.equal(report.notRead, null);
  assert.match(report.formats.map((f) => f.summary).join('\n'), /pyfolio/);
  assertSameStore(await serve(mixed), want, 'returns.csv.bz2, positions.pkl.xz, transactions.pkl.gz');
  // Named by a glob, as on a command line: the compressed files and pickles it matches are opened too.
  assertSameStore(await serve(path.join(mixed, '*')), want, 'a glob of them');
  assertSameStore(await serve(await compressed(['returns.csv.bz2', 'positions.pkl.xz', 'transactions.csv.xz'])), want, 'transactions.csv.xz');
  assertSameStore(await serve(await compressed(['returns.csv.bz2', 'positions.pkl.zst', 'transactions.pkl.gz'])), want, 'positions.pkl.zst');
  for (const archive of ['pyfolio.tar.bz2', 'pyfolio.tar.xz', 'pyfolio.tar.zst']) assertSameStore(await serve(await compressed([archive])), want, archive);
  // Compressed files inside an archive: a zip of them, as they are shared.
  const zipped = await mkdtemp(path.join(os.tmpdir(), 'tickscope-compressed-'));
  dirs.push(zipped);
  const inZip = ['returns.csv.bz2', 'positions.pkl.xz', 'transactions.csv.xz'];
  await writeZip(path.join(zipped, 'results.zip'), await Promise.all(inZip.map(async (f) => ({ name: `run/${f}`, data: await readFile(path.join(PICKLES, version, 'compressed', f)) }))));
  assertSameStore(await serve(zipped), want, 'results.zip of compressed frames');
  assertSameStore(await serve(await compressed(['perf.pkl.bz2'])), await serve(await dataset(version, ['perf.csv'])), 'perf.pkl.bz2');
});

test('a compressed file that is cut off, or not what its name says, is named as not read with why, and the data beside it is prepared', async () => {
  const version = 'pandas-2.2.3';
  const dir = await dataset(version, ['returns.csv', 'positions.csv', 'transactions.csv']);
  const bz2 = await readFile(path.join(PICKLES, version, 'compressed', 'returns.csv.bz2'));
  const xz = await readFile(path.join(PICKLES, version, 'compressed', 'transactions.csv.xz'));
  await writeFile(path.join(dir, 'benchmark_returns.csv.bz2'), bz2.subarray(0, bz2.length - 40));
  await writeFile(path.join(dir, 'fills.csv.xz'), xz.subarray(0, xz.length >> 1));
  await writeFile(path.join(dir, 'notes.csv.bz2'), 'plain text, not bzip2\n');
  // The zstd command's frames carry a checksum of what they hold: a changed byte is found by it (fzstd decodes some damage without an error).
  const zst = await readFile(path.join(PICKLES, version, 'compressed', 'pyfolio.tar.zst'));
  await writeFile(path.join(dir, 'more.tar.zst'), zst.subarray(0, zst.length - 6));
  const flipped = Buffer.from(zst);
  // A byte of its compressed block that fzstd decodes into other bytes without an error.
  flipped[400] = flipped[400]! ^ 0x01;
  await writeFile(path.join(dir, 'other.tar.zst'), flipped);
  await copyFile(path.join(PICKLES, version, 'compressed', 'transactions.csv.xz'), path.join(dir, 'notes.txt.xz'));
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  const notRead = report.notRead ?? '';
  assert.match(notRead, /benchmark_returns\.csv\.bz2 \(cannot be inflated as bzip2: [^)]*cut off/);
  assert.match(notRead, /fills\.csv\.xz \(cannot be inflated as xz: the file ends inside its compressed data: it was cut off\)/);
  assert.match(notRead, /notes\.csv\.bz2 \(is not bzip2 data: its name ends as bzip2's do, but its first bytes are not "BZh"\)/);
  assert.match(notRead, /more\.tar\.zst \(cannot be inflated as zstd: the file ends inside frame 1's (block|checksum): it was cut off\)/);
  assert.match(notRead, /other\.tar\.zst \(cannot be inflated as zstd: what a frame inflates to does not match its checksum \(frame 1 at byte 0\): the compressed data is damaged\)/);
  assert.match(notRead, /notes\.txt\.xz \(it holds notes\.txt, not a Parquet, Arrow, CSV or JSON file, workbook, report, pickle or HDF5 store\)/);
  assertSameStore(await serve(dir), await serve(await dataset(version, ['returns.csv', 'positions.csv', 'transactions.csv'])), 'beside damaged compressed files');
});

/** Sources lines of a served store's preparation (its meta's format summary). */
async function sourcesOf(session: LocalSession): Promise<string[]> {
  const con = await session.store.instance.connect();
  try {
    const rows = (await con.runAndReadAll(`SELECT value FROM meta WHERE key = 'formats'`)).getRows();
    return (JSON.parse(String(rows[0]?.[0] ?? '{}')) as { sources?: string[] }).sources ?? [];
  } finally {
    con.closeSync();
  }
}

test("backtrader's PyFolio analyzer frames (named feeds, pickled, unnamed feeds as Data0): its trades with the commission its cash paid, and the portfolio's P&L to the cent", async () => {
  // make-backtrader-frames.py's backtest, by hand: a commission of 0.1% of each fill's value.
  const fee = (qty: number, price: number) => 0.001 * Math.abs(qty * price);
  const aaplEntry = (100 * 131.01 + 50 * 130.92) / 150;
  const want = [
    { symbol: 'AAPL', qty: 150, entry: aaplEntry, exit: 132.05, pnl: (132.05 - aaplEntry) * 150 - fee(100, 131.01) - fee(50, 130.92) - fee(150, 132.05) },
    { symbol: 'MSFT', qty: 50, entry: 212.25, exit: 217.49, pnl: (212.25 - 217.49) * 50 - fee(50, 212.25) - fee(50, 217.49) },
  ];
  // The last day's value (AAPL short 20 at 130.89, MSFT 30 at 216.34, cash) less the first day's 100,000.
  const total = -20 * 130.89 + 30 * 216.34 + 95998.3928 - 100_000;
  const served: Served[] = [];
  for (const folder of ['named', 'named-pickled', 'unnamed']) {
    const ext = folder === 'named-pickled' ? 'pickle' : 'csv';
    const got = await serve(await dataset('backtrader', ['returns', 'positions', 'transactions'].map((f) => `${folder}/${f}.${ext}`)));
    served.push(got);
    assert.equal(got.capital, 100_000, `${folder}: capital`);
    near([...got.daily.values()].reduce((a, b) => a + b, 0), total, `${folder}: the run's P&L, the last day's value less the first's`, 1e-9);
    const closed = (await got.session.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 100 } })).rows.filter((t) => t.exit_ts !== null);
    assert.equal(closed.length, want.length, `${folder}: closed round trips`);
    for (const w of want) {
      const symbol = folder === 'unnamed' ? (w.symbol === 'AAPL' ? 'Data0' : 'Data1') : w.symbol;
      const t = closed.find((r) => r.symbol === symbol);
      assert.ok(t, `${folder}: a ${symbol} round trip`);
      assert.equal(Number(t.qty), w.qty);
      near(Number(t.entry_price), w.entry, `${folder} ${symbol} entry`, 1e-9);
      near(Number(t.exit_price), w.exit, `${folder} ${symbol} exit`, 1e-9);
      near(Number(t.pnl), w.pnl, `${folder} ${symbol} P&L after the commission its cash paid`, 1e-9);
    }
    assert.match((await sourcesOf(got.session)).join('\n'), /fees: the transactions state none; 7 day\(s\)' fees \(70\.0072 in all\) read from positions\.(csv|pickle)'s cash, .* shared among its fills by traded value$/m);
  }
  assertSameStore(served[1]!, served[0]!, 'pickled frames against their CSVs');
});
