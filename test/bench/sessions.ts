// `npm run bench:sessions [-- --scale large|demo]`: the session control plane against its budgets.
//
// 1. spawn -> ready p50/p95 over 30+ spawns: POST /api/sessions with a fresh key until the reply
//    says ready, from the warm pool and with the pool disabled (cold), and in the same run the
//    floor of a cold spawn: a bare `node` child that imports @duckdb/node-api, opens the same
//    store READ_ONLY, runs one query and says so.
// 2. tab open -> first chart drawn, in Chromium (performance.now() at uPlot's first draw).
// 3. idle RSS of one session on the store, after its first answers.
// 4. twenty sessions at once, each a tab running the same scripted drill-down: total RSS and p95
//    latency (request sent -> Arrow decoded), against one session alone running the script.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureFixtures, repoRoot, type FixtureScale } from '../../fixtures/generate.js';
import { startControlServer, type ControlServer } from '../../server/control/app.js';
import type { SessionInfo } from '../../shared/protocol.js';
import { launchBrowser } from '../support/browser.js';
import { SessionClient, createSession } from '../support/session-client.js';
import { percentile, summary } from './stats.js';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: 'large' },
    spawns: { type: 'string', default: '30' },
    tabs: { type: 'string', default: '10' },
    concurrent: { type: 'string', default: '20' },
    interactions: { type: 'string', default: '40' },
    'session-memory': { type: 'string', default: '192MB' },
  },
});
const scale = args.scale as FixtureScale;
const SPAWNS = Number(args.spawns);
const TABS = Number(args.tabs);
const CONCURRENT = Number(args.concurrent);
const INTERACTIONS = Number(args.interactions);
const SESSION_MEMORY = args['session-memory']!;
const CLIENT_DIR = fileURLToPath(new URL('../../client/', import.meta.url));
const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startServer(poolSize: number, input: string): Promise<ControlServer> {
  return startControlServer({
    host: '127.0.0.1',
    port: 0,
    datasets: [{ id: scale, input }],
    storeDir: path.join(repoRoot(), '.cache', 'stores'),
    clientDir: CLIENT_DIR,
    poolSize,
    logger: false,
    limits: {
      maxSessions: CONCURRENT + 2,
      idleTimeoutMs: 120_000,
      lifetimeMs: 0,
      startupTimeoutMs: 60_000,
      terminateGraceMs: 2000,
      memoryLimit: SESSION_MEMORY,
      threads: 1,
      memoryBudgetBytes: 20 * 2 ** 30,
    },
  });
}

async function sessions(server: ControlServer): Promise<SessionInfo[]> {
  return (await fetch(`${server.url}/api/sessions`)).json() as Promise<SessionInfo[]>;
}

async function endSession(server: ControlServer, id: string): Promise<void> {
  await fetch(`${server.url}/api/sessions/${id}`, { method: 'DELETE' });
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

async function coldFloor(storePath: string): Promise<number[]> {
  const script = `
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(${JSON.stringify(storePath)}, { access_mode: 'READ_ONLY' });
    const connection = await instance.connect();
    await connection.run('SELECT 1');
    process.stdout.write('open');`;
  const samples: number[] = [];
  for (let i = 0; i < SPAWNS; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.once('data', () => {
        samples.push(performance.now() - started);
        child.kill();
      });
      child.once('exit', () => resolve());
      child.once('error', reject);
    });
  }
  return samples;
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
 * A tab's drill-down: the whole history, then zooms into a year, a month, a week and a day and
 * back, per run and for both runs, at chart widths a screen asks for.
 */
function drillDown(client: SessionClient, seed: number): (() => Promise<number>)[] {
  const range = client.hello.dataset.range!;
  const runs = client.hello.dataset.runs.map((run) => run.runId);
  const span = range.to - range.from;
  let state = seed * 7919 + 1;
  const random = () => ((state = (state * 48271) % 2147483647) / 2147483647);
  const steps: (() => Promise<number>)[] = [];
  for (let i = 0; i < INTERACTIONS; i++) {
    const zoom = [1, 0.5, 1 / 24, 1 / 100, 1 / 500][i % 5]!;
    const from = range.from + random() * span * (1 - zoom);
    const params = {
      width: [1200, 900, 1600][i % 3]!,
      ...(zoom < 1 ? { from, to: from + span * zoom } : {}),
      ...(i % 2 === 0 ? { runs: [runs[i % runs.length]!] } : {}),
    };
    steps.push(async () => {
      const answer = await client.request({ query: 'equity', params } as never);
      if (answer.error) throw new Error(`equity ${JSON.stringify(params)}: ${answer.error.message}`);
      return answer.elapsedMs;
    });
  }
  return steps;
}

async function runDrillDown(server: ControlServer, key: string, seed: number): Promise<{ id: string; latencies: number[] }> {
  const created = await createSession(server.url, { key });
  const client = await SessionClient.connect(server.url, created.wsUrl);
  const latencies: number[] = [];
  for (const step of drillDown(client, seed)) latencies.push(await step());
  await client.close();
  return { id: created.id, latencies };
}

function controlRss(): number {
  return Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
}

// ---------------------------------------------------------------------------------------------
console.log(`bench:sessions on scale ${scale} (session memory_limit ${SESSION_MEMORY}, 1 DuckDB thread each)`);
const input = await ensureFixtures(scale, 42);
const warm = await startServer(2, input);
const storePath = await warm.datasets.whenReady(scale);
console.log(`store: ${storePath}\n`);

const warmSamples = await spawnToReady(warm, 700);
const tabSamples = await tabOpenToFirstChart(warm);

// Idle RSS: one session that has answered a drill-down, then sits idle.
const alone = await runDrillDown(warm, 'alone', 1);
await sleep(2000);
const idleRss = (await sessions(warm)).find((s) => s.id === alone.id)!.rssBytes!;
await endSession(warm, alone.id);

// Twenty at once.
await sleep(1000);
const crowd = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => runDrillDown(warm, `crowd-${i}`, i + 2)));
await sleep(1500); // stats and RSS settle
const crowdInfos = (await sessions(warm)).filter((s) => crowd.some((c) => c.id === s.id));
const crowdRss = crowdInfos.reduce((sum, s) => sum + (s.rssBytes ?? 0), 0);
const controlBytes = controlRss();
await warm.close();

const cold = await startServer(0, input);
await cold.datasets.whenReady(scale);
const coldSamples = await spawnToReady(cold, 0);
await cold.close();
const floorSamples = await coldFloor(storePath);

const crowdLatencies = crowd.flatMap((c) => c.latencies);
console.log(summary('spawn -> ready, warm pool', warmSamples));
console.log(summary('spawn -> ready, cold (pool disabled)', coldSamples));
console.log(summary('floor: bare node + DuckDB import + open store', floorSamples));
console.log(summary('tab open -> first chart drawn (Chromium)', tabSamples));
console.log(summary('drill-down query, one session alone', alone.latencies));
console.log(summary(`drill-down query, ${CONCURRENT} sessions at once`, crowdLatencies));
console.log('');
console.log(`idle session RSS:                          ${(idleRss / MiB).toFixed(0)} MiB (budget 150 MiB)`);
console.log(
  `${CONCURRENT} sessions: total session RSS ${(crowdRss / MiB).toFixed(0)} MiB + control server ${(controlBytes / MiB).toFixed(0)} MiB ` +
    `= ${((crowdRss + controlBytes) / 2 ** 30).toFixed(2)} GiB (budget 6 GiB); ${crowdInfos.length}/${CONCURRENT} answered every step`,
);
const median = (xs: number[]) => percentile(xs, 50);
console.log(`warm spawn p50 / cold floor p50:           ${(median(warmSamples) / median(floorSamples)).toFixed(2)}`);
console.log(`cold spawn p50 / cold floor p50:           ${(median(coldSamples) / median(floorSamples)).toFixed(2)}`);
console.log(`p95 with ${CONCURRENT} sessions / p95 alone:       ${(percentile(crowdLatencies, 95) / percentile(alone.latencies, 95)).toFixed(2)}`);
