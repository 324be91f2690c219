// A sweep fixture rewritten as a sweep writes it run by run: bars/run_id=X/ (the fixture's own
// files), trades/X.parquet and runs/X.parquet per run, and the shared symbols.parquet. Adding a
// run is then adding its three files (the fixture keeps every run's trades in one file and every
// run's row in one runs.arrow, which an added run would rewrite).
import { cp, link, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { sqlString } from '../../server/sql/text.js';

export interface PerRunDataset {
  /** The dataset folder. */
  dir: string;
  /** Every run of the fixture, sorted. */
  runs: string[];
}

/** The run ids of a sweep fixture (its bars/run_id=X folders), sorted. */
export async function fixtureRuns(fixture: string): Promise<string[]> {
  return (await readdir(path.join(fixture, 'bars'))).filter((n) => n.startsWith('run_id=')).map((n) => n.slice('run_id='.length)).sort();
}

/** Writes `runs` of the sweep fixture at `fixture` into `dir` (emptied first), one set of files per run. */
export async function writePerRunDataset(fixture: string, dir: string, runs: readonly string[]): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.join(dir, 'trades'), { recursive: true });
  await mkdir(path.join(dir, 'runs'), { recursive: true });
  await cp(path.join(fixture, 'symbols.parquet'), path.join(dir, 'symbols.parquet'));
  for (const run of runs) await addRunFiles(fixture, dir, run);
}

/**
 * The files of `from` in `to` as hard links (the sweep's bars are gigabytes; nothing writes them),
 * or copies across file systems.
 */
async function linkFolder(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) {
    await link(path.join(from, name), path.join(to, name)).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EXDEV') throw err;
      await cp(path.join(from, name), path.join(to, name));
    });
  }
}

/** One run's bars (linked), trades and runs row from the sweep fixture into the per-run dataset `dir`. */
export async function addRunFiles(fixture: string, dir: string, run: string): Promise<void> {
  await linkFolder(path.join(fixture, 'bars', `run_id=${run}`), path.join(dir, 'bars', `run_id=${run}`));
  const runsTable = tableFromIPC(await readFile(path.join(fixture, 'runs.arrow')));
  const row = runsTable.toArray().map((r) => r.toJSON() as Record<string, unknown>).find((r) => r['run_id'] === run);
  if (!row) throw new Error(`run ${run} is not in ${fixture}/runs.arrow`);
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    await con.run(`COPY (SELECT * FROM read_parquet(${sqlString(path.join(fixture, 'trades', '*.parquet'))}) WHERE run_id = ${sqlString(run)} ORDER BY ALL)
      TO ${sqlString(path.join(dir, 'trades', `${run}.parquet`))} (FORMAT parquet)`);
    await con.run(`COPY (SELECT ${sqlString(run)} AS run_id, ${sqlString(String(row['name']))} AS name, ${sqlString(String(row['params']))} AS params, ${Number(row['capital'])}::DOUBLE AS capital)
      TO ${sqlString(path.join(dir, 'runs', `${run}.parquet`))} (FORMAT parquet)`);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** A second trades file for `run` (its trades again, numbered after them): new rows of a run the dataset has. */
export async function writeMoreTrades(dir: string, run: string, file: string): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    await con.run(`COPY (SELECT * REPLACE (trade_id + 1000000 AS trade_id) FROM read_parquet(${sqlString(path.join(dir, 'trades', `${run}.parquet`))}))
      TO ${sqlString(file)} (FORMAT parquet)`);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/**
 * Moves one run's files from the per-run dataset `from` into `to`, each by a rename: a watcher
 * of `to` sees the run appear within moments, not file by file as it is written.
 */
export async function moveRunFiles(from: string, to: string, run: string): Promise<void> {
  await mkdir(path.join(to, 'bars'), { recursive: true });
  for (const rel of [path.join('bars', `run_id=${run}`), path.join('trades', `${run}.parquet`), path.join('runs', `${run}.parquet`)]) {
    await rename(path.join(from, rel), path.join(to, rel));
  }
}
