// Freqtrade's backtest result (fixtures/formats/freqtrade.ts: the tiny fixture's two runs as two
// strategies of one result, the last trade of each still open, with the .meta.json and
// .last_result.json freqtrade writes beside it; and the same zipped), prepared without a mapping
// and served: every trade against the tiny fixture's own trades it was written from, value for
// value, and the capital from the result. Archives that cannot be read are named.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { FREQTRADE_BALANCE, FREQTRADE_RESULT, freqtradeFixture, type FreqtradeFixture } from '../../fixtures/formats/freqtrade.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { mem } from '../support/duckdb.js';
import { LocalSession } from '../support/local-session.js';
import { near } from '../support/checks.js';
import { zstdStored } from '../support/zstd-frames.js';

let fx: FreqtradeFixture;
const sessions: LocalSession[] = [];

before(async () => {
  fx = await freqtradeFixture();
});

after(() => {
  for (const s of sessions) s.close();
});

/** The result in `dir`, prepared without a mapping and served: checked against the tiny fixture's trades. */
async function checkServed(dir: string, file: string): Promise<void> {
  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  const recognised = report.formats.find((f) => f.summary.startsWith('Freqtrade backtest result'));
  assert.ok(recognised, JSON.stringify(report.formats.map((f) => f.summary)));
  assert.deepEqual(recognised.files.map((f) => path.basename(f.path)), [file], 'the result only, not its .meta.json');

  const source = await mem((q) =>
    q(`SELECT run_id, symbol, side, epoch_ms(entry_ts) AS entry_ts, qty, entry_price,
         CASE WHEN NOT open THEN epoch_ms(exit_ts) END AS exit_ts, CASE WHEN NOT open THEN exit_price END AS exit_price,
         coalesce(fees, 0) AS fees, pnl, ret, mae, mfe, tag
       FROM (SELECT *, row_number() OVER (PARTITION BY run_id ORDER BY entry_ts DESC, trade_id DESC) = 1 AS open
         FROM read_parquet('${path.join(fx.sourceDir, 'trades', 'trades.parquet')}'))
       ORDER BY run_id, entry_ts, symbol, trade_id`),
  );
  const s = await LocalSession.open(dir);
  sessions.push(s);
  assert.deepEqual([...s.store.catalog.runs.values()].map((r) => [r.runId, r.capital]).sort(), [...new Set(source.map((t) => String(t.run_id)))].sort().map((run) => [run, FREQTRADE_BALANCE]));
  const served = (await s.ask({ query: 'trades', params: { sort: { column: 'entry_ts', descending: false }, limit: 10_000 } })).rows;
  assert.equal(served.length, source.length, 'every trade');
  const order = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    String(a.run_id).localeCompare(String(b.run_id)) || Number(a.entry_ts) - Number(b.entry_ts) || String(a.symbol).localeCompare(String(b.symbol)) || Number(a.pnl) - Number(b.pnl);
  const got = [...served].sort(order);
  const want = [...source].sort(order);
  let open = 0;
  for (const [i, t] of got.entries()) {
    const w = want[i]!;
    const what = `${String(w.run_id)} ${String(w.symbol)} trade entered ${new Date(Number(w.entry_ts)).toISOString()}`;
    assert.equal(String(t.symbol), String(w.symbol), what);
    assert.equal(String(t.side), String(w.side), `${what}: side`);
    assert.equal(Number(t.entry_ts), Number(w.entry_ts), `${what}: entry`);
    assert.equal(t.exit_ts === null ? null : Number(t.exit_ts), w.exit_ts === null ? null : Number(w.exit_ts), `${what}: exit`);
    if (w.exit_ts === null) open++;
    near(Number(t.qty), Number(w.qty), `${what}: qty`);
    near(Number(t.entry_price), Number(w.entry_price), `${what}: entry price`);
    near(t.exit_price === null ? null : Number(t.exit_price), w.exit_price === null ? null : Number(w.exit_price), `${what}: exit price`);
    near(Number(t.pnl), Number(w.pnl), `${what}: P&L`);
    near(t.ret === null ? null : Number(t.ret), w.ret === null ? null : Number(w.ret), `${what}: return`);
    if (w.exit_ts !== null) near(Number(t.fees), Number(w.fees), `${what}: fees`, 1e-6);
    near(Number(t.mae), Math.min(Number(w.mae ?? 0), 0), `${what}: MAE`, 1e-9);
    near(Number(t.mfe), Math.max(Number(w.mfe ?? 0), 0), `${what}: MFE`, 1e-9);
    assert.equal(t.tag === null ? null : String(t.tag), w.tag === null ? null : String(w.tag), `${what}: the entry tag`);
  }
  assert.equal(open, 2, 'the last trade of each run is open');

  const summary = (await s.ask({ query: 'summary', params: {} })).rows;
  for (const run of new Set(source.map((t) => String(t.run_id)))) {
    const row = summary.find((r) => r.run_id === run)!;
    near(Number(row.total_pnl), source.filter((t) => t.run_id === run).reduce((n, t) => n + Number(t.pnl), 0), `${run}: total P&L, the trades' own`, 1e-6);
  }
}

test('a result of two strategies: a run each, every trade as the tiny fixture has it, the open ones without an exit', async () => {
  await checkServed(fx.dir, `${FREQTRADE_RESULT}.json`);
});

test('the result zipped, as newer freqtrade writes it: its JSON unpacked and read the same, nothing else of the archive; prepared once', async () => {
  await checkServed(fx.zipDir, `${FREQTRADE_RESULT}.zip!${FREQTRADE_RESULT}.json`);
  // The store is named by the archive, not by where its document was unpacked: a second preparation finds it.
  const storeDir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-freqtrade-stores-'));
  try {
    const first = await prepareDataset({ input: fx.zipDir, storeDir });
    const second = await prepareDataset({ input: fx.zipDir, storeDir });
    assert.equal(first.reused, false);
    assert.equal(second.reused, true);
    assert.equal(second.storePath, first.storePath);
  } finally {
    await rm(storeDir, { recursive: true, force: true });
  }
  const left = (await readdir(os.tmpdir())).filter((f) => f.startsWith(`tickscope-unpacked-${process.pid}-`));
  assert.deepEqual(left, [], 'the unpacked documents are removed');
});

test('the result compressed (a .json.gz or .json.zst, as a results folder is often kept): read the same', async () => {
  const compressions = { gz: async (bytes: Buffer) => gzipSync(bytes), zst: (bytes: Buffer) => zstdStored(bytes) };
  for (const [suffix, compress] of Object.entries(compressions)) {
    const dir = await mkdtemp(path.join(os.tmpdir(), `tickscope-freqtrade-${suffix}-`));
    try {
      for (const name of await readdir(fx.dir)) {
        const from = path.join(fx.dir, name);
        if (name === `${FREQTRADE_RESULT}.json`) await writeFile(path.join(dir, `${name}.${suffix}`), await compress(await readFile(from)));
        else await copyFile(from, path.join(dir, name));
      }
      await checkServed(dir, `${FREQTRADE_RESULT}.json.${suffix}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('a damaged zip is skipped, and named with why when nothing else is there; an archive of another kind beside a JSON no format recognises: each named', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-freqtrade-archives-'));
  try {
    // A damaged zip is skipped, not fatal (a stray one beside the data must not stop a dataset): here, with nothing else, it is named with why.
    await writeFile(path.join(dir, `${FREQTRADE_RESULT}.zip`), 'PK\u0005\u0006');
    await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(dir, '.stores') }), (e: Error) => {
      assert.equal(e.name, 'PrepareError');
      assert.match(e.message, new RegExp(`not read: .*${FREQTRADE_RESULT}\\.zip \\(cannot be read as a zip archive: [^)]+\\)`));
      return true;
    });
    // Beside data, the same damaged zip changes nothing.
    const withData = path.join(dir, 'with-data');
    await mkdir(withData);
    await copyFile(path.join(fx.dir, `${FREQTRADE_RESULT}.json`), path.join(withData, `${FREQTRADE_RESULT}.json`));
    await copyFile(path.join(dir, `${FREQTRADE_RESULT}.zip`), path.join(withData, 'old-results.zip'));
    assert.equal((await prepareDataset({ input: withData, storeDir: path.join(dir, '.stores') })).reused, false);
    await rm(withData, { recursive: true });
    await rm(path.join(dir, `${FREQTRADE_RESULT}.zip`));
    await writeFile(path.join(dir, `${FREQTRADE_RESULT}.tar.gz`), '');
    await writeFile(path.join(dir, `${FREQTRADE_RESULT}.7z`), '7z\xbc\xaf\x27\x1c');
    await copyFile(path.join(fx.dir, `${FREQTRADE_RESULT}.meta.json`), path.join(dir, `${FREQTRADE_RESULT}.meta.json`));
    const said = (message: string) => {
      assert.match(message, /has neither bars nor trades: found no data files/);
      assert.match(message, new RegExp(`\\.meta\\.json: a JSON document no format recognises \\(top-level keys: alt, base\\)`));
      assert.match(message, new RegExp(`not read: .*${FREQTRADE_RESULT}\\.7z \\(an archive of a kind not opened: unpack it, or make it a zip or tar\\); .*${FREQTRADE_RESULT}\\.tar\\.gz \\(cannot be read as a tar archive: [^)]+\\)`));
      for (const line of message.split('\n')) assert.doesNotMatch(line, /\\x/, 'each line printable as it is');
    };
    await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(dir, '.stores') }), (e: Error) => {
      assert.equal(e.name, 'PrepareError');
      said(e.message);
      return true;
    });
    const report = await inspectDataset({ inputs: [dir] });
    assert.equal(report.ready, false);
    said(report.noData ?? '');
    assert.equal(report.files[0]!.recognisedAs, 'nothing: a JSON document no format recognises');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
