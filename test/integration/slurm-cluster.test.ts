// The Slurm test cluster harness itself: jobs land on different "hosts" (network namespaces) as
// memory dictates, a killed node is noticed by slurmctld, and stop() leaves nothing behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { slurmClusterUnavailable, startSlurmCluster, type SlurmCluster } from '../support/slurm-cluster.js';
import { eventually, processAlive } from '../support/control-server.js';

const unavailable = slurmClusterUnavailable();
let cluster: SlurmCluster | undefined;

after(async () => {
  await cluster?.stop();
});

/** Live (not zombie: this machine's pid 1 does not reap) process ids with the given network namespace inode. */
function pidsInNetnsInode(inode: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (statSync(`/proc/${entry}/ns/net`).ino === inode && processAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Live processes whose command line mentions TEXT. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(text) && processAlive(Number(entry))) found.push(`${entry}: ${cmdline}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function ip(args: string[]): string {
  // Absolute where it can be: root's PATH may lack /usr/sbin.
  return spawnSync(existsSync('/usr/sbin/ip') ? '/usr/sbin/ip' : 'ip', args, { encoding: 'utf8' }).stdout;
}

test('a 2-node Slurm cluster in network namespaces: placement by memory, a dead node, clean stop', { timeout: 90_000 }, async (t) => {
  if (unavailable) {
    if (process.env.CI) assert.fail(`the Slurm test cluster cannot run in CI: ${unavailable}`);
    t.skip(unavailable);
    return;
  }
  let started = Date.now();
  cluster = await startSlurmCluster({ nodes: 2, cpusPerNode: 2, memoryMiBPerNode: 1000 });
  const c = cluster;
  t.diagnostic(`cluster started in ${Date.now() - started} ms (${c.dir}, bridge ${c.bridge} ${c.controlAddress})`);
  assert.equal(c.nodes.length, 2);
  assert.notEqual(c.nodes[0]!.address, c.nodes[1]!.address);
  const netnsInodes = c.nodes.map((node) => statSync(`/run/netns/${node.netns}`).ino);

  // Two jobs that each need 700 of a node's 1000 MiB: they cannot share a node.
  const submit = (name: string) =>
    c.run('sbatch', [
      '--parsable',
      '--mem=700M',
      `--job-name=${name}`,
      `--output=${join(c.dir, `${name}.out`)}`,
      `--chdir=${c.dir}`,
      '--wrap',
      'echo pid=$$; ip -4 -o addr show; exec sleep 30',
    ]);
  const jobA = (await submit('a')).trim();
  const jobB = (await submit('b')).trim();
  assert.match(jobA, /^\d+$/);

  const jobs = async () =>
    new Map(
      (await c.run('squeue', ['-h', '-o', '%i %N %T %r']))
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [id, ...rest] = line.trim().split(/\s+/);
          return [id!, rest] as const;
        }),
    );
  assert.ok(
    await eventually(async () => {
      const now = await jobs();
      return now.get(jobA)?.[1] === 'RUNNING' && now.get(jobB)?.[1] === 'RUNNING';
    }, 15_000, 250),
    `both jobs should run: ${JSON.stringify([...(await jobs())])}`,
  );
  const running = await jobs();
  const nodeA = running.get(jobA)![0]!;
  const nodeB = running.get(jobB)![0]!;
  assert.notEqual(nodeA, nodeB, 'memory forces the two jobs onto different nodes');

  // Each job ran in its node's network namespace: it sees that node's address.
  const output = (name: string) => (existsSync(join(c.dir, `${name}.out`)) ? readFileSync(join(c.dir, `${name}.out`), 'utf8') : '');
  assert.ok(await eventually(async () => /pid=\d+/.test(output('a')) && /pid=\d+/.test(output('b')), 10_000, 250), 'job output');
  const addressOf = (name: string) => c.nodes.find((node) => node.name === name)!.address;
  assert.ok(output('a').includes(`inet ${addressOf(nodeA)}/`), `job a on ${nodeA}: ${output('a')}`);
  assert.ok(output('b').includes(`inet ${addressOf(nodeB)}/`), `job b on ${nodeB}: ${output('b')}`);
  const jobPids = ['a', 'b'].map((name) => Number(/pid=(\d+)/.exec(output(name))![1]));
  assert.ok(jobPids.every((pid) => processAlive(pid)), 'job processes run');

  // A third 700 MiB job has nowhere to go.
  const jobC = (await submit('c')).trim();
  // A pending job has no node list, so squeue's line is "ID STATE REASON"; the reason is None until the scheduler has looked.
  assert.ok(
    await eventually(async () => (await jobs()).get(jobC)?.join(' ') === 'PENDING Resources', 15_000, 250),
    `the third job should wait for resources: ${(await jobs()).get(jobC)?.join(' ')}`,
  );

  // Kill the node that runs job a: slurmctld notices it stopped answering.
  started = Date.now();
  await c.killNode(nodeA);
  assert.ok(!processAlive(jobPids[0]!), 'the killed node took its job process with it');
  assert.ok(processAlive(jobPids[1]!), 'the other node goes on');
  let nodeState = '';
  assert.ok(
    await eventually(async () => {
      nodeState = (await c.run('sinfo', ['-h', '-N', '-n', nodeA, '-o', '%T'])).trim();
      return nodeState.endsWith('*') || nodeState.startsWith('down');
    }, 40_000, 500),
    `${nodeA} should be not responding or down, is ${nodeState}`,
  );
  t.diagnostic(`${nodeA} shown as ${nodeState} ${Date.now() - started} ms after it was killed`);

  started = Date.now();
  await c.stop();
  t.diagnostic(`cluster stopped in ${Date.now() - started} ms`);
  await c.stop(); // Idempotent.

  const netnsList = ip(['netns', 'list']);
  for (const node of c.nodes) assert.ok(!netnsList.includes(node.netns), `netns ${node.netns} left: ${netnsList}`);
  const links = ip(['-o', 'link']);
  assert.ok(!links.includes(c.bridge), `bridge ${c.bridge} left`);
  const id = /^ts-([0-9a-f]+)-/.exec(c.nodes[0]!.netns)![1]!;
  assert.ok(!links.includes(`tsv${id}n`), `veths tsv${id}n* left`);
  assert.ok(!ip(['-o', 'addr']).includes(`${c.controlAddress}/`), 'bridge address left');
  for (const inode of netnsInodes) assert.deepEqual(pidsInNetnsInode(inode), [], 'processes left in a node namespace');
  assert.deepEqual(processesMentioning(c.dir), [], 'slurm daemons or job scripts left');
  for (const pid of jobPids) assert.ok(!processAlive(pid), `job process ${pid} left`);
  assert.ok(!existsSync(c.dir), `${c.dir} left`);
});
