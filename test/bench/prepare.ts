// `npm run bench:prepare -- --scale large`: how long preparing a dataset takes, against its floor.
//
// 1. The fixture of that scale (seed 42) is generated into .cache/fixtures unless cached, and its
//    files are read once so both measurements below start from a warm page cache.
// 2. The whole preparation (`prepareInChild`: checks, sort, dimensions, trades, every rollup,
//    checkpoint, publish) into a fresh store folder, with the default memory limit (or
//    --memory-limit). Wall time, input rows per second, and the child's peak RSS.
// 3. In the same run, the floor: a child process that does only
//      CREATE TABLE bars AS SELECT * FROM read_parquet(bars) ORDER BY run_id, symbol, ts
//      CREATE TABLE trades AS SELECT * FROM read_parquet(trades) ORDER BY run_id, symbol, entry_ts
//    into a DuckDB file, with the same memory limit and threads, then CHECKPOINT.
// 4. The ratio preparation / floor (target: within 2x) and peak RSS against the memory limit.
//
// Flags: --scale tiny|demo|large|sweep|sweep-small (default large), --memory-limit SIZE,
// --threads N, --keep (keep the benchmark's store instead of deleting it).
//
// Per phase: while the preparation runs, each phase is printed as it starts (seconds since the
// child was forked); after it, the seconds spent in each phase, from the first progress event of
// that phase to the first of the next one (a phase entered twice, e.g. 'dimensions', is summed).
// They add up to the preparation's wall time less the fork and the child's start-up before its
// first event. The phases are the preparation's own (server/prepare/build.ts): 'checking inputs'
// includes a format adapter's staging (for fills: the fills table, the FIFO round trips and the
// daily bars), 'rollups' every derived table (server/prepare/rollups.ts).
//
// CPU seconds (Linux only): user + system time of the preparation's child process (and of the
// floor's), from this process' cutime and cstime in /proc/self/stat before and after it; on a
// machine shared with other work they move much less with the load than wall time does.
//
// `--workbook N` (e.g. 200000) measures reading an Excel workbook: a trade list of N trades as
// trades.xlsx (one sheet, times as Excel dates; written once into .cache/bench/workbook-N/) and,
// as its floor, the same rows as trades.csv, each prepared by the whole pipeline; the ratio is
// what the workbook's unpacking (server/prepare/workbooks.ts) adds.
//
// `--fills N` (e.g. 10000000) measures the fills case instead: a zipline/pyfolio transactions
// frame of N fills (500 symbols, signed amounts that grow, shrink and reverse positions; written
// once by DuckDB into .cache/bench/fills-N/transactions.parquet) prepared into FIFO round trips
// and daily bars by the pyfolio adapter (server/prepare/formats/). Its floor is DuckDB reading the
// same file into a table sorted by (symbol, dt), then CHECKPOINT; rows/s are fills per second.
import { execFileSync, fork } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { csvCells, writeXlsx } from '../../fixtures/formats/workbooks.js';
import { ensureFixtures, FIXTURE_SCALES, isFixtureScale, readManifest, repoRoot } from '../../fixtures/generate.js';
import { formatSize, parseSize } from '../../server/os/memory.js';
import { defaultMemoryLimit } from '../../server/prepare/memory.js';
import { prepareInChild } from '../../server/prepare/run-in-child.js';
import { sqlString } from '../../server/sql/text.js';

interface FloorRequest {
  /** `canonical`: bars and trades of a fixture folder; `fills`: a transactions.parquet. */
  kind: 'canonical' | 'fills';
  input: string;
  file: string;
  memoryLimit: string;
  tempDir: string;
  threads?: number;
}

interface FloorReply {
  seconds: number;
  rows: number;
  peakRssBytes: number;
}

async function floorChild(req: FloorRequest): Promise<FloorReply> {
  const started = performance.now();
  const inst = await DuckDBInstance.create(req.file, {
    memory_limit: req.memoryLimit,
    temp_directory: req.tempDir,
    ...(req.threads ? { threads: String(req.threads) } : {}),
  });
  const con = await inst.connect();
  try {
    if (req.kind === 'fills') {
      await con.run(`CREATE TABLE fills AS SELECT * FROM read_parquet(${sqlString(path.join(req.input, 'transactions.parquet'))}) ORDER BY symbol, dt`);
      await con.run('CHECKPOINT');
      const r = await con.runAndReadAll('SELECT count(*) FROM fills');
      return { seconds: (performance.now() - started) / 1000, rows: Number(r.getRowsJson()[0]?.[0]), peakRssBytes: process.resourceUsage().maxRSS * 1024 };
    }
    await con.run(`CREATE TABLE bars AS SELECT * FROM read_parquet(${sqlString(path.join(req.input, 'bars', '**', '*.parquet'))}, hive_partitioning = true) ORDER BY run_id, symbol, ts`);
    await con.run(`CREATE TABLE trades AS SELECT * FROM read_parquet(${sqlString(path.join(req.input, 'trades', '*.parquet'))}) ORDER BY run_id, symbol, entry_ts`);
    await con.run('CHECKPOINT');
    const r = await con.runAndReadAll('SELECT (SELECT count(*) FROM bars) + (SELECT count(*) FROM trades)');
    const rows = Number(r.getRowsJson()[0]?.[0]);
    return { seconds: (performance.now() - started) / 1000, rows, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

/** Runs the floor in its own process, timed like the preparation: from fork to answer. */
function runFloor(req: FloorRequest): Promise<FloorReply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--floor-child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let reply: FloorReply | null = null;
    child.on('message', (m: unknown) => {
      const o = m as { ok?: FloorReply; error?: string };
      if (o.ok) reply = o.ok;
      else if (o.error) reject(new Error(`floor: ${o.error}`));
    });
    child.on('exit', (code) =>
      reply ? resolve({ ...reply, seconds: (performance.now() - started) / 1000 }) : reject(new Error(`floor process exited with code ${code}`)),
    );
    child.send(req);
  });
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const parent = (e as { parentPath?: string; path?: string }).parentPath ?? (e as { path?: string }).path ?? dir;
    total += (await stat(path.join(parent, e.name))).size;
  }
  return total;
}

async function warmPageCache(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const parent = (e as { parentPath?: string; path?: string }).parentPath ?? (e as { path?: string }).path ?? dir;
    await new Promise<void>((resolve, reject) => {
      const s = createReadStream(path.join(parent, e.name), { highWaterMark: 1 << 22 });
      s.on('data', () => {});
      s.on('end', resolve);
      s.on('error', reject);
    });
  }
}

// Strict: an unknown or misspelt flag stops with node's own message instead of being ignored.
const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: 'large' },
    'memory-limit': { type: 'string' },
    threads: { type: 'string' },
    keep: { type: 'boolean', default: false },
    workbook: { type: 'string' },
    fills: { type: 'string' },
    /** This process is the floor's child (forked by runFloor), not the bench. */
    'floor-child': { type: 'boolean', default: false },
  },
});

const fmtRate = (rows: number, s: number) => `${(rows / s / 1e6).toFixed(2)}M rows/s`;

/** Clock ticks per second of /proc's times, or null where there is no /proc or no getconf. */
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || null;
  } catch (err) {
    console.warn(`no CPU seconds: getconf CLK_TCK failed (${(err as Error).message})`);
    return null;
  }
})();

/** CPU seconds (user + system) of this process' exited and reaped children so far; null off Linux. */
function childrenCpuSeconds(): number | null {
  if (clockTicks === null) return null;
  // Fields after the command's closing parenthesis start at field 3 (state); cutime and cstime are fields 16 and 17.
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ').pop()!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / clockTicks;
}

/** CPU seconds of what `run` started in child processes; null off Linux. */
async function withChildCpu<T>(run: () => Promise<T>): Promise<T & { cpuSeconds: number | null }> {
  const before = childrenCpuSeconds();
  const result = await run();
  const after = childrenCpuSeconds();
  return { ...result, cpuSeconds: before === null || after === null ? null : after - before };
}

const fmtCpu = (s: number | null) => (s === null ? 'CPU n/a' : `${s.toFixed(1)} CPU s`);

/** pyfolio transactions of `n` fills, written once per n; pseudo-random from hash(), so the same every time. */
async function ensureFills(n: number): Promise<string> {
  const dir = path.join(repoRoot(), '.cache', 'bench', `fills-${n}`);
  const file = path.join(dir, 'transactions.parquet');
  if (await stat(file).catch(() => null)) return dir;
  await mkdir(dir, { recursive: true });
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  try {
    const amount = `((hash(i, 1) % 201)::BIGINT - 100)`;
    await con.run(`COPY (
        SELECT TIMESTAMPTZ '2015-01-02 14:30:00+00' + to_seconds((i // 50) * 60) AS dt,
          hash(i) % 500 AS sid, 'S' || (hash(i) % 500) AS symbol,
          CASE WHEN ${amount} = 0 THEN 1 ELSE ${amount} END AS amount,
          round(100 + (hash(i, 2) % 1000) / 100.0, 2) AS price, 1.0 AS commission
        FROM range(${n}) t(i) ORDER BY i)
      TO ${sqlString(`${file}.tmp`)} (FORMAT parquet)`);
  } finally {
    con.closeSync();
    inst.closeSync();
  }
  await rename(`${file}.tmp`, file);
  return dir;
}

/** The fills case (--fills N): fills to round trips and bars, against DuckDB reading the fills. */
async function fillsCase(n: number, memoryLimit: string, threads: number | undefined, keep: boolean): Promise<void> {
  const input = await ensureFills(n);
  console.log(`fills: ${n.toLocaleString('en-US')} pyfolio transactions, ${formatSize(await dirSize(input))} on disk: ${input}`);
  console.log(`  memory limit ${memoryLimit}${threads ? `, ${threads} threads` : ''}\n`);
  await warmPageCache(input);
  const work = path.join(repoRoot(), '.cache', 'bench', `prepare-fills-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const { result, seconds: prepSeconds, phases, cpuSeconds: prepCpu } = await withChildCpu(() => timedPreparation(input, path.join(work, 'stores'), memoryLimit, threads));
    const floorDir = path.join(work, 'floor');
    await mkdir(floorDir, { recursive: true });
    const floor = await withChildCpu(() => runFloor({ kind: 'fills', input, file: path.join(floorDir, 'floor.duckdb'), memoryLimit, tempDir: path.join(floorDir, 'tmp'), ...(threads ? { threads } : {}) }));
    console.log('');
    console.log(`preparation (fills -> FIFO round trips + daily bars, whole pipeline): ${prepSeconds.toFixed(1)} s wall, ${fmtCpu(prepCpu)}, ${n.toLocaleString('en-US')} fills, ${fmtRate(n, prepSeconds)}`);
    console.log(`floor (CREATE TABLE AS SELECT * FROM read_parquet ORDER BY symbol, dt): ${floor.seconds.toFixed(1)} s wall, ${fmtCpu(floor.cpuSeconds)}, ${fmtRate(floor.rows, floor.seconds)}`);
    console.log(`ratio preparation / floor: ${(prepSeconds / floor.seconds).toFixed(2)}x wall${prepCpu !== null && floor.cpuSeconds ? `, ${(prepCpu / floor.cpuSeconds).toFixed(2)}x CPU` : ''}`);
    console.log(`peak RSS: preparation ${formatSize(result.peakRssBytes)}, floor ${formatSize(floor.peakRssBytes)}`);
    printPhases(phases);
    if (keep) console.log(`kept: ${result.storePath}`);
  } finally {
    if (!keep) await rm(work, { recursive: true, force: true });
  }
}

/** Seconds per phase, in the order the phases were first entered. */
function printPhases(phases: ReadonlyMap<string, number>): void {
  console.log('seconds per phase:');
  for (const [phase, seconds] of phases) console.log(`  ${seconds.toFixed(1).padStart(7)} s  ${phase}`);
}

/** The whole preparation in its child process, timed, printing each phase as it starts; the seconds spent in each phase. */
async function timedPreparation(input: string, storeDir: string, memoryLimit: string, threads: number | undefined) {
  let last = '';
  let lastStarted = 0;
  const phases = new Map<string, number>();
  const started = performance.now();
  const endPhase = (now: number) => {
    if (last) phases.set(last, (phases.get(last) ?? 0) + (now - lastStarted) / 1000);
  };
  const result = await prepareInChild({
    input,
    storeDir,
    memoryLimit,
    ...(threads ? { threads } : {}),
    onProgress: (p) => {
      if (p.phase !== last) {
        const now = performance.now();
        endPhase(now);
        last = p.phase;
        lastStarted = now;
        process.stdout.write(`  ${((now - started) / 1000).toFixed(1).padStart(6)} s  ${p.phase}\n`);
      }
    },
  });
  endPhase(performance.now());
  return { result, seconds: (performance.now() - started) / 1000, phases };
}

/**
 * A trade list of `n` trades written once per n as trades.csv and as trades.xlsx (one sheet, as
 * pandas' to_excel writes it: times as Excel dates), each alone in a folder.
 */
async function ensureWorkbook(n: number): Promise<{ csvDir: string; xlsxDir: string }> {
  const dir = path.join(repoRoot(), '.cache', 'bench', `workbook-${n}`);
  const csvDir = path.join(dir, 'csv');
  const xlsxDir = path.join(dir, 'xlsx');
  if (await stat(path.join(xlsxDir, 'trades.xlsx')).catch(() => null)) return { csvDir, xlsxDir };
  await mkdir(csvDir, { recursive: true });
  await mkdir(xlsxDir, { recursive: true });
  const csv = path.join(csvDir, 'trades.csv');
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  try {
    await con.run(`COPY (
        SELECT 'S' || (hash(i) % 500) AS symbol, CASE WHEN hash(i, 1) % 2 = 0 THEN 'long' ELSE 'short' END AS side,
          TIMESTAMP '2015-01-02 14:30:00' + to_seconds(i * 600) AS entry_ts, TIMESTAMP '2015-01-02 14:30:00' + to_seconds(i * 600 + 3000 + hash(i, 2) % 86400) AS exit_ts,
          1 + hash(i, 3) % 100 AS qty, round(100 + (hash(i, 4) % 1000) / 100.0, 2) AS entry_price, round(100 + (hash(i, 5) % 1000) / 100.0, 2) AS exit_price,
          round(((hash(i, 6) % 2001)::DOUBLE - 1000) / 7, 6) AS pnl, 1.0 AS fees
        FROM range(${n}) t(i) ORDER BY i)
      TO ${sqlString(csv)} (FORMAT csv, HEADER true)`);
    await writeXlsx(path.join(xlsxDir, 'trades.xlsx.tmp'), [{ name: 'Sheet1', rows: await csvCells(con, csv) }]);
  } finally {
    con.closeSync();
    inst.closeSync();
  }
  await rename(path.join(xlsxDir, 'trades.xlsx.tmp'), path.join(xlsxDir, 'trades.xlsx'));
  return { csvDir, xlsxDir };
}

/** The workbook case (--workbook N): a trade list read from Excel, against the same rows read from CSV by the same pipeline. */
async function workbookCase(n: number, memoryLimit: string, threads: number | undefined): Promise<void> {
  const { csvDir, xlsxDir } = await ensureWorkbook(n);
  console.log(`workbook: ${n.toLocaleString('en-US')} trades, trades.xlsx ${formatSize(await dirSize(xlsxDir))} against trades.csv ${formatSize(await dirSize(csvDir))}`);
  console.log(`  memory limit ${memoryLimit}${threads ? `, ${threads} threads` : ''}\n`);
  await warmPageCache(csvDir);
  await warmPageCache(xlsxDir);
  const work = path.join(repoRoot(), '.cache', 'bench', `prepare-workbook-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  try {
    const xlsx = await withChildCpu(() => timedPreparation(xlsxDir, path.join(work, 'xlsx'), memoryLimit, threads));
    const csv = await withChildCpu(() => timedPreparation(csvDir, path.join(work, 'csv'), memoryLimit, threads));
    console.log('');
    console.log(`preparation of trades.xlsx (sheet streamed to CSV, then the pipeline): ${xlsx.seconds.toFixed(1)} s wall, ${fmtCpu(xlsx.cpuSeconds)}, ${fmtRate(n, xlsx.seconds)}`);
    console.log(`floor, the same rows as trades.csv through the same pipeline: ${csv.seconds.toFixed(1)} s wall, ${fmtCpu(csv.cpuSeconds)}, ${fmtRate(n, csv.seconds)}`);
    console.log(`ratio workbook / CSV: ${(xlsx.seconds / csv.seconds).toFixed(2)}x wall${xlsx.cpuSeconds !== null && csv.cpuSeconds ? `, ${(xlsx.cpuSeconds / csv.cpuSeconds).toFixed(2)}x CPU` : ''}`);
    console.log(`peak RSS of the preparation: workbook ${formatSize(xlsx.result.peakRssBytes)}, CSV ${formatSize(csv.result.peakRssBytes)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const memoryLimit = args['memory-limit'] ?? defaultMemoryLimit();
  const threads = args.threads ? Number(args.threads) : undefined;
  const keep = args.keep;
  const { workbook, fills } = args;
  if (workbook !== undefined) {
    const n = Number(workbook);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--workbook must be a positive whole number, not ${workbook}`);
    return workbookCase(n, memoryLimit, threads);
  }
  if (fills !== undefined) {
    const n = Number(fills);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--fills must be a positive whole number, not ${fills}`);
    return fillsCase(n, memoryLimit, threads, keep);
  }
  const scale = args.scale;
  if (!isFixtureScale(scale)) throw new Error(`--scale must be one of ${FIXTURE_SCALES.join(', ')}, not ${scale}`);

  const genStarted = performance.now();
  let lastPhase = '';
  const input = await ensureFixtures(scale, 42, (p) => {
    if (p.phase !== lastPhase) {
      lastPhase = p.phase;
      process.stdout.write(`  generating ${scale}: ${p.phase} (${(p.fraction * 100).toFixed(0)}%)\n`);
    }
  });
  const manifest = readManifest(input);
  const genNote = lastPhase ? `generated now in ${((performance.now() - genStarted) / 1000).toFixed(0)} s` : `cached; generated in ${manifest?.seconds ?? '?'} s`;
  const inputBytes = await dirSize(input);
  console.log(`fixture ${scale}-seed42: ${input} (${genNote})`);
  console.log(`  ${manifest?.bar_rows.toLocaleString('en-US')} bar rows + ${manifest?.trade_rows.toLocaleString('en-US')} trade rows, ${formatSize(inputBytes)} on disk`);
  console.log(`  memory limit ${memoryLimit}${threads ? `, ${threads} threads` : ''}\n`);
  await warmPageCache(input);

  const work = path.join(repoRoot(), '.cache', 'bench', `prepare-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    // The whole preparation.
    const { result, seconds: prepSeconds, phases } = await timedPreparation(input, path.join(work, 'stores'), memoryLimit, threads);
    const rows = result.rows ?? (manifest ? manifest.bar_rows + manifest.trade_rows : 0);
    const storeBytes = (await stat(result.storePath)).size;

    // The floor.
    const floorDir = path.join(work, 'floor');
    await mkdir(floorDir, { recursive: true });
    const floor = await runFloor({ kind: 'canonical', input, file: path.join(floorDir, 'floor.duckdb'), memoryLimit, tempDir: path.join(floorDir, 'tmp'), ...(threads ? { threads } : {}) });
    const floorBytes = (await stat(path.join(floorDir, 'floor.duckdb'))).size;

    const limit = parseSize(memoryLimit, '--memory-limit');
    console.log('');
    console.log(`preparation (whole pipeline, rollups included): ${prepSeconds.toFixed(1)} s wall, ${rows.toLocaleString('en-US')} rows, ${fmtRate(rows, prepSeconds)}`);
    console.log(`floor (CREATE TABLE AS SELECT * FROM read_parquet ORDER BY, bars + trades): ${floor.seconds.toFixed(1)} s wall, ${floor.rows.toLocaleString('en-US')} rows, ${fmtRate(floor.rows, floor.seconds)}`);
    console.log(`ratio preparation / floor: ${(prepSeconds / floor.seconds).toFixed(2)}x (target <= 2x)`);
    console.log(`peak RSS: preparation ${formatSize(result.peakRssBytes)}, floor ${formatSize(floor.peakRssBytes)}; memory limit ${memoryLimit} (${formatSize(limit)}): preparation at ${((100 * result.peakRssBytes) / limit).toFixed(0)}% of it`);
    console.log(`on disk: input Parquet ${formatSize(inputBytes)}, prepared store ${formatSize(storeBytes)} (${path.basename(result.storePath)}), floor file ${formatSize(floorBytes)}`);
    printPhases(phases);
    if (keep) console.log(`kept: ${result.storePath}`);
  } finally {
    if (!keep) await rm(work, { recursive: true, force: true });
  }
}

if (args['floor-child']) {
  process.once('message', (req: FloorRequest) => {
    floorChild(req).then(
      (ok) => process.send!({ ok }, () => process.exit(0)),
      (err: Error) => process.send!({ error: err.message }, () => process.exit(1)),
    );
  });
} else {
  await main();
}
