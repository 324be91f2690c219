// `npm run bench:queries -- --scale large`: a scripted drill-down of at least 200 interactions
// (overview, zooms, sector and symbol drills, trade-window scrolls, filters, time breakdowns)
// driven by a Node WebSocket client against a real control server and session process, each
// request timed from sent to Arrow decoded; the same script against the hand-written baseline
// (test/bench/baseline/server.ts: DuckDB over the raw Parquet, JSON over HTTP) in the same run,
// each request timed from sent to JSON parsed. An interaction's requests go out together, as a
// UI sends them. Then raw streaming: a 5M-row export through the socket, rows/s, next to DuckDB's
// own time for the same query.
//
// Flags: --scale tiny|demo|large|sweep|sweep-small (default large, generated on first use; the
// sweeps, with more runs than the UI pins, run drill-script.ts's sweep drill), --seed N, --interactions N (default 240),
// --baseline-every N (run the baseline on every Nth interaction; default 1 = all),
// --no-baseline, --threads N (DuckDB threads of the session and of the baseline, default 2),
// --memory SIZE (session DuckDB memory_limit; default what `tickscope serve` gives a session on this machine),
// --export-rows N (default 5000000), --slowest (list the slowest requests).
//
// Each interaction is run twice against Tickscope: its requests one after the other (each
// request's own latency: the table compared with the baseline, which runs them one after the
// other too) and all sent together as a UI sends them (latency including the wait for the
// interaction's other requests on the session's two DuckDB threads).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureFixtures, fixtureCacheDir, repoRoot, type FixtureScale } from '../../fixtures/generate.js';
import { startControlServer, type ControlServer } from '../../server/control/app.js';
import { DEFAULT_MAX_SESSIONS, defaultMemoryBudget, defaultSessionMemory } from '../../server/control/memory-budget.js';
import { planRequest } from '../../server/session/queries/index.js';
import { openStore } from '../../server/session/store.js';
import type { QueryRequest, Timings } from '../../shared/messages.js';
import { pageCacheText } from '../support/proc.js';
import { SessionClient, createSession, type Answer } from '../support/session-client.js';
import { drillScript, type Ask } from './drill-script.js';
import { besideFloor, coldFloor, floorText } from './cold-floor.js';
import { percentile } from './stats.js';


// ---------------------------------------------------------------------------------------------
// Flags

// Strict: a misspelt or unknown flag (--help included) stops with node's own message, where a
// silently ignored one ran the whole bench, baseline included (15 minutes on `large`).
const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: 'large' },
    seed: { type: 'string' },
    interactions: { type: 'string', default: '240' },
    'baseline-every': { type: 'string', default: '1' },
    'no-baseline': { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    memory: { type: 'string' },
    'export-rows': { type: 'string', default: '5000000' },
    slowest: { type: 'boolean', default: false },
  },
});
const scale = args.scale as FixtureScale;
const seed = Number(args.seed ?? (scale === 'tiny' ? '7' : '42'));
const interactionCount = Number(args.interactions);
const baselineEvery = args['no-baseline'] ? 0 : Number(args['baseline-every']);
const threads = Number(args.threads);
const memory = args.memory ?? defaultSessionMemory(DEFAULT_MAX_SESSIONS, defaultMemoryBudget());
const exportRows = Number(args['export-rows']);

// ---------------------------------------------------------------------------------------------
// Setup

const input = fixtureCacheDir(scale, seed);
if (!existsSync(input)) {
  console.log(`generating the ${scale} fixture into ${input} (minutes for large)...`);
  await ensureFixtures(scale, seed);
}
console.log(`dataset: ${scale} (seed ${seed}) at ${input}`);
const started = performance.now();
const server: ControlServer = await startControlServer({
  host: '127.0.0.1',
  port: 0,
  datasets: [{ id: scale, input }],
  storeDir: path.join(repoRoot(), '.cache', 'stores'),
  poolSize: 1,
  logger: false,
  limits: {
    maxSessions: 4,
    idleTimeoutMs: 600_000,
    lifetimeMs: 0,
    startupTimeoutMs: 60_000,
    terminateGraceMs: 2000,
    memoryLimit: memory,
    threads,
    memoryBudgetBytes: 16 * 2 ** 30,
  },
});
const storePath = await server.datasets.whenReady(scale);
console.log(`store: ${storePath} (ready after ${((performance.now() - started) / 1000).toFixed(1)} s; ${pageCacheText(storePath)})`);
const { wsUrl } = await createSession(server.url, { key: 'bench-queries' });
const client = await SessionClient.connect(server.url, wsUrl);
const dataset = client.hello.dataset;
console.log(
  `${dataset.runs.length} runs, ${dataset.symbolCount} symbols, ${dataset.barCount.toLocaleString('en-US')} bars, ` +
    `${dataset.tradeCount.toLocaleString('en-US')} trades, ${dataset.dayCount} days; session: ${threads} DuckDB threads, memory_limit ${memory}`,
);

let baseline: { child: ChildProcess; port: number } | null = null;
if (baselineEvery > 0) {
  const capitals = Object.fromEntries(dataset.runs.map((r) => [r.runId, r.capital ?? 1]));
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(new URL('./baseline/server.js', import.meta.url)),
      input,
      JSON.stringify(capitals),
      String(threads),
      '4GB',
      JSON.stringify(Object.fromEntries(dataset.runs.map((r) => [r.runId, r.params]))),
    ],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (data: Buffer) => {
      const match = /listening (\d+)/.exec(String(data));
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`baseline exited with ${code}`)));
  });
  baseline = { child, port };
  console.log(`baseline: DuckDB over ${input} (raw Parquet), JSON over HTTP on port ${port}, ${threads} threads, memory_limit 4GB`);
}

// ---------------------------------------------------------------------------------------------
// The script (drill-script.ts)

const script = await drillScript(client, interactionCount, seed);

// ---------------------------------------------------------------------------------------------
// Running it

interface Sample {
  ask?: Ask;
  query: string;
  ms: number;
  bytes: number;
  rows: number;
  serverMs?: number;
  /** Before the session-side time: an idle shrink or reopen, then a connection (Timings.waitMs). */
  waitMs?: number;
  /** The session's own split of serverMs (Timings). */
  timings?: Timings;
}

async function askTickscope(ask: Ask): Promise<Sample> {
  const answer: Answer = await client.request(ask);
  if (answer.error) throw new Error(`${ask.query} ${JSON.stringify(ask.params)}: ${answer.error.message}`);
  const t = answer.done!.timings;
  return { ask, query: ask.query, ms: answer.elapsedMs, bytes: answer.wireBytes, rows: answer.done!.rows, serverMs: t.planMs + t.executeMs + t.encodeMs, waitMs: t.waitMs ?? 0, timings: t };
}

async function askBaseline(ask: Ask): Promise<Sample> {
  const start = performance.now();
  const { status, text } = await postWithoutTimeout(baseline!.port, JSON.stringify(ask));
  const body = JSON.parse(text) as { rows?: unknown[]; error?: string };
  if (status !== 200) throw new Error(`baseline ${ask.query}: ${body.error}`);
  return { query: ask.query, ms: performance.now() - start, bytes: Buffer.byteLength(text), rows: body.rows?.length ?? 0 };
}

// Not fetch(): undici gives up after 300 s without response headers, and the baseline's first
// scans of the large dataset's raw Parquet take longer than that on a loaded machine.
function postWithoutTimeout(port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', (error) => reject(new Error(`baseline on port ${port}: ${error.message}`)));
    request.end(body);
  });
}

const mine: Sample[] = [];
const together: Sample[] = [];
const theirs: Sample[] = [];

// Warm-up, unmeasured: page caches and DuckDB's own caches for both (the overview reads every
// file of the dataset on the baseline's side).
for (const interaction of script.slice(0, 3)) await Promise.all(interaction.asks.map(askTickscope));
if (baseline) await Promise.all(script[0]!.asks.map(askBaseline));

console.log(`\nscript: ${script.length} interactions, ${script.reduce((n, i) => n + i.asks.length, 0)} requests`);
const kinds = new Map<string, number>();
for (const i of script) kinds.set(i.kind, (kinds.get(i.kind) ?? 0) + 1);
console.log(`  ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`);
const runStarted = performance.now();
async function oneByOne(asks: Ask[], ask: (a: Ask) => Promise<Sample>): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const a of asks) out.push(await ask(a));
  return out;
}
for (const [index, interaction] of script.entries()) {
  mine.push(...(await oneByOne(interaction.asks, askTickscope)));
  together.push(...(await Promise.all(interaction.asks.map(askTickscope))));
  if (baseline && index % baselineEvery === 0) theirs.push(...(await oneByOne(interaction.asks, askBaseline)));
  if ((index + 1) % 20 === 0) {
    console.log(`  ${index + 1}/${script.length} interactions (${((performance.now() - runStarted) / 1000).toFixed(0)} s)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Raw streaming: an export of exportRows bar rows through the socket vs DuckDB's own time.

const exportAsk: Ask = { query: 'export', params: { table: 'bars', runs: [dataset.runs[0]!.runId], limit: exportRows } };
const streamed = await client.request(exportAsk);
if (streamed.error) throw new Error(streamed.error.message);
const tradesExport = await client.request({ query: 'export', params: { table: 'trades' } });

const duck = await openStore({ storePath, memoryLimit: memory, threads });
const connection = await duck.instance.connect();
async function duckdbOwnTime(ask: Ask): Promise<{ ms: number; rows: number }> {
  const plan = await planRequest({ type: 'request', id: 1, ...ask } as QueryRequest, duck.catalog)(
    async (sql, params) => (await connection.runAndReadAll(sql, params)).getRows(),
  );
  const statement = plan.statements[0]!;
  const start = performance.now();
  const result = await connection.stream(statement.sql, statement.params);
  let rows = 0;
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) rows += chunk.rowCount;
  return { ms: performance.now() - start, rows };
}
const ownBars = await duckdbOwnTime(exportAsk);
const ownTrades = await duckdbOwnTime({ query: 'export', params: { table: 'trades' } });
connection.closeSync();
duck.close();

// ---------------------------------------------------------------------------------------------
// Report

const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-').padStart(8);
const kb = (x: number) => (x / 1024).toFixed(1).padStart(9);
const order = ['summary', 'equity', 'exposure', 'breakdown', 'series', 'trades', 'histogram', 'heatmap', 'rolling', 'scatter', 'episodes', 'attribution', 'risk', 'benchmark', 'leaderboard', 'surface', 'rundiff'];
console.log(`\n${scale}: one request at a time; request sent -> Arrow decoded (Tickscope) vs sent -> JSON parsed (baseline), ms`);
console.log(
  `${'query'.padEnd(10)}${'n'.padStart(5)}${'p50'.padStart(8)}${'p95'.padStart(8)}${'max'.padStart(8)}${'avg KB'.padStart(9)}` +
    ` |${'n'.padStart(5)}${'p50'.padStart(8)}${'p95'.padStart(8)}${'max'.padStart(8)}${'avg KB'.padStart(9)} |${'p95 ratio'.padStart(10)}`,
);
const all = (xs: Sample[]) => xs.filter((s) => s.query !== 'export');
for (const query of [...order, 'ALL']) {
  const a = query === 'ALL' ? all(mine) : mine.filter((s) => s.query === query);
  const b = query === 'ALL' ? all(theirs) : theirs.filter((s) => s.query === query);
  if (a.length === 0) continue;
  const ms = a.map((s) => s.ms);
  const bms = b.map((s) => s.ms);
  const ratio = b.length ? percentile(bms, 95) / percentile(ms, 95) : NaN;
  console.log(
    `${query.padEnd(10)}${String(a.length).padStart(5)}${f(percentile(ms, 50))}${f(percentile(ms, 95))}${f(Math.max(...ms))}${kb(a.reduce((n, s) => n + s.bytes, 0) / a.length)}` +
      ` |${String(b.length).padStart(5)}${f(percentile(bms, 50))}${f(percentile(bms, 95))}${f(b.length ? Math.max(...bms) : NaN)}${kb(b.length ? b.reduce((n, s) => n + s.bytes, 0) / b.length : NaN)}` +
      ` |${(Number.isFinite(ratio) ? `${ratio.toFixed(1)}x` : '-').padStart(10)}`,
  );
}
console.log(`\n${scale}: each interaction's requests sent together (as the UI does), Tickscope, ms`);
console.log(`${'query'.padEnd(10)}${'n'.padStart(5)}${'p50'.padStart(8)}${'p95'.padStart(8)}${'max'.padStart(8)}`);
for (const query of [...order, 'ALL']) {
  const a = (query === 'ALL' ? all(together) : together.filter((s) => s.query === query)).map((s) => s.ms);
  if (a.length) console.log(`${query.padEnd(10)}${String(a.length).padStart(5)}${f(percentile(a, 50))}${f(percentile(a, 95))}${f(Math.max(...a))}`);
}
const total = (xs: Sample[]) => xs.reduce((n, s) => n + s.bytes, 0);
console.log(`bytes on the wire: Tickscope ${(total(mine) / 2 ** 20).toFixed(1)} MB for ${mine.length} answers; baseline ${(total(theirs) / 2 ** 20).toFixed(1)} MB for ${theirs.length}`);
const serverP95 = percentile(all(mine).map((s) => s.serverMs ?? 0), 95);
console.log(`session-side time (plan + execute + encode) p95: ${serverP95.toFixed(1)} ms`);
// A run diff (two runs' trades matched, the difference attributed) has its own target: 150 ms.
const p95ByQuery = [...new Set(all(mine).map((s) => s.query))]
  .filter((q) => q !== 'rundiff')
  .map((query) => ({ query, p95: percentile(mine.filter((s) => s.query === query).map((s) => s.ms), 95) }));
const worst = p95ByQuery.reduce((a, b) => (b.p95 > a.p95 ? b : a));
console.log(`every interactive query p95 < 50 ms (one at a time): ${p95ByQuery.every((x) => x.p95 < 50) ? 'yes' : 'NO'} (worst ${worst.p95.toFixed(1)} ms)`);
const rundiffs = mine.filter((s) => s.query === 'rundiff').map((s) => s.ms);
if (rundiffs.length) console.log(`rundiff p95 < 150 ms: ${percentile(rundiffs, 95) < 150 ? 'yes' : 'NO'} (${percentile(rundiffs, 95).toFixed(1)} ms)`);
const ratios = [...new Set(all(theirs).map((s) => s.query))].map(
  (q) => percentile(theirs.filter((s) => s.query === q).map((s) => s.ms), 95) / percentile(mine.filter((s) => s.query === q).map((s) => s.ms), 95),
);
if (ratios.length) console.log(`at least 20x faster than the baseline at p95, every query: ${ratios.every((r) => r >= 20) ? 'yes' : 'NO'} (lowest ${Math.min(...ratios).toFixed(1)}x)`);
const load = (await import('node:os')).loadavg();
console.log(`machine load average at the end (1/5/15 min): ${load.map((x) => x.toFixed(2)).join(' / ')} on ${(await import('node:os')).availableParallelism()} cores`);
console.log(`store at the end: ${pageCacheText(storePath)}`);

if (args.slowest) {
  console.log('\nslowest Tickscope requests (ms total / session-side = plan + execute + encode / waiting before it):');
  const f = (x: number | undefined, width: number) => (x ?? 0).toFixed(1).padStart(width);
  const line = (s: Sample) =>
    `  ${f(s.ms, 7)} ${f(s.serverMs, 7)} = ${f(s.timings?.planMs, 5)} + ${f(s.timings?.executeMs, 5)} + ${f(s.timings?.encodeMs, 5)} ${f(s.waitMs, 6)}  ${s.query} ${JSON.stringify(s.ask?.params).slice(0, 150)}`;
  for (const s of [...all(mine)].sort((a, b) => b.ms - a.ms).slice(0, 15)) {
    console.log(line(s));
  }
  console.log('the slowest three of each query:');
  for (const query of order) {
    for (const s of all(mine).filter((x) => x.query === query).sort((a, b) => b.ms - a.ms).slice(0, 3)) {
      console.log(line(s));
    }
  }
}

const rate = (rows: number, ms: number) => `${((rows / ms) * 1000 / 1e6).toFixed(2)}M rows/s`;
console.log(`\nraw streaming, export of ${streamed.done!.rows.toLocaleString('en-US')} bar rows: ${rate(streamed.done!.rows, streamed.elapsedMs)} over the socket, Arrow decoded ` +
  `(${(streamed.elapsedMs / 1000).toFixed(2)} s, ${(streamed.wireBytes / 2 ** 20).toFixed(0)} MB, ${streamed.done!.batches} batches, first batch after ${streamed.firstBatchMs.toFixed(0)} ms)`);
const sessionSide = streamed.done!.timings;
console.log(`  in the session: ${sessionSide.executeMs.toFixed(0)} ms waiting on DuckDB's chunks, ${sessionSide.encodeMs.toFixed(0)} ms encoding them as Arrow`);
console.log(`  DuckDB's own time for the same query: ${rate(ownBars.rows, ownBars.ms)} (${(ownBars.ms / 1000).toFixed(2)} s); socket path / DuckDB = ${(streamed.elapsedMs / ownBars.ms).toFixed(2)}x`);
console.log(`export of all ${tradesExport.done!.rows.toLocaleString('en-US')} trades: ${rate(tradesExport.done!.rows, tradesExport.elapsedMs)} over the socket; DuckDB alone ${rate(ownTrades.rows, ownTrades.ms)}`);

await client.close();
baseline?.child.kill('SIGTERM');
await server.close();

// The machine's own floor, measured last so that its spawns neither warm nor load the drill-down.
const floor = await coldFloor(storePath);
console.log(`\n${floorText(floor)}`);
console.log(`every query's p95, one at a time: ${besideFloor(percentile(all(mine).map((s) => s.ms), 95), floor)}`);
console.log(`the worst query's p95 (${worst.query}): ${besideFloor(worst.p95, floor)} (target < 50 ms there)`);
