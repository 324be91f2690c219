// What a killed preparation leaves behind is removed when the next preparation of ANY dataset
// starts (and so when the server starts: it prepares its datasets), while a live preparation's
// lock and temporaries are left alone; a --temp-dir folder is spilled into, never emptied.
// The preparation killed here is a real child process (server/prepare/child.js), SIGKILLed by the
// test in the middle of its build, as the OOM killer or a `kill -9` would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isChildToParentMessage, type PrepareRequestMessage } from '../../server/prepare/messages.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { PREPARE_CHILD_PATH, prepareInChild } from '../../server/prepare/run-in-child.js';
import { sweepStaleBuilds } from '../../server/prepare/stale-builds.js';
import { CLI_ENTRY } from '../support/cli.js';
import { tinyDataset } from '../support/datasets.js';
import { mem } from '../support/duckdb.js';

let tmp = '';
let tiny = '';
/** A second, small dataset: its preparation is the "next start" that must sweep the first's leftovers. */
let other = '';

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-cleanup-'));
  tiny = await tinyDataset();
  other = path.join(tmp, 'other');
  await mkdir(other);
  await mem((q) =>
    q(`COPY (SELECT 'r1' AS run_id, TIMESTAMP '2024-01-02 14:35:00' + to_minutes((5 * i)::INTEGER) AS ts, 'AAA' AS symbol, 10.0 AS price,
      1.0 AS position_qty, 10.0 AS position_value, 0.0 AS trade_qty, 0.0 AS fees, 0.5 AS pnl FROM range(0, 12) t(i)) TO '${other}/bars.parquet' (FORMAT parquet)`),
  );
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Leftovers {
  locks: string[];
  progress: string[];
  temporaries: string[];
  spill: string[];
  /** Bytes of the temporaries (files and spill folders). */
  bytes: number;
}

async function leftovers(storeDir: string): Promise<Leftovers> {
  const names = await readdir(storeDir).catch(() => [] as string[]);
  const spill = await readdir(path.join(storeDir, '.tmp')).catch(() => [] as string[]);
  const temporaries = names.filter((n) => n.includes('.duckdb.tmp-'));
  let bytes = 0;
  for (const n of temporaries) bytes += (await stat(path.join(storeDir, n))).size;
  return {
    locks: names.filter((n) => n.endsWith('.lock')),
    progress: names.filter((n) => n.includes('.progress.json')),
    temporaries,
    spill,
    bytes,
  };
}

/** Forks the real preparation child on `input`, resolves once `until` says its build is under way. */
function startPreparation(input: string, storeDir: string, until: (phase: string) => boolean): Promise<{ child: ChildProcess; finished: boolean }> {
  return new Promise((resolve, reject) => {
    const child = fork(PREPARE_CHILD_PATH, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
    let underway = false;
    child.on('message', (msg: unknown) => {
      if (!isChildToParentMessage(msg)) return;
      if (msg.type === 'progress' && !underway && until(msg.phase)) {
        underway = true;
        resolve({ child, finished: false });
      }
      if (msg.type === 'failed') reject(new Error(msg.message));
    });
    child.once('exit', () => {
      if (!underway) resolve({ child, finished: true });
    });
    child.once('error', reject);
    const request: PrepareRequestMessage = { type: 'prepare', input, storeDir, threads: 1 };
    child.send(request);
  });
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
}

/** A pid that no process has now: a process of ours that has exited and been reaped. */
function deadPid(): number {
  const done = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(done.stdout);
}

test('a SIGKILLed preparation leaves a lock and temporaries; the next preparation of another dataset removes them', async () => {
  let storeDir = '';
  let before: Leftovers | null = null;
  // The kill must land while the build is under way; on a slow machine the tiny dataset can
  // finish first, and then the attempt is made again in a fresh folder.
  for (let attempt = 0; attempt < 3 && !before; attempt++) {
    storeDir = path.join(tmp, `stores-killed-${attempt}`);
    const { child, finished } = await startPreparation(tiny, storeDir, (phase) => phase === 'sorting bars' || phase === 'checking bars' || phase === 'rollups');
    if (finished) continue;
    child.kill('SIGKILL');
    assert.equal(await exited(child), 'SIGKILL');
    const left = await leftovers(storeDir);
    if (left.locks.length === 0) continue; // it published and let go first: try again
    before = left;
  }
  assert.ok(before, 'the preparation finished before it could be killed, three times');
  console.log(`the killed build left ${before.locks.length} lock(s), ${before.progress.length} progress file(s), ${before.temporaries.length} temporary file(s) of ${before.bytes} bytes, ${before.spill.length} spill folder(s)`);
  // The reproduction: the killed build's lock and temporary store stay behind.
  assert.equal(before.locks.length, 1, JSON.stringify(before));
  assert.ok(before.temporaries.length >= 1 && before.bytes > 0, JSON.stringify(before));
  assert.deepEqual((await readdir(storeDir)).filter((n) => /^[0-9a-f]{16}\.duckdb$/.test(n)), [], 'nothing was published');

  // The next preparation, of a different dataset (another fingerprint), in a child as the server runs it.
  const phases: string[] = [];
  const next = await prepareInChild({ input: other, storeDir, threads: 1, onProgress: (p) => phases.push(p.phase) });
  assert.ok(existsSync(next.storePath));
  const after = await leftovers(storeDir);
  assert.deepEqual(after, { locks: [], progress: [], temporaries: [], spill: [], bytes: 0 });
  assert.ok(!existsSync(path.join(storeDir, '.tmp')), 'the empty spill folder is removed too');
  assert.ok(phases.some((p) => /^removed \d+ leftover\(s\) of killed preparations$/.test(p)), phases.join(' | '));
});

/** Whether a process with this pid exists (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('`tickscope prepare` stopped by SIGTERM ends its preparation process, publishes nothing and says so', async () => {
  // As the SIGKILL test above: the signal must land while the build is under way.
  for (let attempt = 0; attempt < 3; attempt++) {
    const storeDir = path.join(tmp, `stores-cli-stopped-${attempt}`);
    const cli = spawn(process.execPath, [CLI_ENTRY, 'prepare', tiny, '--out', storeDir, '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    cli.stdout!.resume();
    let stderr = '';
    const exit = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    // Progress goes to stderr when it is not a terminal, a line a phase.
    const underway = await new Promise<boolean>((resolve) => {
      cli.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/sorting bars|checking bars|rollups/.test(stderr)) resolve(true);
      });
      void exit.then(() => resolve(false));
    });
    if (!underway) continue;
    // The preparation child: the CLI's one child process.
    const children = readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    assert.equal(children.length, 1, `children of the CLI: ${children.join(', ')}`);
    const child = children[0]!;
    cli.kill('SIGTERM');
    const code = await exit;
    if (code === 0) continue; // it published before the signal landed: try again
    assert.equal(code, 128 + os.constants.signals.SIGTERM, `exit code ${code}; stderr: ${stderr}`);
    assert.match(stderr, /tickscope prepare: stopped by SIGTERM: the preparation process was ended and no store was published/);
    assert.ok(!alive(child), `the preparation process ${child} outlived the command`);
    assert.deepEqual((await readdir(storeDir)).filter((n) => /^[0-9a-f]{16}\.duckdb$/.test(n)), [], 'nothing was published');
    return;
  }
  assert.fail('the preparation finished before it could be stopped, three times');
});

test('a live preparation (stopped, not dead) keeps its lock and temporaries through a sweep', async () => {
  const storeDir = path.join(tmp, 'stores-live');
  const { child, finished } = await startPreparation(tiny, storeDir, (phase) => phase === 'sorting bars' || phase === 'checking bars' || phase === 'rollups');
  if (finished) return assert.ok(existsSync(storeDir), 'finished before the check; nothing to sweep');
  child.kill('SIGSTOP');
  try {
    const held = await leftovers(storeDir);
    const report = await sweepStaleBuilds(storeDir);
    assert.deepEqual(report, { removed: [], failed: [] });
    assert.deepEqual(await leftovers(storeDir), held);
  } finally {
    child.kill('SIGCONT');
  }
  assert.equal(await exited(child), null, 'the preparation went on and finished');
  assert.equal(child.exitCode, 0);
  const done = await leftovers(storeDir);
  assert.deepEqual([done.locks, done.temporaries, done.spill], [[], [], []]);
});

test('--temp-dir: a build spills into a folder of its own, leaves the rest alone, and dead builds\' folders there are swept', async () => {
  const storeDir = path.join(tmp, 'stores-tempdir');
  const tempDir = path.join(tmp, 'scratch');
  await mkdir(tempDir);
  const mine = path.join(tempDir, 'not-tickscope.txt');
  await writeFile(mine, 'somebody else\'s file');
  // A spill folder of a build that died (its pid is gone), in the --temp-dir of this preparation.
  const orphan = path.join(tempDir, `0123456789abcdef.duckdb.tmp-${deadPid()}-zz9`);
  await mkdir(orphan);
  await writeFile(path.join(orphan, 'duckdb_temp_storage-0.tmp'), Buffer.alloc(64 * 1024));
  // ... and one whose pid is alive (ours): it might be a build running right now.
  const alive = path.join(tempDir, `0123456789abcdef.duckdb.tmp-${process.pid}-zz8`);
  await mkdir(alive);

  const r = await prepareDataset({ input: other, storeDir, tempDir, threads: 1 });
  assert.ok(existsSync(r.storePath));
  // The whole of the build's spill folder used to be --temp-dir itself, removed with its contents.
  assert.ok(existsSync(mine), 'a file beside the spill folders survives the preparation');
  assert.ok(!existsSync(orphan), 'the dead build\'s spill folder is swept');
  assert.ok(existsSync(alive), 'a live pid\'s spill folder is kept');
  assert.deepEqual((await readdir(tempDir)).sort(), [path.basename(alive), 'not-tickscope.txt'].sort());
});
