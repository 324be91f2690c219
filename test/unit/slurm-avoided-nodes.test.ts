// Nodes whose sessions were lost are avoided for a while, but never to the point of shutting the
// cluster: when sbatch refuses a job because every node is avoided, the launcher submits it once
// more without the exclusion. Slurm here is three scripts on PATH that log their arguments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SlurmLauncher } from '../../server/control/runtime/remote/slurm-launcher.js';

/** sbatch that refuses any --exclude (as Slurm does when it covers every node) and else prints job 42. */
async function fakeSlurm(): Promise<{ dir: string; calls: () => Promise<string[]> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tickscope-fake-slurm-'));
  const log = path.join(dir, 'sbatch.log');
  const script = (body: string) => `#!/bin/sh\n${body}\n`;
  await writeFile(
    path.join(dir, 'sbatch'),
    script(`echo "$*" >> '${log}'
case "$*" in *--exclude=*) echo 'sbatch: error: Batch job submission failed: Requested node configuration is not available' >&2; exit 1;; esac
echo 42`),
  );
  // The job is seen running on node1, and scancel accepts anything.
  await writeFile(path.join(dir, 'squeue'), script(`echo '42|RUNNING|None|node1'`));
  await writeFile(path.join(dir, 'scancel'), script('exit 0'));
  for (const name of ['sbatch', 'squeue', 'scancel']) await chmod(path.join(dir, name), 0o755);
  return { dir, calls: async () => (await readFile(log, 'utf8')).trim().split('\n') };
}

test('with every node avoided, the job is submitted again without the exclusion', async () => {
  const slurm = await fakeSlurm();
  const launcher = new SlurmLauncher({ memoryMiB: 512, cpus: 1, env: { PATH: `${slurm.dir}:${process.env.PATH}` } });
  // The launcher's squeue watch does not hold the process open (a server's does): this test does.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    launcher.nodeSuspect('node1');
    launcher.nodeSuspect('node2');
    const session = launcher.launch({});
    await session.started;
    assert.equal(session.id, 'job 42');
    const calls = await slurm.calls();
    assert.equal(calls.length, 2, 'one refused submission, one accepted');
    assert.match(calls[0]!, /--exclude=node1,node2/);
    assert.doesNotMatch(calls[1]!, /--exclude/);
    // The suspicion is dropped with it: the next job is not refused first.
    launcher.launch({});
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await slurm.calls()).length, 3);
    assert.doesNotMatch((await slurm.calls())[2]!, /--exclude/);
  } finally {
    clearInterval(keepAlive);
    await launcher.close();
    await rm(slurm.dir, { recursive: true, force: true });
  }
});
