// `npm run bench:capacity [-- --scale large --analysts 1,5,10,20,40 --duration 90]`: how many
// analysts one machine serves. For each K, K simulated analysts work at once, each a Node client
// on the real protocol with its own session (capacity-analyst.ts, a thread each), running the
// scripted drill-down of bench:queries (its own seed) with think times drawn from a seeded uniform
// distribution between --think-min and --think-max seconds (1 and 8), their tabs opened at
// instants spread over the first think time. The control server runs as `tickscope serve` does
// by default (answers shared by the sessions of a store, warm pool of 2, two DuckDB threads a
// session, the memory budget of the machine), with --max-sessions raised to the largest K.
//
// Per K: p50/p95/max of request sent -> Arrow decoded over every answer of the window, the ratio
// of that p95 to one analyst's (the machine's own floor for this load), the machine's CPU busy
// share (/proc/stat) and peak RSS (sessions + this process, which holds the control server and the
// analysts' clients) while they worked; then the largest K whose p95 stays under 150 ms.
// The clients run on this machine too (decoding Arrow, as a browser would elsewhere): their CPU
// is inside the figures, against the product.
//
// Shared answers start empty: the store's answers/ folder is emptied first. The answers of one
// build are kept across runs, and the scripts are seeded, so a second run of the same build used
// to replay requests the first had answered (K = 20 at p95 103 ms, against 400 in the run before
// it on a new build). And each round's analysts have seeds of their own: with seeds per analyst
// index, the first analysts of a round replayed the last round's. What is shared is what analysts
// ask alike (the overview of the whole history), not one analyst's ranges replayed.
import { availableParallelism, loadavg } from 'node:os';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { ensureFixtures, repoRoot, type FixtureScale } from '../../fixtures/generate.js';
import { startControlServer, type ControlServer } from '../../server/control/app.js';
import { defaultMemoryBudget, defaultSessionMemory } from '../../server/control/memory-budget.js';
import { ANSWERS_FOLDER } from '../../server/store/format.js';
import type { SessionInfo } from '../../shared/http-api.js';
import type { AnalystJob, AnalystReport, AnalystStart } from './capacity-analyst.js';
import { cpuTimes, pageCacheText, processRss } from '../support/proc.js';
import { ApiCaller } from '../support/session-client.js';
import { mulberry32 } from '../support/random.js';
import { percentile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: 'large' },
    analysts: { type: 'string', default: '1,5,10,20,40' },
    duration: { type: 'string', default: '90' },
    'think-min': { type: 'string', default: '1' },
    'think-max': { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
  },
});
const scale = args.scale as FixtureScale;
const COUNTS = args.analysts!.split(',').map(Number);
if (COUNTS.some((k) => !Number.isSafeInteger(k) || k < 1)) throw new Error(`--analysts ${args.analysts}: a list of positive integers`);
const WINDOW_MS = Number(args.duration) * 1000;
const THINK_MIN_MS = Number(args['think-min']) * 1000;
const THINK_MAX_MS = Number(args['think-max']) * 1000;
const SEED = Number(args.seed);
const TARGET_P95_MS = 150;
const POOL_SIZE = 2;
// The warm pool's processes count against --max-sessions.
const MAX_SESSIONS = Math.max(...COUNTS) + POOL_SIZE;
const OPERATOR_TOKEN = `bench-capacity-${process.pid}-${Date.now()}`;
const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const budget = defaultMemoryBudget();
const memoryLimit = defaultSessionMemory(MAX_SESSIONS, budget);
const sessionThreads = Math.min(2, availableParallelism());
const input = await ensureFixtures(scale, 42);
const storeDir = path.join(repoRoot(), '.cache', 'stores');
await rm(path.join(storeDir, ANSWERS_FOLDER), { recursive: true, force: true });
const server: ControlServer = await startControlServer({
  answerCache: true,
  host: '127.0.0.1',
  port: 0,
  datasets: [{ id: scale, input }],
  storeDir,
  clientDir: fileURLToPath(new URL('../../web/', import.meta.url)),
  poolSize: POOL_SIZE,
  logger: false,
  adminToken: OPERATOR_TOKEN,
  limits: {
    maxSessions: MAX_SESSIONS,
    idleTimeoutMs: 120_000,
    lifetimeMs: 0,
    startupTimeoutMs: 120_000,
    terminateGraceMs: 2000,
    memoryLimit,
    threads: sessionThreads,
    memoryBudgetBytes: budget,
  },
});
const storePath = await server.datasets.whenReady(scale);
console.log(
  `bench:capacity on ${scale}: ${availableParallelism()} cores; sessions as \`tickscope serve --max-sessions ${MAX_SESSIONS}\` ` +
    `(memory_limit ${memoryLimit}, ${sessionThreads} DuckDB threads, shared answers, warm pool 2)\nstore: ${storePath}\n` +
    `each K: ${WINDOW_MS / 1000} s of drill-down, think times uniform in [${THINK_MIN_MS / 1000}, ${THINK_MAX_MS / 1000}] s (seed ${SEED})\n`,
);

const operator = new ApiCaller(server.url, { authorization: `Bearer ${OPERATOR_TOKEN}` });
const sessions = (): Promise<SessionInfo[]> => operator.listSessions();

/** An analyst's thread: `ready` once its session is up and its script made, `report` at the end. */
function startAnalyst(job: AnalystJob): { worker: Worker; ready: Promise<void>; report: Promise<AnalystReport> } {
  const worker = new Worker(new URL('./capacity-analyst.js', import.meta.url), { workerData: job });
  // Messages are kept as they arrive, synchronously. A worker that posts its report and ends
  // delivers both at once to a busy bench thread (Node drains its messages, then emits 'exit'), and
  // a promise race between the two gave the exit to a report already received: "analyst-20-14
  // exited (0) before it reported" at K=20, twice, from analysts that had reported.
  const inbox: unknown[] = [];
  let waiting: { resolve: (message: unknown) => void; reject: (error: Error) => void } | null = null;
  let ended: Error | null = null;
  worker.on('message', (message: unknown) => {
    const w = waiting;
    waiting = null;
    if (w) w.resolve(message);
    else inbox.push(message);
  });
  const end = (error: Error) => {
    ended ??= error;
    const w = waiting;
    waiting = null;
    w?.reject(ended);
  };
  worker.once('error', (error) => end(new Error(`analyst ${job.key}: ${error.message}`, { cause: error })));
  worker.once('exit', (code) => end(new Error(`analyst ${job.key} exited (${code}) before it reported`)));
  const next = (): Promise<unknown> => {
    if (inbox.length > 0) return Promise.resolve(inbox.shift());
    if (ended) return Promise.reject(ended);
    return new Promise((resolve, reject) => (waiting = { resolve, reject }));
  };
  const ready = next().then(() => undefined);
  const report = ready.then(next).then((message) => {
    void worker.terminate();
    return message as AnalystReport;
  });
  report.catch(() => {}); // awaited after every analyst is ready; a failure before that is reported through `ready`
  return { worker, ready, report };
}

interface Round {
  k: number;
  samples: number[];
  byQuery: Map<string, number[]>;
  interactions: number;
  cpuBusy: number;
  peakRss: number;
  /** The store's share in the page cache as the round's analysts arrived. */
  cached: string;
}

async function round(k: number): Promise<Round> {
  const spread = mulberry32(SEED * 7 + k);
  const jobs = Array.from({ length: k }, (_, i): AnalystJob => ({
    url: server.url,
    key: `analyst-${k}-${i}`,
    seed: SEED * 1_000_000 + k * 1000 + i + 1,
    startDelayMs: spread() * THINK_MAX_MS,
    thinkMinMs: THINK_MIN_MS,
    thinkMaxMs: THINK_MAX_MS,
  }));
  let peakRss = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const pids = (await sessions()).filter((s) => s.pid && s.status !== 'terminated').map((s) => s.pid!);
      peakRss = Math.max(peakRss, pids.reduce((sum, pid) => sum + processRss(pid), processRss(process.pid)));
      await sleep(500);
    }
  })();
  const cached = pageCacheText(storePath);
  const analysts = jobs.map(startAnalyst);
  await Promise.all(analysts.map((a) => a.ready));
  const cpuStart = cpuTimes();
  const start: AnalystStart = { deadline: Date.now() + WINDOW_MS };
  for (const a of analysts) a.worker.postMessage(start);
  const reports = await Promise.all(analysts.map((a) => a.report));
  const cpuEnd = cpuTimes();
  sampling = false;
  await sampler;
  // Every session of the round ends before the next round's analysts arrive.
  const live = async () => (await sessions()).filter((s) => s.key.startsWith(`analyst-${k}-`) && s.status !== 'terminated');
  for (const s of await live()) await operator.deleteSession(s.id);
  while ((await live()).length > 0) await sleep(200);
  const byQuery = new Map<string, number[]>();
  for (const { query, ms } of reports.flatMap((r) => r.samples)) (byQuery.get(query) ?? byQuery.set(query, []).get(query)!).push(ms);
  return {
    k,
    samples: reports.flatMap((r) => r.samples.map((s) => s.ms)),
    byQuery,
    interactions: reports.reduce((n, r) => n + r.interactions, 0),
    cached,
    cpuBusy: (cpuEnd.busy - cpuStart.busy) / Math.max(1, cpuEnd.total - cpuStart.total),
    peakRss,
  };
}

const rounds: Round[] = [];
try {
  for (const k of COUNTS) {
    const started = performance.now();
    rounds.push(await round(k));
    const r = rounds.at(-1)!;
    console.log(`  K=${k}: ${r.interactions} interactions, ${r.samples.length} answers (${((performance.now() - started) / 1000).toFixed(0)} s); store at the start: ${r.cached}`);
  }
} finally {
  await server.close();
}

const f = (x: number, width = 8) => (Number.isFinite(x) ? x.toFixed(1) : '-').padStart(width);
const alone = rounds.find((r) => r.k === 1);
const aloneP95 = alone ? percentile(alone.samples, 95) : Number.NaN;
console.log(`\nrequest sent -> Arrow decoded, ms, per number of analysts K (${scale}, ${availableParallelism()} cores)`);
console.log('    K  answers     p50     p95     max  p95/K=1  CPU busy  peak RSS');
for (const r of rounds) {
  const p95 = percentile(r.samples, 95);
  console.log(
    `${String(r.k).padStart(5)} ${String(r.samples.length).padStart(8)}${f(percentile(r.samples, 50))}${f(p95)}${f(Math.max(...r.samples))}` +
      `${f(p95 / aloneP95, 9)}${`${(r.cpuBusy * 100).toFixed(0)}%`.padStart(10)}${`${(r.peakRss / MiB).toFixed(0)} MiB`.padStart(10)}`,
  );
}
console.log('slowest queries by p95 at each K (n, p95 ms):');
for (const r of rounds) {
  const worst = [...r.byQuery].map(([query, ms]) => ({ query, n: ms.length, p95: percentile(ms, 95) })).sort((a, b) => b.p95 - a.p95).slice(0, 4);
  console.log(`${String(r.k).padStart(5)}  ${worst.map((w) => `${w.query} (${w.n}, ${w.p95.toFixed(0)})`).join(', ')}`);
}
const within = rounds.filter((r) => percentile(r.samples, 95) < TARGET_P95_MS).map((r) => r.k);
const largest = within.length ? Math.max(...within) : 0;
console.log(`largest K with p95 < ${TARGET_P95_MS} ms: ${largest || 'none'} (target: 20 analysts on 2 cores: ${largest >= 20 ? 'met' : 'NOT met'})`);
const [one, five, fifteen] = loadavg();
console.log(`machine load average at the end (1/5/15 min): ${one!.toFixed(2)} / ${five!.toFixed(2)} / ${fifteen!.toFixed(2)} on ${availableParallelism()} cores`);
