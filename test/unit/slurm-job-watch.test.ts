// The launcher watches its jobs with squeue: every tick while one is starting, seldom once all
// run (each squeue is a fork of the control server, which proxies every tab's frames meanwhile),
// and a job that ends is still noticed. Slurm here is three scripts on PATH; squeue prints the
// job's state from a file the test rewrites and logs each call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SlurmLauncher } from '../../server/control/runtime/remote/slurm-launcher.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function fakeSlurm(): Promise<{ dir: string; squeueCalls: () => Promise<number>; setState: (line: string) => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tickscope-fake-slurm-'));
  const log = path.join(dir, 'squeue.log');
  const state = path.join(dir, 'state');
  const script = (body: string) => `#!/bin/sh\n${body}\n`;
  await writeFile(path.join(dir, 'sbatch'), script('echo 7'));
  await writeFile(path.join(dir, 'squeue'), script(`echo call >> '${log}'\ncat '${state}'`));
  await writeFile(path.join(dir, 'scancel'), script('exit 0'));
  for (const name of ['sbatch', 'squeue', 'scancel']) await chmod(path.join(dir, name), 0o755);
  await writeFile(state, '7|RUNNING|None|node1\n');
  return {
    dir,
    squeueCalls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean).length,
    setState: (line) => writeFile(state, line),
  };
}

test('a running job is asked about seldom once it has started, and its end is still noticed', async () => {
  const slurm = await fakeSlurm();
  const launcher = new SlurmLauncher({
    memoryMiB: 512,
    cpus: 1,
    env: { PATH: `${slurm.dir}:${process.env.PATH}` },
    watch: { startingMs: 300, runningIntervalMs: 2500 },
  });
  // The launcher's squeue watch does not hold the process open (a server's does): this test does.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    const session = launcher.launch({});
    await session.started;
    const atStart = await slurm.squeueCalls();
    // Ticks are 500 ms apart: watched at every tick, this would be about six more calls.
    await sleep(3200);
    const later = (await slurm.squeueCalls()) - atStart;
    assert.ok(later >= 1 && later <= 2, `squeue called ${later} times in 3.2 s once the job ran (every 2.5 s expected)`);
    // The job ends: the next slow poll sees it gone.
    await slurm.setState('');
    const ended = await Promise.race([session.ended.then(() => true), sleep(4000).then(() => false)]);
    assert.ok(ended, 'the end of a running job is noticed within the slow interval');
  } finally {
    clearInterval(keepAlive);
    await launcher.close();
    await rm(slurm.dir, { recursive: true, force: true });
  }
});
