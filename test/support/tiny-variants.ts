// Variants of the tiny fixture for preparation tests: its tables copied into a folder of the
// test's own (under .cache/derive-tests), some of them rewritten with DuckDB SQL first.
import { cp, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { repoRoot } from '../../fixtures/generate.js';
import { sqlString } from '../../server/sql/text.js';
import { tinyDataset } from './datasets.js';

/** The tables of the tiny fixture, as paths relative to its folder. */
export const TINY_TABLES = ['bars', 'trades', 'symbols.parquet', 'runs.arrow'] as const;

/** A fresh folder for one test file's datasets and stores. */
export async function workDir(name: string): Promise<string> {
  const dir = path.join(repoRoot(), '.cache', 'derive-tests', name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Copies the tiny fixture's tables into `dest`, except `leaveOut`; returns the fixture's folder. */
export async function copyTiny(dest: string, leaveOut: readonly string[] = []): Promise<string> {
  const tiny = await tinyDataset();
  await mkdir(dest, { recursive: true });
  for (const name of TINY_TABLES) if (!leaveOut.includes(name)) await cp(path.join(tiny, name), path.join(dest, name), { recursive: true });
  return tiny;
}

/** Runs SQL in a fresh in-memory DuckDB (session time zone UTC) and returns the last statement's rows. */
export async function duck(...statements: string[]): Promise<Record<string, unknown>[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  try {
    await con.run(`SET TimeZone = 'UTC'`);
    let rows: Record<string, unknown>[] = [];
    for (const sql of statements) rows = (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    return rows;
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

/**
 * The tiny fixture copied into `dest` with the bars matching the SQL condition `leftOut` (over the
 * bars' columns, run_id included) left out of every run: a sparse or holed variant.
 */
export async function tinyWithBarsLeftOut(dest: string, leftOut: string): Promise<void> {
  const tiny = await copyTiny(dest, ['bars']);
  await duck(
    `COPY (SELECT * FROM read_parquet(${sqlString(path.join(tiny, 'bars', '*', '*.parquet'))}, hive_partitioning = true) WHERE NOT (${leftOut}))
      TO ${sqlString(path.join(dest, 'bars'))} (FORMAT parquet, PARTITION_BY (run_id))`,
  );
}
