// The machine's own floor, printed beside the budgets of #17: a bare `node` child that imports
// @duckdb/node-api, opens the store READ_ONLY, runs one query and says so (spawn -> open). The
// budgets are judged on a slower machine whose floor was REFERENCE_FLOOR_MS; a figure scaled by the
// two floors is what that machine would show, if the code's cost grows as the floor does. These
// machines are shared and not equally fast, so a budget is read from the ratio, not the raw figure.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { repoRoot } from '../../fixtures/generate.js';
import { SESSION_NODE_FLAGS, sessionEnvironment } from '../../server/session/contract.js';
import { percentile } from './stats.js';

/** The cold floor (p50, ms) of the slower machine #17 judges the budgets on. */
export const REFERENCE_FLOOR_MS = 344;

/**
 * A node process that imports DuckDB, opens the store read-only and runs one query: bare, or
 * started as a session is (`asSession`: its Node flags and environment, and its heap collected
 * once the store is open). Resolves once the store is open; the process stays until killed.
 */
export async function storeOpener(storePath: string, asSession: boolean): Promise<ChildProcess> {
  const script = `
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(${JSON.stringify(storePath)}, { access_mode: 'READ_ONLY' });
    const connection = await instance.connect();
    await connection.run('SELECT 1');
    globalThis.gc?.();
    process.stdout.write('open');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, [...(asSession ? SESSION_NODE_FLAGS : []), '--input-type=module', '-e', script], {
    cwd: repoRoot(),
    env: asSession ? sessionEnvironment({}) : process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`a process opening ${storePath} exited (${code}) before it had opened it`)));
      child.once('error', reject);
    });
  } catch (error) {
    child.kill();
    throw error;
  }
  return child;
}

/** Kills a process and waits for its exit. */
export async function killed(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill();
  await exited;
}

/** Spawns a floor is measured over when the bench does not say (bench:sessions takes its --spawns). */
const FLOOR_SPAWNS = 10;

/** The cold floor: spawn -> store open, bare node, `spawns` times (ms each). */
export async function coldFloor(storePath: string, spawns = FLOOR_SPAWNS): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < spawns; i++) {
    const started = performance.now();
    const child = await storeOpener(storePath, false);
    samples.push(performance.now() - started);
    await killed(child);
  }
  return samples;
}

/** The floor's line: what it is, over how many spawns, its p50. */
export function floorText(floor: readonly number[]): string {
  return `cold floor (bare node + DuckDB import + open store, ${floor.length} spawns): p50 ${percentile([...floor], 50).toFixed(0)} ms`;
}

/**
 * `figure` (ms) beside the floor: its ratio to the floor's p50 and what it comes to on the
 * reference machine, e.g. "306 ms = 0.81 x this machine's floor (377 ms) -> 279 ms on the 344 ms
 * machine".
 */
export function besideFloor(figure: number, floor: readonly number[]): string {
  const p50 = percentile([...floor], 50);
  return (
    `${figure.toFixed(0)} ms = ${(figure / p50).toFixed(2)} x this machine's floor (${p50.toFixed(0)} ms)` +
    ` -> ${((figure * REFERENCE_FLOOR_MS) / p50).toFixed(0)} ms on the ${REFERENCE_FLOOR_MS} ms machine`
  );
}
