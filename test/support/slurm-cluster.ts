// A real small Slurm cluster on this one machine, for multi-host tests: one slurmctld (and a
// private munged) in the root network namespace, one slurmd per "host" in its own network
// namespace, joined by a Linux bridge. Jobs are children of their node's slurmd, so they run in
// that node's network namespace (its own address) and see the same filesystem. Needs root and
// Debian's slurm-wlm and munge; docs/testing-cluster.md says how it is built and why.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from './control-server.js';

export interface SlurmNode {
  name: string;
  netns: string;
  address: string;
}

export interface SlurmCluster {
  nodes: SlurmNode[];
  /** The bridge's address in the root namespace: where processes on the nodes reach this machine (bind servers here). */
  controlAddress: string;
  partition: string;
  /** Env for slurm client commands (SLURM_CONF, and munge socket if private). Merge into process.env. */
  env: NodeJS.ProcessEnv;
  /** The cluster's temp dir (slurm.conf, state, spool dirs, logs under log/); removed by stop(). */
  dir: string;
  /** The Linux bridge joining the nodes (its name encodes the subnet's second octet). */
  bridge: string;
  /** Runs a slurm client command (sbatch/squeue/scancel/sinfo/scontrol) with env; resolves stdout, rejects with stderr in the message. */
  run(command: string, args: string[]): Promise<string>;
  /** Kills node NAME: its slurmd and every process in its network namespace (SIGKILL), as a machine that died. */
  killNode(name: string): Promise<void>;
  /** Cuts node NAME off the network (veth down), as a machine that became unreachable. */
  cutNode(name: string): Promise<void>;
  /** Tears down everything: cancels all jobs, stops slurmds/slurmctld/munged, kills processes in the namespaces, deletes namespaces, veths and bridge, removes the temp dir. Idempotent; never throws (logs to stderr). */
  stop(): Promise<void>;
}

export interface SlurmClusterOptions {
  nodes: number;
  cpusPerNode: number;
  memoryMiBPerNode: number;
  /** slurm.conf SlurmdTimeout: seconds without an answer before a node is set DOWN (default 5). */
  slurmdTimeoutSeconds?: number;
  /** slurm.conf MessageTimeout (default 3): a failed ping takes about 4x this, so it bounds how fast a dead node shows. */
  messageTimeoutSeconds?: number;
  /** How long to wait for every node to be idle (default 30 s). */
  startTimeoutMs?: number;
}

const TEMP_PREFIX = '/tmp/tickscope-slurm-';
const MANIFEST = 'harness.json';
const SEARCH_PATH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];
const TOOLS = {
  slurmctld: 'slurm-wlm (slurmctld)',
  slurmd: 'slurm-wlm (slurmd)',
  sbatch: 'slurm-wlm (slurm-client)',
  squeue: 'slurm-wlm (slurm-client)',
  scancel: 'slurm-wlm (slurm-client)',
  sinfo: 'slurm-wlm (slurm-client)',
  scontrol: 'slurm-wlm (slurm-client)',
  munged: 'munge',
  mungekey: 'munge',
  ip: 'iproute2',
  nsenter: 'util-linux',
  setpriv: 'util-linux',
} as const;
type Tool = keyof typeof TOOLS;

/** What teardown needs, also written to the temp dir so a later run can clean up after a crashed one. */
interface Manifest {
  ownerPid: number;
  /** The owner's start time (field 22 of /proc/PID/stat), so a reused pid is not taken for the owner. */
  ownerStart: string;
  dir: string;
  bridge?: string;
  netns: string[];
  veths: string[];
  daemons: number[];
}

function toolPath(tool: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH_PATH];
  for (const dir of dirs) {
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

function tool(name: string): string {
  const found = toolPath(name);
  if (!found) throw new Error(`slurm-cluster: ${name} not found (install ${TOOLS[name as Tool] ?? 'slurm-wlm'})`);
  return found;
}

/**
 * Where a job's process runs, from its environment (the node Slurm placed it on, its job), and
 * whether it is in another network namespace than this process: on another "host".
 */
export function placementOf(pid: number): { node: string; job: string; ownNetwork: boolean } {
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
  return { node: env.SLURMD_NODENAME ?? '', job: env.SLURM_JOB_ID ?? '', ownNetwork: readlinkSync(`/proc/${pid}/ns/net`) !== readlinkSync('/proc/self/ns/net') };
}

/** null with a reason when this machine cannot build one (not root, packages missing), so a test can say why it skipped. */
export function slurmClusterUnavailable(): string | null {
  if (process.platform !== 'linux') return `needs Linux network namespaces (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, bridge, slurmd as root)';
  const missing = (Object.keys(TOOLS) as Tool[]).filter((name) => !toolPath(name));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((name) => TOOLS[name]))].join(', ');
    return `missing ${missing.join(', ')}: apt-get install -y --no-install-recommends slurm-wlm munge (${packages})`;
  }
  if (!existsSync('/proc/self/ns/net')) return 'this kernel has no network namespaces';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Small process helpers.

interface Exec {
  stdout: string;
  stderr: string;
}

function execAsync(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Exec> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: options.env ?? process.env, timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 2 ** 20, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const detail = stderr.trim() || stdout.trim() || error.message;
          reject(new Error(`${file} ${args.join(' ')} failed (${error.code ?? error.signal ?? 'error'}): ${detail}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

/** `ip ARGS`, synchronous; throws with ip's stderr unless `tolerate` (then returns whether it worked). */
function ipSync(args: string[], tolerate = false): boolean {
  const result = spawnSync(tool('ip'), args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status === 0) return true;
  if (tolerate) return false;
  throw new Error(`ip ${args.join(' ')} failed: ${(result.stderr || result.error?.message || '').trim()}`);
}

function ipOutput(args: string[]): string {
  const result = spawnSync(tool('ip'), args, { encoding: 'utf8', timeout: 10_000 });
  return result.status === 0 ? result.stdout : '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Start time of PID (field 22 of /proc/PID/stat), or null if it is gone. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Pids of live processes in the network namespace mounted at /run/netns/NAME (what `ip netns pids` does). */
function netnsPids(netns: string): number[] {
  let wanted: string;
  try {
    const { ino, dev } = statIno(`/run/netns/${netns}`);
    wanted = `${dev}:${ino}`;
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { ino, dev } = statIno(`/proc/${entry}/ns/net`);
      if (`${dev}:${ino}` === wanted && processAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // Gone, or a kernel thread.
    }
  }
  return pids;
}

function statIno(path: string): { ino: number; dev: number } {
  // statSync follows the nsfs link to the namespace inode, the same for every member.
  const stats = statSync(path);
  return { ino: stats.ino, dev: stats.dev };
}

/** SIGKILLs every process in the namespace until none is left (a dying process's children may be forking). */
function killNetnsSync(netns: string): void {
  for (let round = 0; round < 20; round++) {
    const pids = netnsPids(netns);
    if (pids.length === 0) return;
    for (const pid of pids) kill(pid, 'SIGKILL');
    spawnSync('sleep', ['0.05']);
  }
}

async function killNetns(netns: string): Promise<void> {
  for (let round = 0; round < 40; round++) {
    const pids = netnsPids(netns);
    if (pids.length === 0) return;
    for (const pid of pids) kill(pid, 'SIGKILL');
    await sleep(50);
  }
  const left = netnsPids(netns);
  if (left.length > 0) throw new Error(`processes ${left.join(', ')} in ${netns} survived SIGKILL`);
}

function tail(path: string, lines = 25): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    // Any free port; slurmctld listens on all addresses, so the root namespace's ports are what count.
    server.listen(0, '0.0.0.0', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Teardown, synchronous so it also runs from process 'exit' and from a later run's clean-up.

function teardownSync(manifest: Manifest): string[] {
  const problems: string[] = [];
  for (const netns of manifest.netns) killNetnsSync(netns);
  for (const pid of manifest.daemons) {
    // Only if the pid still is one of ours: its command line names our temp dir.
    if (cmdlineMentions(pid, manifest.dir)) kill(pid, 'SIGKILL');
  }
  for (const netns of manifest.netns) {
    if (existsSync(`/run/netns/${netns}`) && !ipSync(['netns', 'del', netns], true)) problems.push(`could not delete netns ${netns}`);
  }
  for (const veth of manifest.veths) ipSync(['link', 'del', veth], true);
  if (manifest.bridge && linkExists(manifest.bridge) && !ipSync(['link', 'del', manifest.bridge], true)) {
    problems.push(`could not delete bridge ${manifest.bridge}`);
  }
  try {
    rmSync(manifest.dir, { recursive: true, force: true });
  } catch (error) {
    problems.push(`could not remove ${manifest.dir}: ${(error as Error).message}`);
  }
  return problems;
}

function cmdlineMentions(pid: number, text: string): boolean {
  try {
    return processAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
  } catch {
    return false;
  }
}

function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** Tears down what harnesses of processes that are gone (crashed, SIGKILLed) left behind. */
function reapLeftovers(): void {
  for (const entry of readdirSync('/tmp')) {
    const dir = join('/tmp', entry);
    if (!dir.startsWith(TEMP_PREFIX)) continue;
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
    } catch {
      continue; // Not (yet) a harness dir with a manifest: leave it.
    }
    if (processStart(manifest.ownerPid) === manifest.ownerStart) continue; // Its owner still runs.
    const problems = teardownSync({ ...manifest, dir });
    process.stderr.write(`slurm-cluster: cleaned up a leftover cluster in ${dir}${problems.length ? `: ${problems.join('; ')}` : ''}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Clean-up on exit and signals, for every cluster still running.

const live = new Set<Manifest>();
let hooksInstalled = false;

function onExit(): void {
  for (const manifest of live) teardownSync(manifest);
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  onExit();
  removeHooks();
  // Let the signal do what it would have done without us, unless someone else handles it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

function removeHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', onExit);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

// ---------------------------------------------------------------------------------------------
// The cluster.

/** Picks a free 10.X.0.0/24 and takes it by creating the bridge tsbrX (link names are unique, so two harnesses never share one). */
function createBridge(): { bridge: string; octet: number } {
  const used = ipOutput(['-o', 'addr']) + ipOutput(['route']);
  const octets = Array.from({ length: 64 }, (_, i) => 64 + i).sort(() => Math.random() - 0.5);
  // 10.77 first: it is the documented default and the one seen to work.
  octets.unshift(77);
  for (const octet of octets) {
    if (used.includes(` 10.${octet}.`) || used.startsWith(`10.${octet}.`) || used.includes(`\n10.${octet}.`)) continue;
    const bridge = `tsbr${octet}`;
    if (linkExists(bridge)) continue;
    if (!ipSync(['link', 'add', bridge, 'type', 'bridge'], true)) continue; // Taken by a harness starting right now.
    return { bridge, octet };
  }
  throw new Error('slurm-cluster: no free 10.X.0.0/24 subnet (10.64-10.127) for the bridge');
}

function slurmConf(options: {
  dir: string;
  controlAddress: string;
  port: number;
  partition: string;
  nodes: SlurmNode[];
  cpus: number;
  memoryMiB: number;
  slurmdTimeout: number;
  messageTimeout: number;
}): string {
  const { dir } = options;
  const controller = hostname().split('.')[0];
  return [
    '# Written by test/support/slurm-cluster.ts for one test cluster; see docs/testing-cluster.md.',
    'ClusterName=tickscope',
    // slurmctld only runs where its host name matches; the address is the bridge's.
    `SlurmctldHost=${controller}(${options.controlAddress})`,
    `SlurmctldPort=${options.port}`,
    // Each slurmd has its own network namespace, so they can all use the same port.
    'SlurmdPort=6818',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${dir}/munge/munge.sock`,
    'SlurmUser=root',
    'SlurmdUser=root',
    `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool/%n`,
    `SlurmctldPidFile=${dir}/slurmctld.pid`,
    `SlurmdPidFile=${dir}/spool/slurmd-%n.pid`,
    `SlurmctldLogFile=${dir}/log/slurmctld.log`,
    `SlurmdLogFile=${dir}/log/slurmd-%n.log`,
    'SlurmctldDebug=info',
    'SlurmdDebug=info',
    // No cgroups: linuxproc tracks a job's processes by parentage, task/none binds nothing.
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/none',
    'MpiDefault=none',
    'SwitchType=switch/none',
    `PlugStackConfig=${dir}/plugstack.conf`,
    // Cores and memory are consumable, so --mem decides where (and whether) a job fits.
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core_Memory',
    // Trust the CPUs/RealMemory below, not what slurmd finds on this machine.
    'SlurmdParameters=config_overrides',
    'ReturnToService=2',
    // A job on a failed node ends (NODE_FAIL) rather than being started again elsewhere.
    'JobRequeue=0',
    `SlurmdTimeout=${options.slurmdTimeout}`,
    `MessageTimeout=${options.messageTimeout}`,
    'SlurmctldTimeout=10',
    'TCPTimeout=2',
    'MinJobAge=5',
    'KillWait=2',
    'InactiveLimit=0',
    'Waittime=0',
    ...options.nodes.map(
      (node) => `NodeName=${node.name} NodeAddr=${node.address} CPUs=${options.cpus} RealMemory=${options.memoryMiB} State=UNKNOWN`,
    ),
    `PartitionName=${options.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
}

export async function startSlurmCluster(options: SlurmClusterOptions): Promise<SlurmCluster> {
  const unavailable = slurmClusterUnavailable();
  if (unavailable) throw new Error(`slurm-cluster: cannot start: ${unavailable}`);
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 50) throw new Error('slurm-cluster: nodes must be 1..50');
  reapLeftovers();

  const dir = mkdtempSync(TEMP_PREFIX);
  // munged wants execute permission for all on every directory above its socket.
  chmodSync(dir, 0o755);
  let id = randomBytes(2).toString('hex');
  while (existsSync(`/run/netns/ts-${id}-node1`)) id = randomBytes(2).toString('hex');
  const manifest: Manifest = { ownerPid: process.pid, ownerStart: processStart(process.pid) ?? '', dir, netns: [], veths: [], daemons: [] };
  const saveManifest = () => writeFileSync(join(dir, MANIFEST), JSON.stringify(manifest, null, 2));
  saveManifest();
  live.add(manifest);
  installHooks();

  const children: ChildProcess[] = [];
  const exited = new Map<ChildProcess, string>();
  let stopped: Promise<void> | null = null;
  const damaged = new Set<string>();
  const env: NodeJS.ProcessEnv = { SLURM_CONF: join(dir, 'slurm.conf') };
  // Without any SLURM_* of our own environment (say, tests run inside a real Slurm job).
  const clientEnv = () => ({
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SLURM_'))),
    ...env,
  });

  /** Starts a daemon in the foreground, as our child, dying with us (parent-death signal) if this process is killed. */
  const daemon = (name: string, args: string[]): ChildProcess => {
    const out = openSync(join(dir, 'log', `${name}.out`), 'a');
    const child = spawn(tool('setpriv'), ['--pdeathsig', 'KILL', '--', ...args], { stdio: ['ignore', out, out], env: clientEnv() });
    closeSync(out);
    children.push(child);
    child.once('error', (error) => exited.set(child, `${name} could not start: ${error.message}`));
    child.once('exit', (code, signal) => exited.set(child, `${name} exited (${code ?? signal})`));
    if (child.pid) {
      manifest.daemons.push(child.pid);
      saveManifest();
    }
    return child;
  };

  const logTails = (): string =>
    [
      `--- slurmctld.log\n${tail(join(dir, 'log', 'slurmctld.log'))}`,
      `--- slurmctld.out\n${tail(join(dir, 'log', 'slurmctld.out'), 10)}`,
      ...nodes.flatMap((node) => [
        `--- slurmd-${node.name}.log\n${tail(join(dir, 'log', `slurmd-${node.name}.log`))}`,
        `--- slurmd-${node.name}.out\n${tail(join(dir, 'log', `slurmd-${node.name}.out`), 5)}`,
      ]),
      `--- munged.out\n${tail(join(dir, 'log', 'munged.out'), 10)}`,
    ].join('\n');

  const nodes: SlurmNode[] = [];
  let bridge = '';
  let controlAddress = '';
  const partition = 'tickscope';

  const run = async (command: string, args: string[]): Promise<string> => {
    const { stdout } = await execAsync(tool(command), args, { env: clientEnv(), timeoutMs: 60_000 });
    return stdout;
  };

  const findNode = (name: string): SlurmNode => {
    const node = nodes.find((candidate) => candidate.name === name);
    if (!node) throw new Error(`slurm-cluster: no node ${name} (have ${nodes.map((n) => n.name).join(', ')})`);
    return node;
  };
  const vethOf = (node: SlurmNode) => `tsv${id}n${node.name.replace(/^node/, '')}`;

  const stopOnce = async (): Promise<void> => {
    const problems: string[] = [];
    const controller = children[1];
    if (controller && !exited.has(controller)) {
      try {
        await execAsync(tool('scancel'), ['--user=root'], { env: clientEnv(), timeoutMs: 5000 });
        // Give slurmd a moment to end the jobs itself; whatever is left is SIGKILLed below. Jobs on a
        // killed or cut node would only end when slurmctld sets it DOWN: no point waiting for those.
        const deadline = Date.now() + (damaged.size > 0 ? 0 : 3000);
        while (Date.now() < deadline) {
          const { stdout } = await execAsync(tool('squeue'), ['-h', '-o', '%i'], { env: clientEnv(), timeoutMs: 5000 });
          if (stdout.trim() === '') break;
          await sleep(200);
        }
      } catch (error) {
        problems.push(`cancelling jobs: ${(error as Error).message}`);
      }
    }
    for (const netns of manifest.netns) {
      try {
        await killNetns(netns);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    // slurmctld, then munged: SIGTERM, then SIGKILL if they take too long.
    for (const child of [...children].reverse()) {
      if (exited.has(child) || child.exitCode !== null || child.signalCode !== null) continue;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      // Nothing of their state is kept, so a short grace: slurmctld may be retrying a dead node.
      const timer = setTimeout(() => child.kill('SIGKILL'), 1500);
      await gone;
      clearTimeout(timer);
    }
    problems.push(...teardownSync(manifest));
    live.delete(manifest);
    if (live.size === 0) removeHooks();
    if (problems.length > 0) process.stderr.write(`slurm-cluster: stop: ${problems.join('; ')}\n`);
  };

  const stop = (): Promise<void> => {
    stopped ??= stopOnce().catch((error: unknown) => {
      process.stderr.write(`slurm-cluster: stop failed: ${(error as Error).stack ?? String(error)}\n`);
    });
    return stopped;
  };

  try {
    for (const sub of ['log', 'state', 'spool']) mkdirSync(join(dir, sub), { recursive: true });
    mkdirSync(join(dir, 'munge'), { mode: 0o755 });
    writeFileSync(join(dir, 'plugstack.conf'), '');

    // Network: a bridge with 10.X.0.1, and per node a namespace with a veth into the bridge.
    const created = createBridge();
    bridge = created.bridge;
    manifest.bridge = bridge;
    saveManifest();
    const prefix = `10.${created.octet}.0`;
    controlAddress = `${prefix}.1`;
    ipSync(['addr', 'add', `${controlAddress}/24`, 'dev', bridge]);
    ipSync(['link', 'set', bridge, 'up']);
    for (let k = 1; k <= options.nodes; k++) {
      const node: SlurmNode = { name: `node${k}`, netns: `ts-${id}-node${k}`, address: `${prefix}.${10 + k}` };
      const veth = vethOf(node);
      manifest.netns.push(node.netns);
      manifest.veths.push(veth);
      saveManifest();
      ipSync(['netns', 'add', node.netns]);
      ipSync(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns]);
      ipSync(['link', 'set', veth, 'master', bridge, 'up']);
      ipSync(['-n', node.netns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0']);
      ipSync(['-n', node.netns, 'link', 'set', 'eth0', 'up']);
      ipSync(['-n', node.netns, 'link', 'set', 'lo', 'up']);
      nodes.push(node);
    }

    // munge with a key of its own and a private socket, leaving any system munged alone.
    const key = join(dir, 'munge', 'munge.key');
    await execAsync(tool('mungekey'), ['--create', `--keyfile=${key}`]);
    const socket = join(dir, 'munge', 'munge.sock');
    daemon('munged', [
      tool('munged'),
      '--foreground',
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--pid-file=${join(dir, 'munge', 'munged.pid')}`,
      `--seed-file=${join(dir, 'munge', 'munged.seed')}`,
      `--log-file=${join(dir, 'log', 'munged.log')}`,
    ]);
    await waitFor('munged socket', () => existsSync(socket), 10_000, exited, logTails);

    const port = await freePort();
    writeFileSync(
      env.SLURM_CONF!,
      slurmConf({
        dir,
        controlAddress,
        port,
        partition,
        nodes,
        cpus: options.cpusPerNode,
        memoryMiB: options.memoryMiBPerNode,
        slurmdTimeout: options.slurmdTimeoutSeconds ?? 5,
        messageTimeout: options.messageTimeoutSeconds ?? 3,
      }),
    );
    daemon('slurmctld', [tool('slurmctld'), '-D', '-f', env.SLURM_CONF!]);
    for (const node of nodes) {
      // nsenter, not `ip netns exec`: that remounts /sys, and slurmd then fails on cgroups.
      daemon(`slurmd-${node.name}`, [tool('nsenter'), `--net=/run/netns/${node.netns}`, tool('slurmd'), '-D', '-N', node.name, '-f', env.SLURM_CONF!]);
    }

    let lastStates = '';
    await waitFor(
      `all ${nodes.length} nodes idle`,
      async () => {
        try {
          lastStates = (await run('sinfo', ['-h', '-N', '-o', '%N %T'])).trim();
        } catch (error) {
          lastStates = (error as Error).message;
          return false;
        }
        const states = new Map(lastStates.split('\n').map((line) => line.trim().split(/\s+/) as [string, string]));
        return nodes.every((node) => states.get(node.name) === 'idle');
      },
      options.startTimeoutMs ?? 30_000,
      exited,
      () => `sinfo: ${lastStates}\n${logTails()}`,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    nodes,
    controlAddress,
    partition,
    env,
    dir,
    bridge,
    run,
    async killNode(name: string): Promise<void> {
      const node = findNode(name);
      damaged.add(name);
      await killNetns(node.netns);
    },
    async cutNode(name: string): Promise<void> {
      const node = findNode(name);
      damaged.add(name);
      ipSync(['link', 'set', vethOf(node), 'down']);
    },
    stop,
  };
}

async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  exited: Map<ChildProcess, string>,
  details: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited.size > 0) {
      throw new Error(`slurm-cluster: ${[...exited.values()].join(', ')} while waiting for ${what}\n${details()}`);
    }
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`slurm-cluster: timed out after ${timeoutMs} ms waiting for ${what}\n${details()}`);
    await sleep(200);
  }
}
