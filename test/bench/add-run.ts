// `npm run bench:add-run -- --scale sweep`: the cost of adding one run to a prepared sweep
// (server/prepare/add-runs.ts), against preparing that run alone and against the machine's floor.
//
// 1. The sweep fixture of that scale (seed 42; sweep-small: seed 7) rewritten one set of files
//    per run (test/support/per-run-dataset.ts; bars hard-linked): every run but the
//    alphabetically first, prepared whole into a fresh store folder (timed, for scale).
// 2. The first run alone, as a dataset of its own, prepared whole into another store folder:
//    "preparing that run alone".
// 3. The first run's files added to the dataset of step 1, which is prepared again: a delta
//    segment (checked). Target: step 3 < 3x step 2.
// 4. The floor: DuckDB reading that run's bars and trades files into tables sorted as the store
//    sorts them, then CHECKPOINT, in this process with the same memory limit: what no preparation
//    of the run can beat. Both times are printed against it.
//
// Preparations run in a child process (prepareInChild), as the control server runs them.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { ensureFixtures, repoRoot } from '../../fixtures/generate.js';
import { defaultMemoryLimit, duckdbMemoryLimit } from '../../server/prepare/memory.js';
import { prepareInChild } from '../../server/prepare/run-in-child.js';
import { sqlString } from '../../server/sql/text.js';
import { addRunFiles, fixtureRuns, writePerRunDataset } from '../support/per-run-dataset.js';

// Strict: an unknown or misspelt flag stops with node's own message instead of being ignored.
const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: 'sweep' },
    'memory-limit': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

async function timed<T>(run: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { seconds: (performance.now() - started) / 1000, value };
}

/** DuckDB reading one run's bars and trades into sorted tables, then CHECKPOINT (seconds). */
async function floorSeconds(dataset: string, run: string, work: string, memoryLimit: string): Promise<number> {
  const file = path.join(work, 'floor.duckdb');
  await rm(file, { force: true });
  const started = performance.now();
  const instance = await DuckDBInstance.create(file, { memory_limit: duckdbMemoryLimit(memoryLimit), temp_directory: path.join(work, 'floor-tmp') });
  const con = await instance.connect();
  try {
    await con.run(`CREATE TABLE bars AS SELECT * FROM read_parquet(${sqlString(path.join(dataset, 'bars', `run_id=${run}`, '*.parquet'))}, hive_partitioning = true) ORDER BY run_id, symbol, ts`);
    await con.run(`CREATE TABLE trades AS SELECT * FROM read_parquet(${sqlString(path.join(dataset, 'trades', `${run}.parquet`))}) ORDER BY run_id, symbol, entry_ts`);
    await con.run('CHECKPOINT');
  } finally {
    con.closeSync();
    instance.closeSync();
  }
  const seconds = (performance.now() - started) / 1000;
  await rm(file, { force: true });
  return seconds;
}

async function main(): Promise<void> {
  const scale = args.scale;
  if (scale !== 'sweep' && scale !== 'sweep-small') throw new Error(`--scale must be sweep or sweep-small, not ${scale}`);
  const memoryLimit = args['memory-limit'] ?? defaultMemoryLimit();
  const fixture = await ensureFixtures(scale, scale === 'sweep' ? 42 : 7);
  const runs = await fixtureRuns(fixture);
  const added = runs[0]!;
  const work = path.join(repoRoot(), '.cache', 'bench', `add-run-${scale}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const dataset = path.join(work, 'dataset');
  const alone = path.join(work, 'alone');
  console.log(`${scale}: ${runs.length} runs; adding ${added} to the other ${runs.length - 1} (memory limit ${memoryLimit})`);
  await writePerRunDataset(fixture, dataset, runs.slice(1));
  await writePerRunDataset(fixture, alone, [added]);

  const base = await timed(() => prepareInChild({ input: dataset, storeDir: path.join(work, 'stores'), memoryLimit }));
  console.log(`prepare ${runs.length - 1} runs whole: ${base.seconds.toFixed(2)} s`);
  const one = await timed(() => prepareInChild({ input: alone, storeDir: path.join(work, 'stores-alone'), memoryLimit }));
  console.log(`prepare ${added} alone:        ${one.seconds.toFixed(2)} s`);
  await addRunFiles(fixture, dataset, added);
  const grow = await timed(() => prepareInChild({ input: dataset, storeDir: path.join(work, 'stores'), memoryLimit }));
  if (grow.value.segments !== 2 || grow.value.addedRuns?.join() !== added) {
    throw new Error(`adding ${added} did not build a delta segment: ${JSON.stringify({ segments: grow.value.segments, addedRuns: grow.value.addedRuns })}`);
  }
  console.log(`add ${added} to the dataset:   ${grow.seconds.toFixed(2)} s (a delta segment)`);
  const floor = await floorSeconds(alone, added, work, memoryLimit);
  console.log(`floor (DuckDB reads and sorts the run's bars and trades, CHECKPOINT): ${floor.toFixed(2)} s`);
  const ratio = grow.seconds / one.seconds;
  console.log(`add / alone: ${ratio.toFixed(2)}x (target < 3x) ${ratio < 3 ? 'ok' : 'OVER'}`);
  console.log(`alone / floor: ${(one.seconds / floor).toFixed(2)}x; add / floor: ${(grow.seconds / floor).toFixed(2)}x`);
  if (!args.keep) await rm(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
