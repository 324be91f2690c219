// Preparation inputs: every format and layout gives the same store; the mapping file; symbols as
// strings or integers; naive and zoned timestamps normalised to UTC (and the store says which).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  Float64,
  Int32,
  Int64,
  Table,
  TimeUnit,
  Timestamp,
  TimestampMillisecond,
  Utf8,
  tableToIPC,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';
import { generateFixtures, repoRoot } from '../../fixtures/generate.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { mem, withDb } from '../support/duckdb.js';

const run = promisify(execFile);
let tmp = '';
let fixture = '';
let baseline = '';


/** Content of a store's base tables, independent of physical layout. */
async function contentHash(storePath: string): Promise<string> {
  return withDb(storePath, async (q) => {
    const [r] = await q(`SELECT
      (SELECT bit_xor(hash(run_id, ts, symbol, price, position_qty, position_value, trade_qty, fees, pnl)) FROM bars)::VARCHAR AS b,
      (SELECT count(*) FROM bars)::VARCHAR AS nb,
      (SELECT bit_xor(hash(run_id, trade_id, symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees, pnl, ret, bars_held, mae, mfe, tag)) FROM trades)::VARCHAR AS t,
      (SELECT bit_xor(hash(symbol, sector, industry)) FROM symbols)::VARCHAR AS s,
      (SELECT bit_xor(hash(run_id, name, params)) FROM runs)::VARCHAR AS r`);
    return JSON.stringify(r);
  });
}

/** Rows of a Parquet glob as an Arrow table (timestamps as ms, optionally zoned). */
async function arrowOf(glob: string, tsColumns: string[], zone: string | null, hive = false): Promise<Table> {
  return mem(async (q) => {
    const described = await q(`DESCRIBE SELECT * FROM read_parquet('${glob}', hive_partitioning = ${hive})`);
    const names = described.map((r) => String(r['column_name']));
    const types = new Map(described.map((r) => [String(r['column_name']), String(r['column_type'])] as const));
    const cols: Record<string, Vector> = {};
    const sel = names.map((n) => (tsColumns.includes(n) ? `epoch_ms("${n}")::DOUBLE AS "${n}"` : `"${n}"`)).join(', ');
    const all = await q(`SELECT ${sel} FROM (SELECT * FROM read_parquet('${glob}', hive_partitioning = ${hive}) ORDER BY ALL)`);
    for (const n of names) {
      const values = all.map((r) => r[n]);
      if (tsColumns.includes(n)) {
        const type = zone ? new Timestamp(TimeUnit.MILLISECOND, zone) : new TimestampMillisecond();
        cols[n] = vectorFromArray(values.map((v) => (v === null ? null : Number(v))), type);
      } else if (types.get(n) === 'VARCHAR') cols[n] = vectorFromArray(values as (string | null)[], new Utf8());
      else if (types.get(n) === 'BIGINT') cols[n] = vectorFromArray(values.map((v) => (v === null ? null : BigInt(String(v)))), new Int64());
      else if (types.get(n) === 'INTEGER') cols[n] = vectorFromArray(values.map((v) => (v === null ? null : Number(v))), new Int32());
      else cols[n] = vectorFromArray(values.map((v) => (v === null ? null : Number(v))), new Float64());
    }
    return new Table(cols);
  });
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-inputs-'));
  fixture = (await generateFixtures({ scale: 'tiny', seed: 11, outDir: path.join(tmp, 'fixture') })).outDir;
  baseline = await contentHash((await prepareDataset({ input: fixture, storeDir: path.join(tmp, 'stores-base') })).storePath);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('a hive-partitioned folder, explicit files and globs give the same store as the dataset folder', async () => {
  const byFiles = await prepareDataset({
    input: [path.join(fixture, 'bars'), path.join(fixture, 'trades', 'trades.parquet'), path.join(fixture, 'symbols.parquet'), path.join(fixture, 'runs.arrow')],
    storeDir: path.join(tmp, 'stores-files'),
  });
  assert.equal(await contentHash(byFiles.storePath), baseline);
  const byGlobs = await prepareDataset({
    input: [path.join(fixture, 'bars', '**', '*.parquet'), path.join(fixture, 'trades', '*.parquet'), path.join(fixture, 'sym*.parquet'), path.join(fixture, 'runs.arr?w')],
    storeDir: path.join(tmp, 'stores-globs'),
  });
  assert.equal(await contentHash(byGlobs.storePath), baseline);
  // The hive partition run_id=... is the run id: both runs are there.
  await withDb(byGlobs.storePath, async (q) => {
    assert.deepEqual((await q(`SELECT DISTINCT run_id FROM bars ORDER BY 1`)).map((r) => r['run_id']), ['alt', 'base']);
  });
});

test('Arrow IPC inputs (file and stream format, naive and zoned timestamps) give the same store as Parquet', async () => {
  const dir = path.join(tmp, 'arrow');
  for (const run of ['base', 'alt']) {
    await mkdir(path.join(dir, 'bars', `run_id=${run}`), { recursive: true });
    // base: naive timestamps in an IPC file; alt: UTC-zoned timestamps in an IPC stream.
    const t = await arrowOf(path.join(fixture, 'bars', `run_id=${run}`, '*.parquet'), ['ts'], run === 'alt' ? 'UTC' : null);
    const name = run === 'base' ? 'part-0.arrow' : 'part-0.arrows';
    await writeFile(path.join(dir, 'bars', `run_id=${run}`, name), tableToIPC(t, run === 'base' ? 'file' : 'stream'));
  }
  // Mixed schemas would be refused; the zone is a different type family, so give both runs the
  // same kind: re-write alt with naive timestamps too, and test zoned Arrow on trades instead.
  const altNaive = await arrowOf(path.join(fixture, 'bars', 'run_id=alt', '*.parquet'), ['ts'], null);
  await rm(path.join(dir, 'bars', 'run_id=alt', 'part-0.arrows'));
  await writeFile(path.join(dir, 'bars', 'run_id=alt', 'part-0.arrows'), tableToIPC(altNaive, 'stream'));
  const trades = await arrowOf(path.join(fixture, 'trades', '*.parquet'), ['entry_ts', 'exit_ts'], 'UTC');
  await writeFile(path.join(dir, 'trades.arrow'), tableToIPC(trades, 'stream')); // stream bytes, .arrow name: sniffed
  await cp(path.join(fixture, 'symbols.parquet'), path.join(dir, 'symbols.parquet'));
  await cp(path.join(fixture, 'runs.arrow'), path.join(dir, 'runs.arrow'));
  const r = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-arrow') });
  assert.equal(await contentHash(r.storePath), baseline);
  assert.match(r.timezoneNote!, /ts: naive timestamps taken as UTC/);
  assert.match(r.timezoneNote!, /entry_ts: zoned timestamps \(Arrow time zone UTC\) read as UTC instants/);

  // One table from Parquet and Arrow files at once.
  const mixed = path.join(tmp, 'mixed');
  await cp(fixture, mixed, { recursive: true });
  await rm(path.join(mixed, 'bars', 'run_id=alt'), { recursive: true });
  await mkdir(path.join(mixed, 'bars', 'run_id=alt'), { recursive: true });
  await writeFile(path.join(mixed, 'bars', 'run_id=alt', 'part-0.arrow'), tableToIPC(altNaive, 'file'));
  const m = await prepareDataset({ input: mixed, storeDir: path.join(tmp, 'stores-mixed') });
  assert.equal(await contentHash(m.storePath), baseline);
});

async function parquet(file: string, select: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await mem((q) => q(`COPY (${select}) TO '${file}' (FORMAT parquet)`));
}

test('symbols as integers; zoned, naive, text and epoch timestamps normalised to UTC, and said which', async () => {
  const dir = path.join(tmp, 'intsyms');
  // sid is an integer in bars and in symbols; dt is zoned (+01:00 offsets), stored as UTC instants.
  await parquet(
    path.join(dir, 'bars.parquet'),
    `SELECT (100 + i % 3)::BIGINT AS sid, TIMESTAMPTZ '2024-01-02 15:35:00+01:00' + to_minutes((5 * (i // 3))::INTEGER) AS dt,
       10.0 + i AS close, 1.0 AS amount, 0.5 AS pnl FROM range(9) t(i)`,
  );
  await parquet(path.join(dir, 'symbols.parquet'), `SELECT (100 + i)::INTEGER AS sid, 'Sector ' || i AS sector FROM range(3) t(i)`);
  const r = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-int') });
  await withDb(r.storePath, async (q) => {
    assert.deepEqual(await q(`SELECT symbol, sector FROM symbols ORDER BY symbol`), [
      { symbol: '100', sector: 'Sector 0' },
      { symbol: '101', sector: 'Sector 1' },
      { symbol: '102', sector: 'Sector 2' },
    ]);
    assert.equal((await q(`SELECT min(ts)::VARCHAR AS t FROM bars`))[0]!['t'], '2024-01-02 14:35:00');
    const note = String((await q(`SELECT value FROM meta WHERE key = 'timezone_note'`))[0]!['value']);
    assert.equal(note, 'dt: zoned timestamps converted to UTC');
  });

  // Naive wall-clock times in New York (mapping timezone), text with and without offsets, epoch ms.
  const dir2 = path.join(tmp, 'naive-ny');
  await parquet(
    path.join(dir2, 'bars.parquet'),
    `SELECT 'AAA' AS symbol, TIMESTAMP '2024-01-02 09:35:00' AS ts, 1.0 AS price, 1.0 AS position_qty, 0.0 AS pnl
     UNION ALL SELECT 'AAA', TIMESTAMP '2024-07-02 09:40:00', 1.0, 1.0, 0.0`,
  );
  await parquet(
    path.join(dir2, 'trades.parquet'),
    `SELECT 'AAA' AS symbol, '2024-01-02T09:35:00-05:00' AS entry_ts, '2024-01-02 16:00:00' AS exit_ts, 1704207300000::BIGINT AS opened_ms`,
  );
  const r2 = await prepareDataset({ input: dir2, storeDir: path.join(tmp, 'stores-ny'), description: { timezone: 'America/New_York' } });
  await withDb(r2.storePath, async (q) => {
    // EST in January (UTC-5), EDT in July (UTC-4).
    assert.deepEqual((await q(`SELECT ts::VARCHAR AS t FROM bars ORDER BY ts`)).map((x) => x['t']), ['2024-01-02 14:35:00', '2024-07-02 13:40:00']);
    const [t] = await q(`SELECT entry_ts::VARCHAR AS e, exit_ts::VARCHAR AS x FROM trades`);
    assert.deepEqual(t, { e: '2024-01-02 14:35:00', x: '2024-01-02 21:00:00' });
  });
  assert.match(r2.timezoneNote!, /ts: naive timestamps taken as America\/New_York and converted to UTC/);
  assert.match(r2.timezoneNote!, /entry_ts: text timestamps: with an offset converted to UTC, without one taken as America\/New_York/);

  // Integer epoch timestamps (milliseconds here), string run ids from integers.
  const dir3 = path.join(tmp, 'epoch');
  await parquet(path.join(dir3, 'bars.parquet'), `SELECT 7 AS run, 'X' AS ticker, 1704205800000::BIGINT AS timestamp, 2.0 AS px, 3.0 AS qty, 1.5 AS pl`);
  const r3 = await prepareDataset({ input: dir3, storeDir: path.join(tmp, 'stores-epoch') });
  await withDb(r3.storePath, async (q) => {
    assert.deepEqual(await q(`SELECT run_id, symbol, ts::VARCHAR AS ts, position_value FROM bars`), [{ run_id: '7', symbol: 'X', ts: '2024-01-02 14:30:00', position_value: 6 }]);
  });
  assert.match(r3.timezoneNote!, /timestamp: integer epoch/);
});

const FRENCH = `SELECT 'S' || (i % 2) AS "Strat", 'T' || (i % 3) AS "Valeur", TIMESTAMP '2024-03-01 10:00:00' + to_minutes((i // 6)::INTEGER) AS "Horodatage",
  100.0 + i AS "Cours", 2.0 AS "Quantite", 0.25 * i AS "Resultat" FROM range(12) t(i)`;
const FRENCH_MAPPING = {
  bars: { run_id: 'Strat', symbol: 'Valeur', ts: 'Horodatage', price: 'Cours', position_qty: 'Quantite', pnl: 'Resultat' },
};

test('an explicit mapping file maps unusual column names', async () => {
  const dir = path.join(tmp, 'french');
  await parquet(path.join(dir, 'data', 'pnl.parquet'), FRENCH);
  await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-fr') }), /required columns 'ts', 'symbol', 'price', 'position_qty', 'pnl' are missing.*map them with --mapping/s);
  const mappingFile = path.join(tmp, 'mapping.json');
  await writeFile(mappingFile, JSON.stringify(FRENCH_MAPPING));
  const r = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-fr'), mappingFile });
  await withDb(r.storePath, async (q) => {
    const [b] = await q(`SELECT count(*) AS n, count(DISTINCT run_id) AS runs, count(DISTINCT symbol) AS syms, sum(pnl) AS pnl, sum(position_value) AS pv FROM bars`);
    assert.deepEqual(b, { n: '12', runs: '2', syms: '3', pnl: 16.5, pv: 2 * (12 * 100 + 66) });
  });
  // The mapping is part of the dataset's fingerprint: another mapping is another store.
  const other = path.join(tmp, 'mapping-2.json');
  await writeFile(other, JSON.stringify({ ...FRENCH_MAPPING, timezone: 'Europe/Paris' }));
  const r2 = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-fr'), mappingFile: other });
  assert.notEqual(r2.fingerprint, r.fingerprint);
  await withDb(r2.storePath, async (q) => assert.equal((await q(`SELECT min(ts)::VARCHAR AS t FROM bars`))[0]!['t'], '2024-03-01 09:00:00'));
});

test('mapping file errors name the mapping file', async () => {
  const dir = path.join(tmp, 'french');
  const storeDir = path.join(tmp, 'stores-fr-bad');
  const cases: [unknown, RegExp][] = [
    ['{ not json', /is not valid JSON/],
    [{ bars: { ts: 'Horodatage' }, colour: 'red' }, /unknown key 'colour'/],
    [{ bars: { when: 'Horodatage' } }, /'bars\.when' is not a column of bars/],
    [{ bars: { ...FRENCH_MAPPING.bars, pnl: 'Profit' } }, /mapped column 'Profit' \(for bars\.pnl\) is missing/],
    [{ ...FRENCH_MAPPING, timezone: 'Mars/Olympus_Mons' }, /unknown time zone 'Mars\/Olympus_Mons'/],
  ];
  for (const [i, [content, re]] of cases.entries()) {
    const file = path.join(tmp, `bad-mapping-${i}.json`);
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
    await assert.rejects(prepareDataset({ input: dir, storeDir, mappingFile: file }), (e: Error) => {
      assert.match(e.message, re);
      // Errors about the file itself name it; a missing mapped column names the input file.
      assert.ok(e.message.includes(file) || e.message.includes(path.join(dir, 'data', 'pnl.parquet')) || /time zone/.test(e.message), e.message);
      return true;
    });
  }
  await assert.rejects(prepareDataset({ input: dir, storeDir, mappingFile: path.join(tmp, 'nope.json') }), /mapping file .*nope\.json cannot be read: ENOENT/);
  assert.deepEqual((await readdir(storeDir).catch(() => [])).filter((f) => f.endsWith('.duckdb')), []);
});

test('CLI: tickscope prepare INPUT... --mapping FILE --out DIR', async () => {
  const dir = path.join(tmp, 'french');
  const mappingFile = path.join(tmp, 'mapping.json');
  const out = path.join(tmp, 'cli-stores');
  const cli = path.join(repoRoot(), 'bin', 'tickscope.js');
  const { stdout } = await run(process.execPath, [cli, 'prepare', path.join(dir, '**', '*.parquet'), '--mapping', mappingFile, '--out', out, '--memory-limit', '512MB']);
  assert.match(stdout, /^prepared in .*: .*\.duckdb$/m);
  assert.match(stdout, /memory limit 512MB, peak RSS/);
  assert.match(stdout, /timestamps: Horodatage: naive timestamps taken as UTC/);
  const again = await run(process.execPath, [cli, 'prepare', path.join(dir, '**', '*.parquet'), '--mapping', mappingFile, '--out', out]);
  assert.match(again.stdout, /^already prepared: /m);
  // A failure exits 1 and names the input.
  const missing = path.join(tmp, 'does-not-exist');
  await assert.rejects(run(process.execPath, [cli, 'prepare', missing, '--out', out]), (e: Error & { code?: number; stderr?: string }) => {
    assert.equal(e.code, 1);
    assert.ok(e.stderr!.includes(`tickscope prepare: input ${missing} does not exist`), e.stderr);
    return true;
  });
});
