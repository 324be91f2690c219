import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateFixtures, RUNS, SCALES } from '../../fixtures/generate.js';
import { prepareDataset, type PrepareProgress } from '../../server/prepare/prepare.js';
import { availableMemoryBytes, parseSize } from '../../server/os/memory.js';
import { DEFAULT_MEMORY_FRACTION, defaultMemoryLimit } from '../../server/prepare/memory.js';
import { prepareInChild } from '../../server/prepare/run-in-child.js';
import { META_TABLE, STORE_FORMAT_VERSION, StoreTable } from '../../server/store/format.js';
import type { DatasetInfo } from '../../shared/http-api.js';
import { startTestServer } from '../support/control-server.js';
import { mem, withDb } from '../support/duckdb.js';
import { MANIFEST_SUFFIX } from '../../server/store/segments.js';

let tmp = '';
let fixture = '';


before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-prep-'));
  fixture = (await generateFixtures({ scale: 'tiny', seed: 3, outDir: path.join(tmp, 'fixture') })).outDir;
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const COLUMNS: Record<string, string[]> = {
  runs: ['run_id', 'name', 'params', 'capital', 'capital_source', 'input_order', 'run_key'],
  symbols: ['symbol', 'sector', 'industry', 'multiplier'],
  bars: ['run_id', 'ts', 'symbol', 'price', 'position_qty', 'position_value', 'trade_qty', 'fees', 'pnl'],
  trades: ['run_id', 'trade_id', 'symbol', 'side', 'entry_ts', 'exit_ts', 'qty', 'entry_price', 'exit_price', 'fees', 'pnl', 'ret', 'bars_held', 'mae', 'mfe', 'tag'],
  meta: ['key', 'value'],
};

/** The store folder's files but the segment manifests a preparation writes beside its store (server/store/segments.ts). */
async function publishedIn(storeDir: string): Promise<string[]> {
  return (await readdir(storeDir)).filter((name) => !name.endsWith(MANIFEST_SUFFIX));
}

test('prepare builds every table, sorted, with rollups matching an independent sum', async () => {
  const storeDir = path.join(tmp, 'stores');
  const phases: string[] = [];
  const r = await prepareDataset({ input: fixture, storeDir, onProgress: (p) => phases.push(p.phase) });
  assert.equal(r.reused, false);
  assert.match(r.fingerprint, /^[0-9a-f]{16}$/);
  assert.equal(r.storePath, path.join(storeDir, `${r.fingerprint}.duckdb`));
  // The fixture's bars files are each sorted and do not overlap: proven, then copied in order.
  for (const p of ['checking inputs', 'checking bars order', 'copying bars (input already sorted)', 'checking bars', 'dimensions', 'sorting trades', 'rollups', 'writing the store', 'publishing', 'done']) {
    assert.ok(phases.includes(p), p);
  }
  assert.deepEqual(await publishedIn(storeDir), [`${r.fingerprint}.duckdb`]);

  await withDb(r.storePath, async (q) => {
    // Every table of the format exists (the rollups are defined in rollups.ts, owned elsewhere);
    // the base tables and the first rollups have exactly the documented columns.
    const tables = (await q(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'`)).map((x) => String(x['table_name']));
    for (const t of [...Object.values(StoreTable), META_TABLE]) assert.ok(tables.includes(t), `table ${t}`);
    for (const [table, cols] of Object.entries(COLUMNS)) {
      const got = await q(`SELECT column_name FROM information_schema.columns WHERE table_name = '${table}' ORDER BY ordinal_position`);
      assert.deepEqual(got.map((x) => x['column_name']), cols, table);
    }
    const meta = Object.fromEntries((await q(`SELECT key, value FROM meta`)).map((x) => [x['key'], x['value']]));
    assert.equal(meta['format_version'], String(STORE_FORMAT_VERSION));
    assert.equal(meta['fingerprint'], r.fingerprint);
    assert.ok(Array.isArray(JSON.parse(String(meta['inputs']))));
    assert.ok(String(meta['timezone_note']).length > 0);
    assert.equal((await q(`SELECT count(*) AS n FROM symbols WHERE sector = 'Unknown'`))[0]!['n'], '0');
    // runs.arrow (Arrow IPC, written by apache-arrow) gives the runs their names and parameters;
    // symbols.parquet (written by parquetjs-lite) their sectors.
    const runs = await q(`SELECT run_id, name, params FROM runs ORDER BY run_id`);
    assert.deepEqual(runs.map((x) => x['run_id']), ['alt', 'base']);
    for (const run of RUNS) assert.equal(runs.find((x) => x['run_id'] === run.run_id)!['name'], run.name);
    assert.equal(JSON.parse(String(runs[0]!['params'])).gross_notional, RUNS.find((x) => x.run_id === 'alt')!.params.gross_notional);
    assert.equal((await q(`SELECT count(DISTINCT sector) AS n FROM symbols`))[0]!['n'], '11');
    assert.equal((await q(`SELECT typeof(ts) AS t FROM bars LIMIT 1`))[0]!['t'], 'TIMESTAMP');

    // run_key (format 12): the runs numbered 1, 2, ... in run_id order, and every table of the
    // format with run_id but the base ones carries its run's key on every row. (market_close, a
    // helper of segments, names a run per symbol and day: it is not read by run.)
    const runKeys = await q(`SELECT run_id, run_key FROM runs ORDER BY run_id`);
    assert.deepEqual(runKeys.map((x) => Number(x['run_key'])), runKeys.map((_, i) => i + 1));
    const withRuns = (await q(`SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'main' AND column_name = 'run_id'`))
      .map((x) => String(x['table_name']))
      .filter((t) => (Object.values(StoreTable) as string[]).includes(t) && !['runs', 'bars', 'trades'].includes(t));
    assert.ok(withRuns.includes('symbol_day') && withRuns.includes('trade_list') && withRuns.includes('trade_day'), withRuns.join(', '));
    for (const t of withRuns) {
      const [{ n }] = (await q(`SELECT count(*) AS n FROM ${t} x LEFT JOIN runs r ON r.run_id = x.run_id WHERE x.run_key IS DISTINCT FROM r.run_key`)) as [{ n: unknown }];
      assert.equal(n, '0', `${t}: every row's run_key is its run's`);
    }

    // Physical order of bars is (run_id, symbol, ts).
    const keys = await q(`SELECT run_id, symbol, epoch_us(ts)::VARCHAR AS t FROM bars ORDER BY rowid`);
    assert.equal(keys.length, 2 * SCALES.tiny.symbols * SCALES.tiny.days * 78);
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    for (let i = 1; i < keys.length; i++) {
      const a = keys[i - 1]!;
      const b = keys[i]!;
      const order =
        cmp(String(a['run_id']), String(b['run_id'])) ||
        cmp(String(a['symbol']), String(b['symbol'])) ||
        Math.sign(Number(BigInt(String(a['t'])) - BigInt(String(b['t']))));
      assert.equal(order, -1, `bars row ${i} out of (run_id, symbol, ts) order`);
    }

    // portfolio_bar equals an independent sum in TypeScript over the raw parquet rows.
    const raw = await mem((m) =>
      m(`SELECT run_id, epoch_us(ts)::VARCHAR AS t, pnl, fees, position_value, trade_qty FROM read_parquet('${fixture}/bars/**/*.parquet', hive_partitioning = true)`),
    );
    const sums = new Map<string, number[]>();
    for (const row of raw) {
      const k = `${String(row['run_id'])}|${String(row['t'])}`;
      const s = sums.get(k) ?? [0, 0, 0, 0, 0, 0, 0];
      const pv = Number(row['position_value']);
      s[0]! += Number(row['pnl']);
      s[1]! += Number(row['fees']);
      s[2]! += Math.abs(pv);
      s[3]! += pv;
      s[4]! += pv > 0 ? pv : 0;
      s[5]! += pv < 0 ? pv : 0;
      s[6]! += Math.abs(Number(row['trade_qty']));
      sums.set(k, s);
    }
    const pb = await q(`SELECT run_id, epoch_us(ts)::VARCHAR AS t, pnl, fees, gross_exposure, net_exposure, long_exposure, short_exposure, trade_qty FROM portfolio_bar`);
    assert.equal(pb.length, sums.size);
    const names = ['pnl', 'fees', 'gross_exposure', 'net_exposure', 'long_exposure', 'short_exposure', 'trade_qty'];
    for (const row of pb) {
      const s = sums.get(`${String(row['run_id'])}|${String(row['t'])}`);
      assert.ok(s, 'portfolio_bar row without raw bars');
      names.forEach((n, i) => {
        const want = s[i]!;
        const got = Number(row[n]);
        assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${n}: ${got} vs ${want}`);
      });
    }
    // Day rollups agree with the bar table.
    const [chk] = await q(`SELECT
        (SELECT sum(pnl) FROM bars) AS b, (SELECT sum(pnl) FROM portfolio_day) AS pd,
        (SELECT sum(pnl) FROM symbol_day) AS sd, (SELECT sum(pnl) FROM sector_day) AS sec,
        (SELECT count(*) FROM portfolio_day) AS days, (SELECT min(bars) FROM portfolio_day) AS minbars`);
    for (const k of ['pd', 'sd', 'sec']) assert.ok(Math.abs(Number(chk![k]) - Number(chk!['b'])) < 1e-3, k);
    assert.equal(chk!['days'], '20');
    assert.equal(chk!['minbars'], '78');
    assert.equal((await q(`SELECT count(*) AS n FROM trades`))[0]!['n'], (await mem((m) => m(`SELECT count(*) AS n FROM '${fixture}/trades/trades.parquet'`)))[0]!['n']);
  });

  // Second call: reused, untouched.
  const before = await stat(r.storePath);
  const again = await prepareDataset({ input: fixture, storeDir });
  assert.deepEqual(
    { storePath: again.storePath, fingerprint: again.fingerprint, reused: again.reused, note: again.timezoneNote },
    { storePath: r.storePath, fingerprint: r.fingerprint, reused: true, note: r.timezoneNote },
  );
  const tradeCount = await mem((m) => m(`SELECT count(*)::INTEGER AS n FROM '${fixture}/trades/trades.parquet'`));
  assert.equal(r.rows, 2 * SCALES.tiny.symbols * SCALES.tiny.days * 78 + Number(tradeCount[0]!['n']));
  assert.equal((await stat(r.storePath)).mtimeMs, before.mtimeMs);
});

test('a store with another format_version is rebuilt; nothing temporary is left', async () => {
  const storeDir = path.join(tmp, 'stores-v');
  const r = await prepareDataset({ input: fixture, storeDir });
  await withDb(r.storePath, (q) => q(`UPDATE meta SET value = '0' WHERE key = 'format_version'`), 'READ_WRITE');
  const r2 = await prepareDataset({ input: fixture, storeDir });
  assert.equal(r2.reused, false);
  assert.equal(r2.storePath, r.storePath);
  const v = await withDb(r.storePath, (q) => q(`SELECT value FROM meta WHERE key = 'format_version'`));
  assert.equal(v[0]!['value'], String(STORE_FORMAT_VERSION));
  // An unreadable file at the store path is rebuilt too.
  await writeFile(r.storePath, 'not a database');
  assert.equal((await prepareDataset({ input: fixture, storeDir })).reused, false);
  assert.deepEqual(await publishedIn(storeDir), [path.basename(r.storePath)]);
});

async function writeBars(dir: string, select: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await mem((m) => m(`COPY (${select}) TO '${path.join(dir, 'bars.parquet')}' (FORMAT parquet)`));
}
const GOOD_ROW = `SELECT 'r1' AS run_id, TIMESTAMP '2024-01-02 14:35:00' + to_minutes(5 * i::INTEGER) AS ts, 'AAA' AS symbol, 10.0 AS price,
  1.0 AS position_qty, 10.0 AS position_value, 0.0 AS trade_qty, 0.0 AS fees, 0.5 AS pnl FROM range(3) t(i)`;

test('common column names are mapped; symbols and runs derived when absent', async () => {
  const dir = path.join(tmp, 'aliases');
  await writeBars(dir, `SELECT ts AS dt, symbol AS ticker, price AS close, position_qty AS amount, pnl FROM (${GOOD_ROW})`);
  const r = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-alias') });
  await withDb(r.storePath, async (q) => {
    const [b] = await q(`SELECT count(*) AS n, any_value(run_id) AS run, sum(position_value) AS pv, sum(trade_qty) AS tq FROM bars`);
    assert.deepEqual(b, { n: '3', run: 'default', pv: 30, tq: 1 });
    assert.deepEqual(await q(`SELECT * FROM symbols`), [{ symbol: 'AAA', sector: 'Unknown', industry: 'Unknown', multiplier: 1 }]);
    assert.deepEqual(await q(`SELECT run_id, name, params, capital FROM runs`), [{ run_id: 'default', name: 'default', params: null, capital: null }]);
    assert.equal((await q(`SELECT count(*) AS n FROM trades`))[0]!['n'], '0');
  });
});

test('bars not already in (run_id, symbol, ts) order are sorted: shuffled rows, overlapping files', async () => {
  const rowsIn = (file: string) => mem((m) => m(`SELECT count(*)::INTEGER AS n FROM '${file}'`));
  const check = async (input: string, storeDir: string) => {
    const phases: string[] = [];
    const r = await prepareDataset({ input, storeDir, onProgress: (p) => phases.push(p.phase) });
    assert.ok(phases.includes('sorting bars'), phases.join(', '));
    await withDb(r.storePath, async (q) => {
      const [o] = await q(`SELECT count(*) FILTER (WHERE NOT (run_id > pr OR (run_id = pr AND (symbol > ps OR (symbol = ps AND ts > pt))))) AS bad, count(*) AS n FROM (
          SELECT run_id, symbol, ts, lag(run_id) OVER (ORDER BY rowid) AS pr, lag(symbol) OVER (ORDER BY rowid) AS ps, lag(ts) OVER (ORDER BY rowid) AS pt FROM bars)
        WHERE pr IS NOT NULL`);
      assert.equal(o!['bad'], '0');
    });
  };
  const shuffled = path.join(tmp, 'shuffled');
  await mkdir(shuffled, { recursive: true });
  await mem((m) => m(`COPY (SELECT * FROM read_parquet('${fixture}/bars/**/*.parquet', hive_partitioning = true) ORDER BY hash(symbol, ts))
    TO '${shuffled}/bars.parquet' (FORMAT parquet)`));
  await check(shuffled, path.join(tmp, 'stores-shuffled'));
  // Two files each sorted, but overlapping in time for the same symbols.
  const overlap = path.join(tmp, 'overlap', 'bars');
  await mkdir(overlap, { recursive: true });
  const src = `read_parquet('${fixture}/bars/**/*.parquet', hive_partitioning = true)`;
  await mem((m) => m(`COPY (SELECT * FROM ${src} WHERE minute(ts) % 10 = 0 ORDER BY run_id, symbol, ts) TO '${overlap}/a.parquet' (FORMAT parquet)`));
  await mem((m) => m(`COPY (SELECT * FROM ${src} WHERE minute(ts) % 10 <> 0 ORDER BY run_id, symbol, ts) TO '${overlap}/b.parquet' (FORMAT parquet)`));
  assert.ok(Number((await rowsIn(`${overlap}/a.parquet`))[0]!['n']) > 0);
  await check(path.dirname(overlap), path.join(tmp, 'stores-overlap'));
});

test('prepareInChild runs the preparation in a child process', async () => {
  const storeDir = path.join(tmp, 'stores-child');
  const phases: string[] = [];
  const r = await prepareInChild({ input: fixture, storeDir, onProgress: (p) => phases.push(p.phase) });
  assert.equal(r.reused, false);
  assert.ok(phases.length > 0);
  assert.deepEqual(await publishedIn(storeDir), [path.basename(r.storePath)]);
  await assert.rejects(prepareInChild({ input: path.join(tmp, 'nope'), storeDir }), /does not exist/);
  const ac = new AbortController();
  const p = prepareInChild({ input: fixture, storeDir: path.join(tmp, 'stores-abort'), signal: ac.signal });
  ac.abort();
  await assert.rejects(p, /abort/i);
});

test('progress carries phase, rows of the phase, overall fraction and ETA fields', async () => {
  const seen: PrepareProgress[] = [];
  await prepareDataset({ input: fixture, storeDir: path.join(tmp, 'stores-progress'), onProgress: (p) => seen.push(p) });
  let last = 0;
  for (const p of seen) {
    assert.ok(p.fraction >= last - 1e-9, `fraction went back: ${last} -> ${p.fraction} (${p.phase})`);
    last = p.fraction;
    for (const k of ['rows', 'totalRows', 'etaSeconds'] as const) assert.ok(p[k] === null || typeof p[k] === 'number', k);
  }
  assert.equal(seen.at(-1)!.fraction, 1);
  const sorting = seen.find((p) => p.phase === 'copying bars (input already sorted)')!;
  assert.equal(sorting.totalRows, 2 * SCALES.tiny.symbols * SCALES.tiny.days * 78);
  assert.ok(sorting.source!.includes('bars'));
});

test('lock: two preparations of one dataset at once do the work once', async () => {
  // In one process.
  const storeDir = path.join(tmp, 'stores-lock');
  const phasesA: string[] = [];
  const phasesB: string[] = [];
  const a = prepareDataset({ input: fixture, storeDir, onProgress: (p) => phasesA.push(p.phase) });
  const b = prepareDataset({ input: fixture, storeDir, onProgress: (p) => phasesB.push(p.phase) });
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.storePath, rb.storePath);
  assert.deepEqual([ra.reused, rb.reused].sort(), [false, true]);
  const [waiter, waits] = ra.reused ? [ra, phasesA] : [rb, phasesB];
  assert.equal(waiter.waited, true);
  assert.ok(waits.some((p) => p.startsWith('waiting for pid')), waits.join(', '));
  assert.ok(!waits.includes('sorting bars'), 'the waiter did not build');
  assert.deepEqual(await publishedIn(storeDir), [path.basename(ra.storePath)]);

  // Across processes.
  const storeDir2 = path.join(tmp, 'stores-lock-2');
  const [c1, c2] = await Promise.all([prepareInChild({ input: fixture, storeDir: storeDir2 }), prepareInChild({ input: fixture, storeDir: storeDir2 })]);
  assert.deepEqual([c1.reused, c2.reused].sort(), [false, true]);
  assert.deepEqual(await publishedIn(storeDir2), [path.basename(c1.storePath)]);
});

test('lock: a lock left by a dead process is taken over', async () => {
  const storeDir = path.join(tmp, 'stores-stale');
  const first = await prepareDataset({ input: fixture, storeDir: path.join(tmp, 'stores-stale-probe') });
  await mkdir(storeDir, { recursive: true });
  // pid 2^22 + 1 is above Linux's pid_max: never alive.
  await writeFile(path.join(storeDir, `${first.fingerprint}.lock`), JSON.stringify({ pid: 4_194_305, host: os.hostname(), startedAt: new Date().toISOString() }));
  const r = await prepareDataset({ input: fixture, storeDir, lockTimeoutMs: 20_000 });
  assert.equal(r.reused, false);
  assert.deepEqual(await publishedIn(storeDir), [path.basename(r.storePath)]);
});

test('a crash of the preparation process is reported by name and publishes nothing; the next run builds', async () => {
  const storeDir = path.join(tmp, 'stores-crash');
  process.env['TICKSCOPE_TEST_CRASH_PHASE'] = 'rollups';
  try {
    await assert.rejects(prepareInChild({ input: fixture, storeDir }), (e: Error) => {
      assert.match(e.message, /crashed while rollups/);
      assert.ok(e.message.includes(fixture), e.message);
      assert.match(e.message, /signal SIGKILL/);
      return true;
    });
  } finally {
    delete process.env['TICKSCOPE_TEST_CRASH_PHASE'];
  }
  assert.ok(!(await readdir(storeDir)).some((f) => f.endsWith('.duckdb')), 'no store published');
  const r = await prepareInChild({ input: fixture, storeDir });
  assert.equal(r.reused, false);
  assert.deepEqual(await publishedIn(storeDir), [path.basename(r.storePath)]); // the dead build's temporaries are gone
});

test('memory: the limit defaults to a fraction of the machine, is settable, and spills to the temp folder', async () => {
  const def = parseSize(defaultMemoryLimit());
  assert.ok(Math.abs(def - Math.max(512 * 2 ** 20, availableMemoryBytes() * DEFAULT_MEMORY_FRACTION)) < 2 ** 20, defaultMemoryLimit());
  process.env['TICKSCOPE_PREPARE_MEMORY'] = '3GB';
  try {
    assert.equal(defaultMemoryLimit(), '3GB');
  } finally {
    delete process.env['TICKSCOPE_PREPARE_MEMORY'];
  }
  const tempDir = path.join(tmp, 'spill');
  const r = await prepareDataset({ input: fixture, storeDir: path.join(tmp, 'stores-mem'), memoryLimit: '64MB', threads: 1, tempDir });
  await withDb(r.storePath, async (q) => {
    assert.equal((await q(`SELECT count(*) AS n FROM bars`))[0]!['n'], String(2 * SCALES.tiny.symbols * SCALES.tiny.days * 78));
  });
  // The build spills into a folder of its own inside --temp-dir and removes that; the --temp-dir
  // itself (the user's folder, maybe holding other files) stays (prepare-cleanup.test.ts).
  assert.deepEqual(await readdir(tempDir), [], 'the build\'s spill folder is removed after the build');
});

test('GET /api/datasets shows the preparation phase, rows and ETA while a dataset is prepared', async () => {
  const server = await startTestServer({ datasets: [{ id: 'fresh', input: fixture }], storeDir: path.join(tmp, 'stores-http') });
  try {
    const seen: DatasetInfo[] = [];
    const ready = server.datasets.whenReady('fresh');
    let done = false;
    void ready.finally(() => (done = true));
    while (!done) {
      const list = (await (await fetch(`${server.url}/api/datasets`)).json()) as DatasetInfo[];
      seen.push(list[0]!);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await ready;
    const preparing = seen.filter((d) => d.state === 'preparing' && d.phase !== null);
    assert.ok(preparing.length > 0, `saw ${seen.map((d) => `${d.state}/${d.phase}`).join(', ')}`);
    assert.ok(preparing.some((d) => d.phase === 'sorting bars' || d.totalRows !== null || d.progress > 0), JSON.stringify(preparing.at(-1)));
    for (const d of preparing) for (const k of ['rows', 'totalRows', 'etaSeconds'] as const) assert.ok(d[k] === null || typeof d[k] === 'number', k);
    const final = (await (await fetch(`${server.url}/api/datasets`)).json()) as DatasetInfo[];
    assert.deepEqual({ ...final[0], inputs: undefined }, {
      id: 'fresh',
      inputs: undefined,
      state: 'ready',
      progress: 1,
      phase: null,
      error: null,
      rows: null,
      totalRows: null,
      etaSeconds: null,
      descriptionPath: path.join(fixture, 'tickscope.json'),
      dataQuality: [],
      notRead: [],
      revision: 0,
      addedRuns: [],
    });
  } finally {
    await server.close();
  }
});
