// Adding runs to a prepared dataset without preparing it again: the new runs' files are built
// into a delta store by the same pipeline (build.ts), then the tables that span runs are rebuilt
// in it over every segment (server/store/segments.ts says which), and the manifest lists it.
//
// A delta is built only for NEW files whose runs are all new. Anything else prepares the whole
// dataset again, and the progress line says why: an input file of the manifest changed or
// disappeared, a new file is not bars, trades or runs (a symbols or benchmark file changes every
// run), a new file holds rows of a run the dataset has, the delta's settings (exchange zone, bar
// period, where the bars came from, the benchmark) differ from the base's, or it has trading days
// the dataset does not (every run's symbol_day_gaps count trading days over the whole dataset).
//
// What a delta rebuilds over the union, at the cost of the small tables, never the bars or the
// trades (trade_list keeps the delta's own ranks: server/store/segments.ts says why):
// - market_day: each segment's market_close (per symbol and day, its first run's close) merged
//   by the smallest run id, which is market_day's rule over all runs; benchmark_day from it when
//   the benchmark is the market or a symbol (a benchmark file is read by the delta as by the base).
// - symbol_day_gaps of the new runs, over the dataset's trading days.
// The delta's runs table keeps only its own runs (the runs file, shared with the base, lists
// every run).
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { META_TABLE, MetaKey, StoreTable } from '../store/format.js';
import { MARKET_CLOSE_SELECT, MARKET_CLOSE_TABLE, segmentSchema, type SegmentFile, type SegmentManifest } from '../store/segments.js';
import { sqlIdent, sqlString } from '../sql/text.js';
import { buildStore } from './build.js';
import type { LocatedDescription } from './description.js';
import { PrepareError } from './errors.js';
import { TABLE_KINDS, commonFolder, type DataFile, type ResolvedInputs, type TableKind } from './inputs/index.js';
import { defaultMemoryLimit, duckdbMemoryLimit } from './memory.js';
import type { Progress } from './progress.js';
import { ROLLUPS, buildRollup } from './rollups.js';
import { recordedPath } from './segment-manifest.js';

/** The delta must be given up and the whole dataset prepared again, for `reason`. */
export class FullRebuildNeeded extends Error {}

/** Meta values a delta must share with the base: the settings every segment is read under. */
const SHARED_META = [MetaKey.exchangeTimezone, MetaKey.barPeriod, MetaKey.barsOrigin, MetaKey.benchmark, MetaKey.riskFreeRate, MetaKey.timezoneNote, MetaKey.description] as const;

/** Kinds of input a new run may bring. */
const RUN_KINDS: readonly string[] = ['bars', 'trades', 'runs'] satisfies TableKind[];

export type Growth = { kind: 'same' } | { kind: 'grow'; added: SegmentFile[] } | { kind: 'rebuild'; reason: string };

/** What the inputs are now against what the manifest's segments were built from. */
export function compareWithManifest(manifest: SegmentManifest, now: readonly SegmentFile[]): Growth {
  const current = new Map(now.map((f) => [f.path, f]));
  const known = new Set<string>();
  for (const segment of manifest.segments) {
    for (const f of segment.files) {
      known.add(f.path);
      const found = current.get(f.path);
      if (!found) return { kind: 'rebuild', reason: `${f.path} is no longer in the input` };
      if (found.size !== f.size || found.mtimeMs !== f.mtimeMs || found.kind !== f.kind) return { kind: 'rebuild', reason: `${f.path} changed since it was prepared` };
    }
  }
  const added = now.filter((f) => !known.has(f.path));
  if (added.length === 0) return { kind: 'same' };
  const other = added.find((f) => !RUN_KINDS.includes(f.kind));
  if (other) return { kind: 'rebuild', reason: `the new file ${other.path} is ${other.kind}, not a run's bars, trades or runs` };
  return { kind: 'grow', added };
}

/**
 * The inputs of a delta: the added files, and the base's symbols, runs and benchmark files (the
 * sectors, names, params and capital a new run's rows take, as in a full preparation).
 */
export function deltaInputs(r: ResolvedInputs, added: readonly SegmentFile[]): ResolvedInputs {
  const isAdded = new Set(added.map((f) => f.path));
  const keep = (kind: TableKind, f: DataFile) => isAdded.has(recordedPath(r, f.path)) || kind === 'symbols' || kind === 'runs';
  const sources = {} as ResolvedInputs['sources'];
  for (const kind of TABLE_KINDS) {
    const files = (r.sources[kind]?.files ?? []).filter((f) => keep(kind, f));
    sources[kind] = files.length ? { kind, location: files.length === 1 ? files[0]!.path : commonFolder(files.map((f) => f.path)), files } : null;
  }
  return { inputs: r.inputs, sources, ...(r.benchmark ? { benchmark: r.benchmark } : {}) };
}

export interface DeltaOptions {
  file: string;
  resolved: ResolvedInputs;
  added: readonly SegmentFile[];
  described: LocatedDescription;
  fingerprint: string;
  /** The segments already published, base first (absolute store paths), and their runs. */
  segments: readonly { store: string; runs: readonly string[] }[];
  tempDir: string;
  memoryLimit?: string;
  threads?: number;
}

/** Builds a delta store at `file`; its runs. Throws FullRebuildNeeded when it cannot be one. */
export async function buildDelta(o: DeltaOptions, progress: Progress): Promise<{ runs: string[]; rows: number }> {
  const built = await buildStore({ file: o.file, resolved: deltaInputs(o.resolved, o.added), described: o.described, fingerprint: o.fingerprint, tempDir: o.tempDir, memoryLimit: o.memoryLimit, threads: o.threads }, progress);
  progress.begin('joining the new runs to the dataset', 0, null, o.file);
  let inst: DuckDBInstance;
  let con: DuckDBConnection;
  try {
    inst = await DuckDBInstance.create(o.file, { access_mode: 'READ_WRITE', memory_limit: duckdbMemoryLimit(o.memoryLimit ?? defaultMemoryLimit()), temp_directory: o.tempDir, ...(o.threads ? { threads: String(Math.max(1, Math.floor(o.threads))) } : {}) });
    con = await inst.connect();
  } catch (err) {
    throw new PrepareError(`adding runs: cannot open the delta store ${o.file}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    await con.run(`SET TimeZone = 'UTC'`);
    await con.run(`SET preserve_insertion_order = true`);
    for (const [i, s] of o.segments.entries()) await con.run(`ATTACH ${sqlString(s.store)} AS ${segmentSchema(i)} (READ_ONLY)`);
    const runs = await ownRuns(con);
    await checkJoinable(con, o, runs);
    await joinToDataset(con, o.segments.length, runs, progress);
    for (const i of o.segments.keys()) await con.run(`DETACH ${segmentSchema(i)}`);
    await con.run('CHECKPOINT');
    return { runs, rows: built.rows };
  } catch (err) {
    if (err instanceof FullRebuildNeeded || err instanceof PrepareError) throw err;
    throw new PrepareError(`adding runs ${o.added.map((f) => f.path).join(', ')}: joining the delta store ${o.file} to the dataset failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

async function ownRuns(con: DuckDBConnection): Promise<string[]> {
  const r = await con.runAndReadAll(`SELECT DISTINCT run_id FROM (SELECT run_id FROM ${StoreTable.bars} UNION ALL SELECT run_id FROM ${StoreTable.trades}) ORDER BY run_id`);
  return r.getRows().map(([id]) => String(id));
}

/** Throws FullRebuildNeeded when the delta cannot join the segments as they are. */
async function checkJoinable(con: DuckDBConnection, o: DeltaOptions, runs: readonly string[]): Promise<void> {
  const had = new Map<string, string>();
  for (const s of o.segments) for (const run of s.runs) had.set(run, s.store);
  const again = runs.find((r) => had.has(r));
  if (again !== undefined) throw new FullRebuildNeeded(`the new files ${o.added.map((f) => f.path).join(', ')} hold rows of run ${again}, which the dataset already has`);
  if (runs.length === 0) throw new FullRebuildNeeded(`the new files ${o.added.map((f) => f.path).join(', ')} hold no bars or trades of a run`);
  const keys = SHARED_META.map((k) => sqlString(k)).join(', ');
  const differs = await con.runAndReadAll(`
    SELECT d.key, d.value, b.value FROM ${META_TABLE} d FULL OUTER JOIN ${segmentSchema(0)}.main.${META_TABLE} b USING (key)
    WHERE key IN (${keys}) AND d.value IS DISTINCT FROM b.value LIMIT 1`);
  const row = differs.getRows()[0];
  if (row) throw new FullRebuildNeeded(`the new runs' ${String(row[0])} is ${String(row[1])}, the dataset's ${String(row[2])}`);
  const previousDays = o.segments.map((_, i) => `SELECT day FROM ${segmentSchema(i)}.main.${StoreTable.portfolioDay}`).join(' UNION ALL ');
  const newDay = await con.runAndReadAll(`SELECT strftime(day, '%Y-%m-%d') FROM ${StoreTable.portfolioDay} WHERE day NOT IN (${previousDays}) LIMIT 1`);
  const day = newDay.getRows()[0]?.[0];
  if (day !== undefined) throw new FullRebuildNeeded(`the new runs trade on ${String(day)}, a day the dataset has no bars on`);
}

/** Rebuilds, in the delta, the tables that span runs over every segment (see the head comment). */
async function joinToDataset(con: DuckDBConnection, previous: number, runs: readonly string[], progress: Progress): Promise<void> {
  // The delta's own tables by their database's name: a bare main.<table> inside a temp view is
  // the temp schema's own main, i.e. the view itself.
  const own = `${sqlIdent(String((await con.runAndReadAll('SELECT current_database()')).getRows()[0]?.[0]))}.main`;
  const all = [...Array.from({ length: previous }, (_, i) => `${segmentSchema(i)}.main`), own];
  const union = (table: string) => all.map((s) => `SELECT * FROM ${s}.${table}`).join(' UNION ALL ');
  await con.run(`DELETE FROM ${StoreTable.runs} WHERE run_id NOT IN (${runs.map(sqlString).join(', ')})`);
  await con.run(`CREATE TABLE ${MARKET_CLOSE_TABLE} AS ${MARKET_CLOSE_SELECT}`);

  // market_day over the merged closes: the same SQL as the rollup's, from closes instead of symbol_day.
  // A base prepared before market_close existed has its closes read from its symbol_day.
  const closeBranches: string[] = [];
  for (const i of Array.from({ length: previous }, (_, k) => k)) {
    const s = segmentSchema(i);
    const has = await con.runAndReadAll(`SELECT 1 FROM duckdb_tables() WHERE database_name = ${sqlString(s)} AND table_name = ${sqlString(MARKET_CLOSE_TABLE)}`);
    closeBranches.push(has.getRows().length ? `SELECT * FROM ${s}.main.${MARKET_CLOSE_TABLE}` : `SELECT * FROM (${MARKET_CLOSE_SELECT.replace(`FROM ${StoreTable.symbolDay}`, `FROM ${s}.main.${StoreTable.symbolDay}`)})`);
  }
  closeBranches.push(`SELECT * FROM main.${MARKET_CLOSE_TABLE}`);
  const closes = `SELECT symbol, day, arg_min(close, run_id) AS close FROM (${closeBranches.join(' UNION ALL ')}) GROUP BY symbol, day`;
  await con.run(`CREATE TEMP TABLE _merged_close AS ${closes}`);
  await con.run(`DROP TABLE ${StoreTable.marketDay}`);
  await con.run(`CREATE TABLE ${StoreTable.marketDay} AS
    WITH symbol_returns AS (
      SELECT day, close / nullif(lag(close) OVER (PARTITION BY symbol ORDER BY day), 0) - 1 AS ret FROM temp.main._merged_close
    )
    SELECT day, avg(ret) AS ret, count(ret) AS symbols FROM symbol_returns GROUP BY day ORDER BY day`);
  const benchmark = JSON.parse(String((await con.runAndReadAll(`SELECT value FROM ${META_TABLE} WHERE key = ${sqlString(MetaKey.benchmark)}`)).getRows()[0]?.[0])) as { kind: string; name: string };
  if (benchmark.kind === 'market') {
    await con.run(`DROP TABLE ${StoreTable.benchmarkDay}`);
    await con.run(`CREATE TABLE ${StoreTable.benchmarkDay} AS SELECT day, ret FROM ${StoreTable.marketDay} ORDER BY day`);
  } else if (benchmark.kind === 'symbol') {
    await con.run(`DROP TABLE ${StoreTable.benchmarkDay}`);
    await con.run(`CREATE TABLE ${StoreTable.benchmarkDay} AS
      WITH closes AS (SELECT day, close FROM temp.main._merged_close WHERE symbol = ${sqlString(benchmark.name)})
      SELECT day, close / nullif(lag(close) OVER (ORDER BY day), 0) - 1 AS ret FROM closes ORDER BY day`);
  }
  await con.run(`DROP TABLE temp.main._merged_close`);

  // symbol_day_gaps of the new runs over the dataset's trading days (the rollup's SQL, whose
  // trading days read portfolio_day: here every segment's, a temp view shadowing the delta's own).
  const gaps = ROLLUPS.find((r) => r.table === StoreTable.symbolDayGaps)!;
  await con.run(`CREATE TEMP VIEW ${StoreTable.portfolioDay} AS ${union(StoreTable.portfolioDay)}`);
  await con.run(`DROP TABLE main.${StoreTable.symbolDayGaps}`);
  await buildRollup(con, gaps, progress);
  await con.run(`DROP VIEW temp.main.${StoreTable.portfolioDay}`);
}

/** Adds market_close to a store built whole (the base of later deltas). */
export async function addMarketClose(file: string, memoryLimit: string | undefined, tempDir: string): Promise<void> {
  const inst = await DuckDBInstance.create(file, { access_mode: 'READ_WRITE', memory_limit: duckdbMemoryLimit(memoryLimit ?? defaultMemoryLimit()), temp_directory: tempDir });
  const con = await inst.connect();
  try {
    await con.run(`CREATE TABLE ${MARKET_CLOSE_TABLE} AS ${MARKET_CLOSE_SELECT}`);
    await con.run('CHECKPOINT');
  } catch (err) {
    throw new PrepareError(`writing ${MARKET_CLOSE_TABLE} into ${file} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

/** Removes a delta store (a failed build's temporary, or one no manifest lists) and its WAL, ignoring failures: what stays is only disk. */
export async function removeDeltaLeftovers(file: string): Promise<void> {
  for (const f of [file, `${file}.wal`]) await rm(f, { force: true }).catch(() => {});
}

/** Publishes a built delta: its WAL folded in at CHECKPOINT, renamed to its final name. */
export async function publishDelta(tmp: string, final: string): Promise<void> {
  await rm(`${tmp}.wal`, { force: true });
  await rm(`${final}.wal`, { force: true });
  await rename(tmp, final);
}

export const DELTA_SUFFIX = '.delta.duckdb';

export function deltaStorePath(storeDir: string, fingerprint: string): string {
  return path.join(storeDir, `${fingerprint}${DELTA_SUFFIX}`);
}
