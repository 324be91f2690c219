// `npm run bench:sessions [-- --scale large|demo|sweep] [--tab-open-only] [--runtime slurm]`: the session control plane against its budgets.
//
// 1. spawn -> ready p50/p95 over 30+ spawns: POST /api/sessions with a fresh key until the reply
//    says ready, from the warm pool and with the pool disabled (cold), and in the same run the
//    floor of a cold spawn: a bare `node` child that imports @duckdb/node-api, opens the same
//    store READ_ONLY, runs one query and says so.
// 2. tab open -> first chart drawn, in Chromium (performance.now() at uPlot's first draw): with
//    every session computing its answers (the first tab of a dataset), and with the answers the
//    sessions of a store share (session/answer-cache.ts, `tickscope serve`'s default), their folder
//    emptied first: an unmeasured first tab computes and keeps them, the measured tabs read them.
// 3. RSS of one session on the store after its drill-down, its tab left open: 2 s after its last
//    answer, once it has gone quiet and given memory back, and once it has been quiet long enough
//    to open its store again (server/session/idle-memory.ts): the idle budget.
// 4. twenty sessions at once, each a tab running bench:queries' scripted drill-down (drill-script.ts,
//    its own seed, each interaction's requests sent together): total RSS and p95 latency (request
//    sent -> Arrow decoded), against one session alone running the same kind of script. Sessions
//    get what `tickscope serve --max-sessions 20 --memory-budget 6GiB` gives them (--memory-budget).
// 5. a burst: twenty Chromium tabs opened at once under `tickscope serve`'s defaults (warm pool
//    of 2, so most are cold starts on this machine's cores): every tab must get a session or a
//    place in the queue (POST /api/sessions answers 200 or 202, never an error), and the time from
//    the burst to the last tab's first chart drawn. --burst-max-sessions lowers the session limit
//    so that tabs queue (default: serve's own).
import { availableParallelism } from 'node:os';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { ensureFixtures, repoRoot, type FixtureScale } from '../../fixtures/generate.js';
import { startControlServer, type ControlServer, type ControlServerOptions } from '../../server/control/app.js';
import { ANSWERS_FOLDER } from '../../server/store/format.js';
import { DEFAULT_MAX_SESSIONS, SESSION_BASE_BYTES, defaultMemoryBudget, defaultSessionMemory } from '../../server/control/memory-budget.js';
import { parseSize } from '../../server/os/memory.js';
import { IDLE_QUIET_MS, REOPEN_QUIET_MS } from '../../server/session/idle-memory.js';
import type { SessionInfo } from '../../shared/http-api.js';
import { launchBrowser } from '../support/browser.js';
import { ApiCaller, SessionClient, createSession } from '../support/session-client.js';
import { runDrillScript } from './drill-script.js';
import { processRss, residentSet } from '../support/proc.js';
import { coldFloor, killed, storeOpener } from './cold-floor.js';
import { percentile, summary } from './stats.js';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: 'large' },
    spawns: { type: 'string', default: '30' },
    tabs: { type: 'string', default: '10' },
    concurrent: { type: 'string', default: '20' },
    interactions: { type: 'string', default: '40' },
    'memory-budget': { type: 'string', default: '6GiB' },
    burst: { type: 'string', default: '20' },
    'burst-max-sessions': { type: 'string', default: String(DEFAULT_MAX_SESSIONS) },
    // Parts 1 and 2 only (spawn and tab open, with the floor): a quick look at a new scale.
    'tab-open-only': { type: 'boolean', default: false },
    // slurm: the same measures on a Slurm cluster built here (network namespaces; needs root and
    // Slurm, as the cluster tests), beside the local runtime in the same run, and a node's loss.
    runtime: { type: 'string', default: 'local' },
  },
});
const scale = args.scale as FixtureScale;
const SPAWNS = Number(args.spawns);
const TABS = Number(args.tabs);
const CONCURRENT = Number(args.concurrent);
const INTERACTIONS = Number(args.interactions);
const BURST = Number(args.burst);
const BURST_MAX_SESSIONS = Number(args['burst-max-sessions']);
/** The bench is the operator: it lists and ends the sessions of every tab it opened. */
const OPERATOR_TOKEN = `bench-operator-${process.pid}-${Date.now()}`;
// Spawns, tab opens and the idle session run under `tickscope serve`'s defaults on this machine;
// the crowd under `--max-sessions N --memory-budget B` (default 6 GiB: the budget of the 20), which
// gives each session the memory_limit that lets N busy sessions fit B.
const DEFAULT_BUDGET = defaultMemoryBudget();
const DEFAULT_MEMORY = defaultSessionMemory(DEFAULT_MAX_SESSIONS, DEFAULT_BUDGET);
const CROWD_BUDGET = parseSize(args['memory-budget']!);
const CROWD_MEMORY = defaultSessionMemory(CONCURRENT, CROWD_BUDGET);
const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const MiB = 2 ** 20;
/** --runtime slurm: drill-downs per runtime, alternating (p95 of ~500 answers each). */
const DRILL_ROUNDS = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sessions on the Slurm cluster of `--runtime slurm`, and how long a silent one may stay. `remote`
 * makes each control server a launcher of its own: a launcher's close() cancels every job it
 * started, so with one launcher shared, the shared-answers server's close cancelled the main
 * server's warm jobs, which it reported as lost on their node (the pair on node1 that every run
 * of this bench lost at its start, and the node suspicion that came of it).
 */
interface ClusterSettings {
  remote: () => NonNullable<ControlServerOptions['remote']>;
  heartbeatTimeoutMs: number;
}

async function startServer(
  poolSize: number,
  input: string,
  memory = { limit: DEFAULT_MEMORY, budget: DEFAULT_BUDGET },
  maxSessions = CONCURRENT + 2,
  answerCache = false,
  cluster?: ClusterSettings,
): Promise<ControlServer> {
  return startControlServer({
    answerCache,
    ...(cluster ? { remote: cluster.remote() } : {}),
    host: '127.0.0.1',
    port: 0,
    datasets: [{ id: scale, input }],
    storeDir: path.join(repoRoot(), '.cache', 'stores'),
    clientDir: CLIENT_DIR,
    poolSize,
    logger: false,
    adminToken: OPERATOR_TOKEN,
    limits: {
      maxSessions,
      idleTimeoutMs: 120_000,
      lifetimeMs: 0,
      startupTimeoutMs: 60_000,
      terminateGraceMs: 2000,
      memoryLimit: memory.limit,
      threads: 1,
      // + room for the warm pool, which --max-sessions counts here too
      memoryBudgetBytes: memory.budget + maxSessions * (parseSize(memory.limit) + SESSION_BASE_BYTES),
      ...(cluster ? { heartbeatTimeoutMs: cluster.heartbeatTimeoutMs } : {}),
    },
  });
}

/** The bench as the operator of each server it starts (one caller per server: one identity request). */
const operators = new Map<string, ApiCaller>();
function operatorOf(server: ControlServer): ApiCaller {
  let caller = operators.get(server.url);
  if (!caller) operators.set(server.url, (caller = new ApiCaller(server.url, { authorization: `Bearer ${OPERATOR_TOKEN}` })));
  return caller;
}

async function sessions(server: ControlServer): Promise<SessionInfo[]> {
  return operatorOf(server).listSessions();
}

async function endSession(server: ControlServer, id: string): Promise<void> {
  await operatorOf(server).deleteSession(id);
}

async function spawnToReady(server: ControlServer, pauseMs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < SPAWNS; i++) {
    await sleep(pauseMs); // lets the pool refill, as between real tab opens
    const started = performance.now();
    const session = await createSession(server.url, { key: `spawn-${pauseMs}-${i}` });
    samples.push(performance.now() - started);
    await endSession(server, session.id);
  }
  return samples;
}

/**
 * The idle budget's floor: a process started as a session is that has opened the store, asked
 * nothing and collected its heap, read 2 s after. Node's and libduckdb's code pages alone are
 * most of it.
 */
async function idleFloor(storePath: string): Promise<NonNullable<ReturnType<typeof residentSet>>> {
  const child = await storeOpener(storePath, true);
  try {
    await sleep(2000);
    const memory = residentSet(child.pid!);
    if (!memory) throw new Error("the idle floor's process exited before its memory was read");
    return memory;
  } finally {
    await killed(child);
  }
}

/**
 * Tab open under `tickscope serve`'s default, sessions sharing their answers (on `cluster` if
 * given): the store's answer folder is emptied first, so the first, unmeasured tab computes them.
 */
async function tabOpenWithSharedAnswers(input: string, storePath: string, cluster?: ClusterSettings): Promise<number[]> {
  const answers = path.join(repoRoot(), '.cache', 'stores', ANSWERS_FOLDER);
  const store = path.basename(storePath).replace(/\.(duckdb|segments\.json)$/, '');
  for (const folder of await readdir(answers).catch(() => [])) {
    if (folder.startsWith(`${store}-`)) await rm(path.join(answers, folder), { recursive: true, force: true });
  }
  const server = await startServer(2, input, undefined, undefined, true, cluster);
  try {
    await server.datasets.whenReady(scale);
    return await tabOpenToFirstChart(server);
  } finally {
    await server.close();
  }
}

async function tabOpenToFirstChart(server: ControlServer): Promise<number[]> {
  const browser = await launchBrowser();
  const samples: number[] = [];
  try {
    // The first tab is not measured: it fills the browser's caches (bundle, worker).
    for (let i = 0; i <= TABS; i++) {
      await sleep(700);
      const page = await browser.context.newPage();
      await page.goto(server.url);
      await page.waitForFunction('window.__tickscope && window.__tickscope.firstChartMs > 0', undefined, { timeout: 60_000 });
      if (i > 0) samples.push((await page.evaluate('window.__tickscope.firstChartMs')) as number);
      const sessionId = await page.getAttribute('[data-testid="app"]', 'data-session-id');
      await page.close();
      if (sessionId) await endSession(server, sessionId);
    }
  } finally {
    await browser.close();
  }
  return samples;
}

/**
 * `count` tabs opened at once in one Chromium: each tab's POST /api/sessions answers (200: a
 * session, 202: a place in the queue, anything else an error), and the time from the burst to
 * each tab's first chart drawn. A tab's session is ended once it has drawn, as a tab closed by
 * its analyst would end it, so that queued tabs get their slots.
 */
async function burstOfTabs(server: ControlServer, count: number) {
  const browser = await launchBrowser();
  try {
    // A first tab, not measured, fills the browser's caches (bundle, worker) and gets the owner cookie.
    const warmup = await browser.context.newPage();
    await warmup.goto(server.url);
    await warmup.waitForFunction('window.__tickscope && window.__tickscope.firstChartMs > 0', undefined, { timeout: 120_000 });
    const warmupId = await warmup.getAttribute('[data-testid="app"]', 'data-session-id');
    await warmup.close();
    if (warmupId) await endSession(server, warmupId);
    await sleep(1500);
    const statuses: number[] = [];
    let queuedTabs = 0;
    const started = performance.now();
    const tabs = await Promise.all(
      Array.from({ length: count }, async () => {
        const page = await browser.context.newPage();
        let queued = false;
        page.on('response', (response) => {
          if (response.url().endsWith('/api/sessions') && response.request().method() === 'POST') {
            statuses.push(response.status());
            if (response.status() === 202) queued = true;
          }
        });
        await page.goto(server.url);
        await page.waitForFunction('window.__tickscope && window.__tickscope.firstChartMs > 0', undefined, { timeout: 300_000 });
        const drawnMs = performance.now() - started;
        if (queued) queuedTabs++;
        const sessionId = await page.getAttribute('[data-testid="app"]', 'data-session-id');
        await page.close();
        if (sessionId) await endSession(server, sessionId);
        return drawnMs;
      }),
    );
    return { lastChartMs: Math.max(...tabs), chartMs: tabs, statuses, queuedTabs };
  } finally {
    await browser.close();
  }
}

/** One tab's drill-down; its socket is closed after it, unless `keepOpen` (the tab stays, quiet). */
async function runDrillDown(
  server: ControlServer,
  key: string,
  seed: number,
  keepOpen = false,
): Promise<{ id: string; latencies: number[]; client: SessionClient | null }> {
  const created = await createSession(server.url, { key });
  const client = await SessionClient.connect(server.url, created.wsUrl);
  const latencies = await runDrillScript(client, INTERACTIONS, seed);
  if (!keepOpen) await client.close();
  return { id: created.id, latencies, client: keepOpen ? client : null };
}

/**
 * Issue 16's figures: spawn to ready (warm), tab open to first chart and the drill-down's query
 * latencies through the proxy to Slurm-placed sessions, against the local runtime's in the same
 * run; then the failover time after a node dies (killed with its session), measured as the
 * worker lives it: from the kill to the first answer of the new session its key gets.
 */
async function benchOnCluster(): Promise<void> {
  const { placementOf, slurmClusterUnavailable, startSlurmCluster } = await import('../support/slurm-cluster.js');
  const { SlurmLauncher, SLURM_HEARTBEAT_TIMEOUT_MS } = await import('../../server/control/runtime/remote/slurm-launcher.js');
  const unavailable = slurmClusterUnavailable();
  if (unavailable) throw new Error(`--runtime slurm builds a Slurm cluster of network namespaces here: ${unavailable}`);
  const jobMiB = Math.ceil((parseSize(DEFAULT_MEMORY) + SESSION_BASE_BYTES) / MiB);
  // Room for the pool, a tab and a failover on the last node standing.
  const cluster = await startSlurmCluster({ nodes: 3, cpusPerNode: 4, memoryMiBPerNode: jobMiB * 4 });
  try {
    const remote = () => ({
      listen: { host: cluster.controlAddress },
      launcher: new SlurmLauncher({ env: cluster.env, partition: cluster.partition, memoryMiB: jobMiB, cpus: 1 }),
    });
    const local = await startServer(2, input);
    const storePath = await local.datasets.whenReady(scale);
    // Started once the store is prepared: it finds it, rather than waiting on the same preparation.
    const onCluster = { remote, heartbeatTimeoutMs: SLURM_HEARTBEAT_TIMEOUT_MS };
    const slurm = await startServer(2, input, undefined, undefined, false, onCluster);
    await slurm.datasets.whenReady(scale);
    const onLocal = { spawn: await spawnToReady(local, 700), tabs: await tabOpenToFirstChart(local), sharedTabs: [] as number[], queries: [] as number[] };
    const onSlurm = { spawn: await spawnToReady(slurm, 700), tabs: await tabOpenToFirstChart(slurm), sharedTabs: [] as number[], queries: [] as number[] };
    // Under serve's default too (answers shared), each on a server of its own, before any node is lost.
    onLocal.sharedTabs = await tabOpenWithSharedAnswers(input, storePath);
    onSlurm.sharedTabs = await tabOpenWithSharedAnswers(input, storePath, onCluster);
    // Drill-downs alternate between the two, so that the machine's drift falls on both alike.
    for (let seed = 1; seed <= DRILL_ROUNDS; seed++) {
      for (const [server, into] of [[local, onLocal], [slurm, onSlurm]] as const) {
        const drill = await drillDownInWorker(server, `drill-${seed}`, seed);
        into.queries.push(...drill.latencies);
        await endSession(server, drill.id);
      }
    }
    await local.close();
    // Two ways a node goes: everything on it killed (its sockets reset: the proxy hears at once),
    // and cut off then killed, as a machine that lost power (only the heartbeats can tell).
    const nodeOf = (pid: number) => placementOf(pid).node;
    const killed = await failoverAfterNodeLoss(slurm, 'failover-killed', nodeOf, (node) => cluster.killNode(node));
    const cut = await failoverAfterNodeLoss(slurm, 'failover-cut', nodeOf, async (node) => {
      await cluster.cutNode(node);
      await cluster.killNode(node);
    });
    await slurm.close();
    const floor = await coldFloor(storePath, SPAWNS);
    console.log(`Slurm cluster: ${cluster.nodes.length} nodes (network namespaces on this machine), jobs of ${jobMiB} MiB and 1 CPU\n`);
    console.log(summary('floor: bare node + DuckDB import + open store', floor));
    for (const [name, run] of [['local', onLocal], ['slurm', onSlurm]] as const) {
      console.log(summary(`${name}: spawn -> ready, warm pool`, run.spawn));
      console.log(summary(`${name}: tab open -> first chart, each session computes (Chromium)`, run.tabs));
      console.log(summary(`${name}: tab open -> first chart, shared answers (serve default)`, run.sharedTabs));
      console.log(summary(`${name}: drill-down query`, run.queries));
    }
    const ratio = (a: number[], b: number[], p: number) => (percentile(a, p) / percentile(b, p)).toFixed(2);
    console.log(`slurm / local, drill-down query p95:       ${ratio(onSlurm.queries, onLocal.queries, 95)} (target < 1.20: the proxy adds < 20%; each drill-down's client on a thread of its own)`);
    console.log(`slurm / local, drill-down query p50:       ${ratio(onSlurm.queries, onLocal.queries, 50)}`);
    console.log(`slurm warm spawn p50 / cold floor p50:     ${ratio(onSlurm.spawn, floor, 50)} (target: p50 < 250 ms)`);
    console.log(`slurm tab open p50 / cold floor p50:       ${ratio(onSlurm.sharedTabs, floor, 50)} shared (serve default), ${ratio(onSlurm.tabs, floor, 50)} computed (target: p50 < 700 ms)`);
    console.log(`slurm / local, tab open p50:               ${ratio(onSlurm.sharedTabs, onLocal.sharedTabs, 50)} shared, ${ratio(onSlurm.tabs, onLocal.tabs, 50)} computed`);
    for (const [how, failover] of [['killed', killed], ['cut off, then killed', cut]] as const) {
      console.log(
        `failover, node ${failover.node} ${how}: tab told after ${failover.noticedMs.toFixed(0)} ms, ` +
          `its new session on ${failover.movedTo} answered after ${failover.answeredMs.toFixed(0)} ms (target < 10 s; --heartbeat-timeout ${SLURM_HEARTBEAT_TIMEOUT_MS / 1000} s)`,
      );
    }
  } finally {
    await cluster.stop();
  }
}

/** runDrillDown, with the client on a thread of its own (drill-worker.ts). */
function drillDownInWorker(server: ControlServer, key: string, seed: number): Promise<{ id: string; latencies: number[] }> {
  const worker = new Worker(new URL('./drill-worker.js', import.meta.url), { workerData: { url: server.url, key, seed, interactions: INTERACTIONS } });
  return new Promise((resolve, reject) => {
    worker.once('message', (result: { id: string; latencies: number[] }) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the drill-down worker exited (${code}) before it answered`)));
  });
}

/** Kills the node of a fresh session with a tab; times the tab's notice and its new session's first answer. */
async function failoverAfterNodeLoss(server: ControlServer, key: string, nodeOf: (pid: number) => string, loseNode: (node: string) => Promise<void>) {
  const created = await createSession(server.url, { key });
  const client = await SessionClient.connect(server.url, created.wsUrl);
  await client.ask('equity', { width: 300 });
  const node = nodeOf((await sessions(server)).find((s) => s.id === created.id)!.pid!);
  const killedAt = performance.now();
  await loseNode(node);
  await client.closed;
  const noticedMs = performance.now() - killedAt;
  // What the worker does on a 1011: ask for its key's session again, connect, ask.
  const again = await createSession(server.url, { key });
  const next = await SessionClient.connect(server.url, again.wsUrl);
  const answer = await next.ask('equity', { width: 300 });
  if (answer.error) throw new Error(`after the failover: ${answer.error.message}`);
  const answeredMs = performance.now() - killedAt;
  const movedTo = nodeOf((await sessions(server)).find((s) => s.id === again.id)!.pid!);
  await next.close();
  await endSession(server, again.id);
  return { node, noticedMs, answeredMs, movedTo };
}

// ---------------------------------------------------------------------------------------------
console.log(
  `bench:sessions on scale ${scale}: memory_limit ${DEFAULT_MEMORY} (serve's default here) for spawns, tabs and the idle session; ` +
    `${CONCURRENT} sessions in ${args['memory-budget']} -> ${CROWD_MEMORY} each; 1 DuckDB thread each; ${INTERACTIONS} interactions per drill-down`,
);
const input = await ensureFixtures(scale, 42);
if (args.runtime === 'slurm') {
  await benchOnCluster();
  process.exit();
} else if (args.runtime !== 'local') {
  throw new Error(`--runtime ${args.runtime}: local or slurm`);
}
const warm = await startServer(2, input);
const storePath = await warm.datasets.whenReady(scale);
console.log(`store: ${storePath}\n`);

const warmSamples = await spawnToReady(warm, 700);
const tabSamples = await tabOpenToFirstChart(warm);
const sharedTabSamples = await tabOpenWithSharedAnswers(input, storePath);
if (args['tab-open-only']) {
  await warm.close();
  const floor = await coldFloor(storePath, SPAWNS);
  console.log(summary('spawn -> ready, warm pool', warmSamples));
  console.log(summary('floor: bare node + DuckDB import + open store', floor));
  printTabOpen(floor);
  process.exit(0);
}

function printTabOpen(floor: number[]): void {
  console.log(summary('tab open -> first chart, each session computes (Chromium)', tabSamples));
  console.log(summary('tab open -> first chart, shared answers (serve default)', sharedTabSamples));
  console.log(`tab open p50 / cold floor p50:             ${(percentile(tabSamples, 50) / percentile(floor, 50)).toFixed(2)} computed, ${(percentile(sharedTabSamples, 50) / percentile(floor, 50)).toFixed(2)} shared`);
}

// Idle RSS: one session that has answered a drill-down, its tab still open and quiet: 2 s after
// its last answer (what it grew to), once it has given memory back (idle-memory.ts, after
// IDLE_QUIET_MS), and once it has also opened its store again (after REOPEN_QUIET_MS). The last
// wait runs beside the crowd and the burst below, on another control server: the idle process
// takes no CPU from them, nor they anything from its RSS. Its RSS is read after them (a reopen
// takes seconds while twenty sessions share the cores: read at REOPEN_QUIET_MS + 2 s, it caught
// both instances open).
const idle = await runDrillDown(warm, 'idle', 1, true);
const idleSince = performance.now();
const rssOf = async (id: string) => (await sessions(warm)).find((s) => s.id === id)!.rssBytes!;
await sleep(2000);
const busyRss = await rssOf(idle.id);
await sleep(IDLE_QUIET_MS + 1000 - (performance.now() - idleSince));
const idleRss = await rssOf(idle.id);
const reopenedRss = async () => {
  await sleep(REOPEN_QUIET_MS + 5000 - (performance.now() - idleSince));
  const info = (await sessions(warm)).find((s) => s.id === idle.id)!;
  const memory = info.pid == null ? null : residentSet(info.pid);
  await idle.client!.close();
  await warm.close();
  return { rss: info.rssBytes!, memory };
};

// Twenty at once, and one alone under the same settings first (the latency to compare with).
const crowdServer = await startServer(2, input, { limit: CROWD_MEMORY, budget: CROWD_BUDGET });
await crowdServer.datasets.whenReady(scale);
const alone = await runDrillDown(crowdServer, 'alone', 1);
await endSession(crowdServer, alone.id);
await sleep(1000);
// Total RSS of the crowd's processes, sampled from /proc while they work: the peak is what the
// machine must have.
let peakCrowdRss = 0;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    const pids = (await sessions(crowdServer)).filter((s) => s.key?.startsWith('crowd-') && s.pid).map((s) => s.pid!);
    peakCrowdRss = Math.max(peakCrowdRss, pids.reduce((sum, pid) => sum + processRss(pid), 0));
    await sleep(250);
  }
})();
const crowd = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => runDrillDown(crowdServer, `crowd-${i}`, i + 2)));
sampling = false;
await sampler;
await sleep(1500); // stats and RSS settle
const crowdInfos = (await sessions(crowdServer)).filter((s) => crowd.some((c) => c.id === s.id));
const crowdRss = crowdInfos.reduce((sum, s) => sum + (s.rssBytes ?? 0), 0);
// RSS counts the files every session maps (DuckDB's code, mostly) once per session; PSS shares
// each page among the processes that map it, so its sum is what the twenty cost the machine.
const crowdPss = crowdInfos.reduce((sum, s) => sum + (s.pid == null ? 0 : (residentSet(s.pid)?.pss ?? 0)), 0);
const controlBytes = processRss(process.pid); // the control server runs in this process
await crowdServer.close();

// Twenty tabs at once under serve's defaults (warm pool of 2), or a lower session limit.
const burstServer = await startServer(2, input, { limit: defaultSessionMemory(BURST_MAX_SESSIONS, DEFAULT_BUDGET), budget: DEFAULT_BUDGET }, BURST_MAX_SESSIONS);
await burstServer.datasets.whenReady(scale);
const burst = await burstOfTabs(burstServer, BURST);
await burstServer.close();

const cold = await startServer(0, input);
await cold.datasets.whenReady(scale);
const coldSamples = await spawnToReady(cold, 0);
await cold.close();
const floorSamples = await coldFloor(storePath, SPAWNS);
const idleReopened = await reopenedRss();
const idleReopenedRss = idleReopened.rss;
const floorIdle = await idleFloor(storePath);

const crowdLatencies = crowd.flatMap((c) => c.latencies);
console.log(summary('spawn -> ready, warm pool', warmSamples));
console.log(summary('spawn -> ready, cold (pool disabled)', coldSamples));
console.log(summary('floor: bare node + DuckDB import + open store', floorSamples));
printTabOpen(floorSamples);
console.log(summary('drill-down query, one session alone', alone.latencies));
console.log(summary(`drill-down query, ${CONCURRENT} sessions at once`, crowdLatencies));
console.log('');
console.log(`session RSS 2 s after its drill-down:      ${(busyRss / MiB).toFixed(0)} MiB`);
console.log(`idle session RSS, tab open (after ${IDLE_QUIET_MS / 1000} s quiet):  ${(idleRss / MiB).toFixed(0)} MiB (buffers and allocator given back)`);
console.log(`idle session RSS, tab open (after ${REOPEN_QUIET_MS / 1000} s quiet): ${(idleReopenedRss / MiB).toFixed(0)} MiB (store opened again; target < 120 MiB, #17)`);
const residentText = (m: NonNullable<ReturnType<typeof residentSet>>) =>
  `${(m.anonymous / MiB).toFixed(0)} MiB anonymous + ${(m.fileBacked / MiB).toFixed(0)} MiB mapped files (code shared with every session), PSS ${(m.pss / MiB).toFixed(0)} MiB`;
if (idleReopened.memory) console.log(`  of which:                                 ${residentText(idleReopened.memory)}`);
console.log(`floor: session-started node + DuckDB, store open, nothing asked: ${(floorIdle.rss / MiB).toFixed(0)} MiB RSS (${residentText(floorIdle)}); idle / floor ${(idleReopenedRss / floorIdle.rss).toFixed(2)}`);
console.log(
  `${CONCURRENT} sessions: total session RSS ${(crowdRss / MiB).toFixed(0)} MiB + control server ${(controlBytes / MiB).toFixed(0)} MiB ` +
    `= ${((crowdRss + controlBytes) / 2 ** 30).toFixed(2)} GiB (budget 6 GiB); ${crowdInfos.length}/${CONCURRENT} answered every step\n` +
    `${CONCURRENT} sessions: total session PSS ${(crowdPss / MiB).toFixed(0)} MiB (shared pages split among the sessions) + control server = ` +
    `${((crowdPss + controlBytes) / 2 ** 30).toFixed(2)} GiB`,
);
console.log(
  `${CONCURRENT} sessions: peak total session RSS while they worked ${(peakCrowdRss / MiB).toFixed(0)} MiB ` +
    `(+ control server = ${((peakCrowdRss + controlBytes) / 2 ** 30).toFixed(2)} GiB)`,
);
const errors = burst.statuses.filter((status) => status !== 200 && status !== 202);
console.log(
  `${BURST} tabs opened at once (--max-sessions ${BURST_MAX_SESSIONS}, pool 2, ${availableParallelism()} cores): ` +
    `last tab's first chart after ${(burst.lastChartMs / 1000).toFixed(1)} s (p50 ${(percentile(burst.chartMs, 50) / 1000).toFixed(1)} s); ` +
    `${burst.queuedTabs} waited in the queue; POST /api/sessions answers: ${burst.statuses.filter((s) => s === 200).length} x 200, ` +
    `${burst.statuses.filter((s) => s === 202).length} x 202, ${errors.length} errors${errors.length ? ` (${[...new Set(errors)].join(', ')})` : ''}`,
);
const median = (xs: number[]) => percentile(xs, 50);
console.log(`warm spawn p50 / cold floor p50:           ${(median(warmSamples) / median(floorSamples)).toFixed(2)}`);
console.log(`cold spawn p50 / cold floor p50:           ${(median(coldSamples) / median(floorSamples)).toFixed(2)}`);
console.log(`p95 with ${CONCURRENT} sessions / p95 alone:       ${(percentile(crowdLatencies, 95) / percentile(alone.latencies, 95)).toFixed(2)}`);
// The burst's budget is not a time but an outcome: no tab may get an error.
if (errors.length > 0) process.exitCode = 1;
