// Issue 16: sessions on a real (small) Slurm cluster. The harness (test/support/slurm-cluster.ts)
// builds hosts out of network namespaces on this machine, one slurmd each, slurmctld on the
// bridge. The control server submits each session as a job; Slurm places it; the session dials
// back over the bridge and its tab is proxied to it. Each node fits one session by memory, so
// placement, a full cluster and a lost node are all observable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { ControlServer } from '../../server/control/app.js';
import { SESSION_BASE_BYTES } from '../../server/control/memory-budget.js';
import { parseSize } from '../../server/os/memory.js';
import { SESSION_JOB_NAME, SlurmLauncher } from '../../server/control/runtime/remote/slurm-launcher.js';
import { browserSessions, launchBrowser, type Browser } from '../support/browser.js';
import { eventually, processAlive, startServeCli, startTestServer } from '../support/control-server.js';
import { drawn, openReady, recordAppearances, seenText, sel, WAIT } from '../support/page-waits.js';
import { ApiCaller, SessionClient, rowsOf } from '../support/session-client.js';
import { placementOf, slurmClusterUnavailable, startSlurmCluster, type SlurmCluster } from '../support/slurm-cluster.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const SESSION_MEMORY = '200MB';
const JOB_MIB = Math.ceil((parseSize(SESSION_MEMORY) + SESSION_BASE_BYTES) / 2 ** 20);
/** One session's job fits a node, two do not. */
const NODE_MIB = Math.floor(JOB_MIB * 1.6);
const HEARTBEAT_TIMEOUT_MS = 3000;
const PENDING_LIMIT_MS = 3000;

const unavailable = slurmClusterUnavailable();
// CI installs Slurm (.ci/run): there, a machine that cannot build the cluster is a failure.
const skip = unavailable !== null && !process.env.CI ? `no Slurm cluster on this machine: ${unavailable}` : false;

let cluster: SlurmCluster;
let server: ControlServer;
let browser: Browser;
/** One API caller (one owner) for the sessions the tests make besides the browser's. */
let api: ApiCaller;

before(async () => {
  if (skip) return;
  if (unavailable) throw new Error(`the cluster tests need Slurm and root: ${unavailable}`);
  cluster = await startSlurmCluster({ nodes: 3, cpusPerNode: 2, memoryMiBPerNode: NODE_MIB });
  server = await startTestServer({
    clientDir: CLIENT_DIR,
    poolSize: 0,
    remote: {
      listen: { host: cluster.controlAddress },
      launcher: new SlurmLauncher({ env: cluster.env, partition: cluster.partition, memoryMiB: JOB_MIB, cpus: 1, pendingLimitMs: PENDING_LIMIT_MS }),
    },
    limits: { memoryLimit: SESSION_MEMORY, threads: 1, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, idleTimeoutMs: 60_000 },
  });
  browser = await launchBrowser();
  api = new ApiCaller(server.url);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await cluster?.stop();
});

/** Running session jobs by node, as squeue says. */
async function jobsByNode(): Promise<Map<string, string[]>> {
  const out = await cluster.run('squeue', ['--noheader', `--name=${SESSION_JOB_NAME}`, '--states=RUNNING', '--format=%i|%N']);
  const byNode = new Map<string, string[]>();
  for (const line of out.split('\n').filter(Boolean)) {
    const [id, node] = line.trim().split('|');
    byNode.set(node!, [...(byNode.get(node!) ?? []), id!]);
  }
  return byNode;
}

async function sessionJobs(): Promise<string[]> {
  const out = await cluster.run('squeue', ['--noheader', `--name=${SESSION_JOB_NAME}`, '--format=%i|%T|%N']);
  return out.split('\n').map((line) => line.trim()).filter(Boolean);
}

let page: Page;
let tabSessionId: string;

test('a tab opens and drills down through the proxy to a session on another host', { skip, timeout: 120_000 }, async () => {
  page = await openReady(browser, `${server.url}/`);
  await drawn(page, ['equity-chart', 'kpis']);
  tabSessionId = (await page.getAttribute(sel('app'), 'data-session-id'))!;
  const info = (await browserSessions(browser, server.url)).find((s) => s.id === tabSessionId)!;
  const where = placementOf(info.pid!);
  assert.ok(cluster.nodes.some((n) => n.name === where.node), `the session runs on a cluster node (${where.node})`);
  assert.ok(where.ownNetwork, "the session is in its node's network, not this host's");
  // Drill down: sectors, then the first sector's symbols, drawn from the remote session.
  await page.click('[data-tab="sectors"]');
  await drawn(page, ['breakdown-table', 'breakdown-chart']);
  await page.click(`${sel('breakdown-table')} .vt-row[data-index="0"]`);
  await page.waitForSelector(`${sel('breakdown')}[data-by="symbol"]`, WAIT);
  await drawn(page, ['breakdown-table', 'breakdown-chart']);
  assert.ok(Number(await page.getAttribute(sel('breakdown-table'), 'data-total')) > 0);

  // The answers through the proxy are a local session's.
  const local = await startTestServer({ poolSize: 0 });
  try {
    const remote = await SessionClient.connect(server.url, (await api.createSession({ key: 'compare' })).wsUrl, {}, api);
    const localTab = new ApiCaller(local.url);
    const reference = await SessionClient.connect(local.url, (await localTab.createSession({})).wsUrl, {}, localTab);
    for (const [query, params] of [
      ['equity', { width: 300 }],
      ['trades', { limit: 2000, sort: { column: 'trade_id' } }],
    ] as const) {
      assert.deepEqual(rowsOf(await remote.ask(query, params as never)), rowsOf(await reference.ask(query, params as never)), `${query} through the proxy`);
    }
    await remote.close();
    await reference.close();
  } finally {
    await local.close();
  }
});

test('sessions spread over the nodes as memory fills; a full cluster answers 503 with Retry-After', { skip, timeout: 120_000 }, async () => {
  const tab = api;
  // With the tab's and the comparison's sessions, a third fills the last node.
  await tab.createSession({ key: 'third' });
  const byNode = await jobsByNode();
  assert.equal(byNode.size, 3, `one session job on each node: ${JSON.stringify([...byNode])}`);
  for (const [node, jobs] of byNode) assert.equal(jobs.length, 1, `${node} holds one job`);

  const startedAt = Date.now();
  const refused = await tab.postSession({ key: 'fourth' });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After');
  assert.match(((await refused.json()) as { message: string }).message, /the cluster has no room for another session now .*pending/);
  assert.ok(Date.now() - startedAt < PENDING_LIMIT_MS + 10_000);
  assert.ok(await eventually(async () => (await sessionJobs()).every((line) => line.includes('RUNNING')), 10_000), 'the pending job was cancelled');
});

test('a node that dies: its tab moves to a surviving node within 10 s, told while it happens', { skip, timeout: 120_000 }, async () => {
  const tab = api;
  // Room for the move: the comparison's session ends, its node frees.
  const compare = (await tab.listSessions()).find((s) => s.key === 'compare' && s.status === 'ready')!;
  await tab.fetch(`/api/sessions/${compare.id}`, { method: 'DELETE' });
  assert.ok(await eventually(async () => (await jobsByNode()).size === 2, 15_000), 'its job ended');

  const old = (await browserSessions(browser, server.url)).find((s) => s.id === tabSessionId)!;
  const lost = placementOf(old.pid!).node;
  const symbols = await page.getAttribute(sel('breakdown-table'), 'data-total');
  // The banner may be up for only a moment when a node has room at once: recorded, not polled for.
  await recordAppearances(page, sel('reconnecting-banner'));
  const killedAt = Date.now();
  // A machine that lost its power: off the network first (no reply, not even a reset), then
  // everything on it dead. Only the heartbeats can tell.
  await cluster.cutNode(lost);
  await cluster.killNode(lost);
  await seenText(page, sel('reconnecting-banner'), /unresponsive: no heartbeat/, HEARTBEAT_TIMEOUT_MS + 10_000);
  await page.waitForFunction(
    `document.querySelector('[data-testid="app"]')?.getAttribute('data-session-id') !== ${JSON.stringify(tabSessionId)} && document.querySelector('[data-testid="app"]')?.getAttribute('data-state') === 'ready'`,
    undefined,
    WAIT,
  );
  await drawn(page, ['breakdown-table', 'breakdown-chart']);
  const movedMs = Date.now() - killedAt;
  assert.ok(movedMs < 10_000, `the tab drew again from a new session ${movedMs} ms after its node died`);
  // The same view, the same numbers: nothing on screen was lost.
  assert.equal(await page.getAttribute(sel('breakdown-table'), 'data-total'), symbols);
  tabSessionId = (await page.getAttribute(sel('app'), 'data-session-id'))!;
  const now = (await browserSessions(browser, server.url)).find((s) => s.id === tabSessionId)!;
  const moved = placementOf(now.pid!).node;
  assert.notEqual(moved, lost, 'the new session is on a surviving node');
  assert.equal((await browserSessions(browser, server.url)).find((s) => s.id === old.id)?.reason, 'unresponsive');
  process.stdout.write(`# failover: node ${lost} killed, tab drawn again on ${moved} after ${movedMs} ms\n`);
});

test('SIGKILL of the control server leaves no session process and no job', { skip, timeout: 120_000 }, async () => {
  // Its own cluster room: the sessions of the tests above end, their jobs with them.
  await server.close();
  assert.ok(await eventually(async () => (await sessionJobs()).length === 0, 15_000), 'no job left by the in-process server');
  const serve = await startServeCli([
    '--runtime', 'slurm', '--cluster-address', cluster.controlAddress, '--slurm-partition', cluster.partition,
    '--session-memory', SESSION_MEMORY, '--pool-size', '0', '--max-sessions', '4',
  ], cluster.env);
  const tab = new ApiCaller(serve.url);
  const created = await tab.createSession({ key: 'orphan-to-be' });
  const pid = (await tab.listSessions()).find((s) => s.id === created.id)!.pid!;
  assert.ok(processAlive(pid));
  const jobsBefore = (await sessionJobs()).length;
  serve.child.kill('SIGKILL');
  const killedAt = Date.now();
  assert.ok(await eventually(() => !processAlive(pid), 10_000), 'the session process ended');
  assert.ok(await eventually(async () => (await sessionJobs()).length === jobsBefore - 1, 15_000), 'its job left the queue');
  const goneMs = Date.now() - killedAt;
  process.stdout.write(`# control server SIGKILL: session and job gone after ${goneMs} ms\n`);
});
