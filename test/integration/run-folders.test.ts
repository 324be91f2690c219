// One backtest per folder (server/prepare/inputs/run-folders.ts markRunFolders): an analyst puts each run's
// output in a folder of its own, without a run column. Each folder is a run named after it, and
// its numbers are its own; folders that are not runs (split by table, or not holding the same
// tables) stay one dataset as before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { tradingviewFixture } from '../../fixtures/formats/tradingview.js';
import { ensureVectorbtFixtures } from '../../fixtures/formats/vectorbt.js';
import { ziplineFixture } from '../../fixtures/formats/zipline.js';
import { ensureFixtures, repoRoot } from '../../fixtures/generate.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { near } from '../support/checks.js';
import { mem } from '../support/duckdb.js';
import { LocalSession } from '../support/local-session.js';

const scratch = path.join(repoRoot(), '.cache', 'test-run-folders');
const sessions: LocalSession[] = [];
let tiny: string;

before(async () => {
  tiny = await ensureFixtures('tiny', 7);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
});

after(async () => {
  for (const s of sessions) s.close();
  await rm(scratch, { recursive: true, force: true });
});

/** Run `run` of the tiny fixture in `folder`: its bars (Parquet, as written) and its trades as CSV, neither naming the run. */
async function writeRun(folder: string, run: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await copyFile(path.join(tiny, 'bars', `run_id=${run}`, 'part-0.parquet'), path.join(folder, 'bars.parquet'));
  await mem((q) =>
    q(`COPY (SELECT * EXCLUDE (run_id) FROM read_parquet('${path.join(tiny, 'trades', 'trades.parquet')}') WHERE run_id = '${run}')
       TO '${path.join(folder, 'trades.csv')}' (FORMAT csv, HEADER true)`),
  );
}

test('two folders of the same tables are two runs named after them, each with its own numbers', async () => {
  const dir = path.join(scratch, 'two-runs');
  await writeRun(path.join(dir, 'momentum-fast'), 'base');
  await writeRun(path.join(dir, 'momentum-slow'), 'alt');
  await copyFile(path.join(tiny, 'symbols.parquet'), path.join(dir, 'symbols.parquet'));

  const report = await inspectDataset({ inputs: [dir] });
  assert.equal(report.ready, true, JSON.stringify(report.problems));
  for (const table of ['bars', 'trades']) {
    const run = report.tables.find((t) => t.table === table)!.columns.find((c) => c.canonical === 'run_id');
    assert.deepEqual([run?.column, run?.from], ['momentum-fast, momentum-slow', 'folder'], `${table}: the run is the folder`);
  }

  const s = await LocalSession.open(dir);
  sessions.push(s);
  assert.deepEqual([...s.store.catalog.runs.keys()].sort(), ['momentum-fast', 'momentum-slow']);
  const want = await mem((q) =>
    q(`SELECT CASE run_id WHEN 'base' THEN 'momentum-fast' ELSE 'momentum-slow' END AS run, sum(pnl) AS pnl
       FROM read_parquet('${path.join(tiny, 'bars', '*', '*.parquet')}', hive_partitioning = true) GROUP BY 1`),
  );
  const summary = (await s.ask({ query: 'summary', params: {} })).rows;
  for (const w of want) {
    const row = summary.find((r) => r.run_id === w.run);
    near(Number(row?.total_pnl), Number(w.pnl), `${String(w.run)}: total P&L of its own bars`);
  }
  const trades = await mem((q) => q(`SELECT run_id, count(*) AS n FROM read_parquet('${path.join(tiny, 'trades', 'trades.parquet')}') GROUP BY 1`));
  for (const t of trades) {
    const run = t.run_id === 'base' ? 'momentum-fast' : 'momentum-slow';
    const answer = await s.ask({ query: 'trades', params: { runs: [run], limit: 1 } });
    assert.equal(answer.outcome.total, Number(t.n), `${run}: its trades`);
  }
});

test('folders that are not runs stay one run: one table each, or a run column in the files', async () => {
  const split = path.join(scratch, 'split-by-table');
  await mkdir(path.join(split, 'prices'), { recursive: true });
  await mkdir(path.join(split, 'fills'), { recursive: true });
  await copyFile(path.join(tiny, 'bars', 'run_id=base', 'part-0.parquet'), path.join(split, 'prices', 'bars.parquet'));
  await copyFile(path.join(tiny, 'trades', 'trades.parquet'), path.join(split, 'fills', 'trades.parquet'));
  const one = await inspectDataset({ inputs: [split] });
  const run = one.tables.find((t) => t.table === 'bars')!.columns.find((c) => c.canonical === 'run_id');
  assert.equal(run, undefined, 'folders holding different tables are not runs');

  const named = path.join(scratch, 'named-runs');
  for (const folder of ['a', 'b']) {
    await mkdir(path.join(named, folder), { recursive: true });
    await copyFile(path.join(tiny, 'trades', 'trades.parquet'), path.join(named, folder, 'trades.parquet'));
  }
  const report = await inspectDataset({ inputs: [named] });
  const trades = report.tables.find((t) => t.table === 'trades')!.columns.find((c) => c.canonical === 'run_id');
  assert.deepEqual([trades?.column, trades?.from], ['run_id', 'name'], 'a run column in the files wins over the folders');
});

test("a tool's output in each folder: zipline frames, TradingView exports and vectorbt records are a run per folder too", async () => {
  const zipline = await ziplineFixture();
  const tradingview = await tradingviewFixture();
  const vectorbt = await ensureVectorbtFixtures();
  const dir = path.join(scratch, 'tool-runs');
  const first = (await readdir(tradingview.dir)).filter((f) => f.endsWith('.csv')).sort()[0]!;
  for (const run of ['v1', 'v2']) {
    await mkdir(path.join(dir, 'zipline', run), { recursive: true });
    await copyFile(path.join(zipline.dir, 'perf.csv'), path.join(dir, 'zipline', run, 'perf.csv'));
    await mkdir(path.join(dir, 'tradingview', run), { recursive: true });
    await copyFile(path.join(tradingview.dir, first), path.join(dir, 'tradingview', run, first));
    await mkdir(path.join(dir, 'vectorbt', run), { recursive: true });
    await copyFile(path.join(vectorbt.tradesDir, 'trades.csv'), path.join(dir, 'vectorbt', run, 'trades.csv'));
  }
  const perf = await mem((q) => q(`SELECT sum(pnl) AS pnl FROM read_csv('${path.join(zipline.dir, 'perf.csv')}')`));
  const z = await LocalSession.open(path.join(dir, 'zipline'));
  sessions.push(z);
  assert.deepEqual([...z.store.catalog.runs.keys()].sort(), ['v1', 'v2']);
  for (const row of (await z.ask({ query: 'summary', params: {} })).rows) near(Number(row.total_pnl), Number(perf[0]!.pnl), `zipline run ${String(row.run_id)}: the frame's P&L`, 1e-7);

  const t = await LocalSession.open(path.join(dir, 'tradingview'));
  sessions.push(t);
  assert.deepEqual([...t.store.catalog.runs.keys()].sort(), ['v1', 'v2']);
  const ids = (run: string) => t.ask({ query: 'trades', params: { runs: [run], sort: { column: 'entry_ts', descending: false }, limit: 100 } });
  const [v1, v2] = await Promise.all([ids('v1'), ids('v2')]);
  assert.ok(v1.rows.length > 0);
  assert.deepEqual(v1.rows.map((r) => Number(r.trade_id)), v2.rows.map((r) => Number(r.trade_id)), "each run keeps TradingView's own trade numbers");

  const v = await LocalSession.open(path.join(dir, 'vectorbt'));
  sessions.push(v);
  assert.deepEqual([...v.store.catalog.runs.keys()].sort(), ['v1', 'v2']);
  const pnl = await mem((q) => q(`SELECT sum("PnL") AS pnl FROM read_csv('${path.join(vectorbt.tradesDir, 'trades.csv')}')`));
  for (const row of (await v.ask({ query: 'summary', params: {} })).rows) near(Number(row.total_pnl), Number(pnl[0]!.pnl), `vectorbt run ${String(row.run_id)}: its PnL`, 1e-7);
});
