// `npm run bench:peers [-- --scale demo|large|both] [--timeout 120]`: the tools an analyst would
// use instead of Tickscope, in the same Chromium (Debian's) and the same run, on the same fixture
// (demo, then large, by default).
//
// - DuckDB-WASM (@duckdb/duckdb-wasm 1.28.0: DuckDB 0.9.1 with Parquet built in; 1.32 fetches its
//   Parquet reader from the internet at run time, 1.28.1-dev258 traps on the first query) over
//   the fixture's Parquet through HTTP range requests: the portfolio's daily equity, P&L by sector,
//   one symbol's bars in one run. One question per tab, each in a fresh Chromium, so a question
//   never reads what another cached and a crash ends only its own question.
// - Perspective (@finos/perspective 3.8.0) loading the trade list (an Arrow IPC file made here from
//   trades.parquet: Perspective reads no Parquet) and sorting it by P&L: tab open -> table loaded,
//   then view -> first 100 rows.
// - Tickscope on the same questions, `tickscope serve`'s defaults without the shared answers
//   (every answer computed): tab open -> the answer in the tab, on the route that asks it (the
//   first chart for the equity, as bench:sessions), and each question alone on an open session
//   (Node client: request sent -> Arrow decoded).
//
// "Tab open" is the navigation start of the measured tab (the page's performance.now() is read
// when the answer is in the page). Before it, an unmeasured tab of the same browser starts the
// tool alone, so that its code is in the browser's cache for all three alike (the data never is:
// it is served uncacheable). Every file the peers need is served by this bench (peers-serve.ts)
// from node_modules and the fixture folder, and Chromium resolves no name but loopback: nothing is
// downloaded at run time. A failure (out of memory, a crashed tab, no answer within --timeout
// seconds of tab open) is the result, and the bench goes on. Memory is the tab's renderer process
// (its workers included) from /proc: VmHWM, the kernel's peak RSS, with VmRSS sampled every 250 ms.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ensureFixtures, readManifest, repoRoot, type FixtureManifest } from '../../fixtures/generate.js';
import { startControlServer, type ControlServer } from '../../server/control/app.js';
import { ArrowBatchEncoder } from '../../server/session/arrow-encoder.js';
import { sqlString } from '../../server/sql/text.js';
import { DEFAULT_MAX_SESSIONS, defaultMemoryBudget, defaultSessionMemory } from '../../server/control/memory-budget.js';
import { errorMessage } from '../../shared/errors.js';
import { CHROMIUM_PATH } from '../support/browser.js';
import { ApiCaller, SessionClient, createSession, rowsOf, type Answer } from '../support/session-client.js';
import { packageDir, startPeerServer, type Mount, type PeerServer, type Traffic } from './peers-serve.js';
import { processMemory } from '../support/proc.js';
import { inFreshTab, isFailure, peerFailure, type Failure, type Outcome, type TabMemory, type TabRun, type TabTarget } from './peers-tab.js';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: 'both' },
    timeout: { type: 'string', default: '120' },
  },
});
const SCALES = { demo: ['demo'], large: ['large'], both: ['demo', 'large'] } as const;
if (!(args.scale! in SCALES)) throw new Error(`--scale ${args.scale}: demo, large or both`);
const scales = SCALES[args.scale as keyof typeof SCALES];
const TIMEOUT_MS = Number(args.timeout) * 1000;
if (!(TIMEOUT_MS > 0)) throw new Error(`--timeout ${args.timeout}: a number of seconds above 0`);

const SEED = 42;
const ROOT = repoRoot();
const PAGE_DIR = path.join(ROOT, 'test', 'bench', 'peers-page');
const DUCKDB_WASM_DIR = path.join(ROOT, 'node_modules', '@duckdb', 'duckdb-wasm');
const PERSPECTIVE_DIR = path.join(ROOT, 'node_modules', '@finos', 'perspective', 'dist');
const ARROW_CACHE_DIR = path.join(ROOT, '.cache', 'peers');
/** The bench lists and ends the sessions it opened, and reads their pids. */
const OPERATOR_TOKEN = `bench-peers-${process.pid}-${Date.now()}`;
const SESSION_THREADS = Math.min(2, availableParallelism());
const MiB = 2 ** 20;
const CHART_WIDTH = 1200;
const TOP_ROWS = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// The fixture

interface Fixture {
  scale: string;
  dir: string;
  manifest: FixtureManifest;
  /** Paths under `dir` of the bars' Parquet files (hive folders run_id=<run>/). */
  barFiles: string[];
  /** The run and symbol of the one-symbol question: the first of each, alphabetically. */
  run: string;
  symbol: string;
}

async function describeFixture(scale: string, dir: string): Promise<Fixture> {
  const manifest = readManifest(dir);
  if (!manifest) throw new Error(`${dir} has no fixture manifest`);
  const runFolders = (await readdir(path.join(dir, 'bars'))).filter((name) => name.startsWith('run_id=')).sort();
  if (runFolders.length === 0) throw new Error(`${dir}/bars has no run_id=<run> folder`);
  const barFiles: string[] = [];
  for (const folder of runFolders) {
    const parts = (await readdir(path.join(dir, 'bars', folder))).filter((name) => name.endsWith('.parquet')).sort();
    barFiles.push(...parts.map((part) => `bars/${folder}/${part}`));
  }
  const symbol = await withDuckDb(async (connection) => {
    const reader = await connection.runAndReadAll(`SELECT min(symbol) FROM read_parquet(${sqlString(path.join(dir, 'symbols.parquet'))})`);
    return String(reader.getColumnsJS()[0]![0]);
  });
  return { scale, dir, manifest, barFiles, run: runFolders[0]!.slice('run_id='.length), symbol };
}

/** `use` on a connection to an in-memory DuckDB (Node), closed after; errors say it was DuckDB. */
async function withDuckDb<T>(use: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return await use(connection);
  } catch (error) {
    throw new Error(`DuckDB (Node): ${errorMessage(error)}`, { cause: error });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * The trade list as Arrow IPC for Perspective, which reads Arrow and not Parquet, encoded by the
 * session's own encoder (one record batch); kept in .cache/peers until trades.parquet changes.
 */
async function tradesArrow(fixture: Fixture): Promise<{ file: string; madeMs: number | null }> {
  const source = path.join(fixture.dir, 'trades', 'trades.parquet');
  const file = path.join(ARROW_CACHE_DIR, `${path.basename(fixture.dir)}-trades.arrows`);
  const made = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null; // not made yet
    throw error;
  });
  if (made && made.mtimeMs >= (await stat(source)).mtimeMs) return { file, madeMs: null };
  const started = performance.now();
  const ipc = await withDuckDb(async (connection) => {
    const result = await connection.stream(`SELECT * FROM read_parquet(${sqlString(source)})`);
    const encoder = new ArrowBatchEncoder(result.columnNames(), result.columnTypes());
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) encoder.append(chunk);
    return encoder.flush();
  });
  await mkdir(ARROW_CACHE_DIR, { recursive: true });
  // Written aside, then renamed: an interrupted bench never leaves half a file that looks current.
  await writeFile(`${file}.partial`, ipc);
  await rename(`${file}.partial`, file);
  return { file, madeMs: performance.now() - started };
}

// ---------------------------------------------------------------------------------------------
// The peers

const QUESTIONS = ['equity', 'sector', 'series'] as const;
type Question = (typeof QUESTIONS)[number];
const QUESTION_LABELS: Record<Question, string> = {
  equity: 'portfolio equity curve',
  sector: 'P&L by sector',
  series: "one symbol's series",
};

/** What a peer page reports (test/bench/peers-page/report.js). */
interface PeerReport {
  done: true;
  error?: string;
  ms: number;
}
interface DuckDbReport extends PeerReport {
  readyMs: number;
  queryMs: number;
  rows: number;
  version: string;
}
interface PerspectiveReport extends PeerReport {
  loadedMs: number;
  tableMs: number;
  sortMs: number;
  rows: number;
  topPnl: number;
  arrowBytes: number;
}

const PEER_DONE = 'window.__peer && window.__peer.done && window.__peer';

/** The DuckDB-WASM questions, in SQL over read_parquet of the files the page registered. */
function duckDbConfig(fixture: Fixture) {
  const bars = `read_parquet([${fixture.barFiles.map(sqlString).join(', ')}], hive_partitioning = true)`;
  const questions: Record<Question, { sql: string; params: string[] }> = {
    // Every bar's P&L, summed per run and day, cumulated: the daily equity of each run.
    equity: {
      sql: `SELECT run_id, day, sum(pnl) OVER (PARTITION BY run_id ORDER BY day) AS equity
            FROM (SELECT run_id, CAST(ts AS DATE) AS day, sum(pnl) AS pnl FROM ${bars} GROUP BY run_id, day)
            ORDER BY run_id, day`,
      params: [],
    },
    sector: {
      sql: `SELECT s.sector, sum(b.pnl) AS pnl FROM ${bars} b JOIN read_parquet('symbols.parquet') s ON b.symbol = s.symbol
            GROUP BY s.sector ORDER BY pnl DESC`,
      params: [],
    },
    series: {
      sql: `SELECT ts, price, position_value, pnl FROM ${bars} WHERE run_id = ? AND symbol = ? ORDER BY ts`,
      params: [fixture.run, fixture.symbol],
    },
  };
  const files = [...fixture.barFiles, 'symbols.parquet'].map((name) => ({ name, url: `/fixture/${name}` }));
  return { files, questions };
}

function peerMounts(fixture: Fixture, tradesFile: string): Mount[] {
  // duckdb-browser.mjs imports apache-arrow 13 (its own copy), which imports flatbuffers and tslib:
  // each is served from where Node resolves it (duckdb.html's import map names them).
  const arrow = packageDir('apache-arrow', DUCKDB_WASM_DIR);
  return [
    { prefix: '/fixture/', dir: fixture.dir, kind: 'data' },
    { prefix: '/data/', dir: path.dirname(tradesFile), kind: 'data' },
    { prefix: '/duckdb-wasm/', dir: DUCKDB_WASM_DIR, kind: 'code' },
    { prefix: '/apache-arrow/', dir: arrow, kind: 'code' },
    { prefix: '/flatbuffers/', dir: packageDir('flatbuffers', arrow), kind: 'code' },
    { prefix: '/tslib/', dir: packageDir('tslib', arrow), kind: 'code' },
    { prefix: '/perspective/', dir: PERSPECTIVE_DIR, kind: 'code' },
    { prefix: '/page/', dir: PAGE_DIR, kind: 'code' },
  ];
}

interface PeerFigures {
  duckdb: Record<Question, TabRun<DuckDbReport> & { traffic: Traffic }>;
  perspective: TabRun<PerspectiveReport> & { traffic: Traffic };
  problems: string[];
}

async function measurePeers(fixture: Fixture, tradesFile: string): Promise<PeerFigures> {
  const config = { duckdb: duckDbConfig(fixture), perspective: { trades: `/data/${path.basename(tradesFile)}` } };
  const server = await startPeerServer(peerMounts(fixture, tradesFile), config);
  try {
    const duckdb = {} as PeerFigures['duckdb'];
    for (const question of QUESTIONS) {
      duckdb[question] = await peerTab<DuckDbReport>(server, `/page/duckdb.html?q=${question}`, '/page/duckdb.html?q=engine');
      console.log(`  DuckDB-WASM, ${QUESTION_LABELS[question]}: ${figureOrFailure(duckdb[question].outcome, (r) => r.ms)}`);
    }
    const perspective = await peerTab<PerspectiveReport>(server, '/page/perspective.html', '/page/perspective.html?engine');
    console.log(`  Perspective, trade list loaded and sorted: ${figureOrFailure(perspective.outcome, (r) => r.ms)}`);
    return { duckdb, perspective, problems: server.problems };
  } finally {
    await server.close();
  }
}

/**
 * A peer page in a fresh tab, after its engine alone in a warm-up tab, with the traffic of the
 * measured tab alone; the error the page reports is its outcome.
 */
async function peerTab<T extends PeerReport>(server: PeerServer, page: string, warmUpPage: string): Promise<TabRun<T> & { traffic: Traffic }> {
  const url = `${server.url}${page}`;
  const judge = (report: T): Outcome<T> => (report.error === undefined ? report : peerFailure(url, report.error));
  // The warm-up tab's traffic is not the measured tab's: its count is dropped.
  const dropWarmUpTraffic = async () => void server.takeTraffic();
  const run = await inFreshTab<T>({
    measured: { url, answer: PEER_DONE },
    warmUp: { url: `${server.url}${warmUpPage}`, answer: PEER_DONE },
    timeoutMs: TIMEOUT_MS,
    judge,
    beforeMeasure: dropWarmUpTraffic,
  });
  return { ...run, traffic: server.takeTraffic() };
}

// ---------------------------------------------------------------------------------------------
// Tickscope

interface SessionAnswer {
  ms: number;
  rows: number;
  wireBytes: number;
}

interface TickscopeFigures {
  /** Store ready after this long, and whether it had to be prepared now (not found in .cache/stores). */
  store: { ms: number; prepared: boolean };
  tabs: Record<Question | 'trades', TabRun<{ ms: number }>>;
  session: Record<Question | 'trades', Outcome<SessionAnswer>>;
  /** The best trade's P&L as the trades answer has it (checked against Perspective's). */
  topPnl: number | null;
  sessionHwmBytes: Outcome<number>;
}

/** Tickscope's routes that ask each question when a tab opens on them, and how the tab says it has the answer. */
function tickscopeTabs(fixture: Fixture, url: string): Record<Question | 'trades', TabTarget> {
  // window.__tickscope.answers: each answer the views got, at performance.now() (client/src/perf.ts).
  const answerAt = (query: string) =>
    `(() => { const a = ((window.__tickscope && window.__tickscope.answers) || []).find((x) => x.query === '${query}' && !x.cached); return a && { ms: a.at }; })()`;
  const symbol = new URLSearchParams({ view: 'symbol', symbol: fixture.symbol, runs: fixture.run });
  return {
    // What bench:sessions measures: tab open -> the first chart (the portfolio's equity) drawn.
    equity: { url: `${url}/`, answer: 'window.__tickscope && window.__tickscope.firstChartMs > 0 && { ms: window.__tickscope.firstChartMs }' },
    sector: { url: `${url}/?view=sectors`, answer: answerAt('breakdown') },
    series: { url: `${url}/?${symbol}`, answer: answerAt('series') },
    trades: { url: `${url}/?view=trades&sort=pnl.desc`, answer: answerAt('trades') },
  };
}

async function startTickscope(fixture: Fixture, onDatasetReady: (fields: { reused: boolean }) => void): Promise<ControlServer> {
  const budget = defaultMemoryBudget();
  return startControlServer({
    host: '127.0.0.1',
    port: 0,
    datasets: [{ id: fixture.scale, input: fixture.dir }],
    storeDir: path.join(ROOT, '.cache', 'stores'),
    clientDir: fileURLToPath(new URL('../../web/', import.meta.url)),
    // `tickscope serve`'s defaults, but every answer computed: none read from an earlier session's.
    poolSize: 2,
    answerCache: false,
    adminToken: OPERATOR_TOKEN,
    logger: { level: 'info', stream: { write: (line) => readServerLog(line, onDatasetReady) } },
    limits: {
      maxSessions: DEFAULT_MAX_SESSIONS,
      idleTimeoutMs: 60_000,
      lifetimeMs: 0,
      startupTimeoutMs: 30_000,
      terminateGraceMs: 3000,
      memoryLimit: defaultSessionMemory(DEFAULT_MAX_SESSIONS, budget),
      threads: SESSION_THREADS,
      memoryBudgetBytes: budget,
    },
  });
}

/** The control server's log: whether the store was prepared now; warnings and errors go to stderr. */
function readServerLog(line: string, onDatasetReady: (fields: { reused: boolean }) => void): void {
  const entry = JSON.parse(line) as { level: number; event?: string; reused?: boolean };
  if (entry.event === 'dataset.ready') onDatasetReady({ reused: entry.reused === true });
  if (entry.level >= 40) process.stderr.write(`tickscope: ${line}`);
}

async function measureTickscope(fixture: Fixture): Promise<TickscopeFigures> {
  const dataset: { prepared: boolean | null } = { prepared: null };
  const server = await startTickscope(fixture, ({ reused }) => (dataset.prepared = !reused));
  try {
    const started = performance.now();
    await server.datasets.whenReady(fixture.scale);
    // Logged before whenReady resolves (dataset-catalog.ts): its absence is a change to look at.
    if (dataset.prepared === null) throw new Error('the control server logged no dataset.ready event: whether the store was prepared now is unknown');
    const store = { ms: performance.now() - started, prepared: dataset.prepared };
    // The session first: the pool's processes then hold the store open, as they do for the tabs of
    // a server in use (session-manager's preopen).
    const { answers, topPnl, hwmBytes } = await sessionQuestions(server, fixture);
    const tabs = {} as TickscopeFigures['tabs'];
    const targets = tickscopeTabs(fixture, server.url);
    for (const question of [...QUESTIONS, 'trades'] as const) {
      // The warm-up tab's session is ended (its overview would go on asking beside the measured
      // tab), then the pool refills, as between an analyst's tab opens.
      const refill = async () => {
        await endSessions(server);
        await sleep(1000);
      };
      tabs[question] = await inFreshTab<{ ms: number }>({ measured: targets[question], warmUp: targets.equity, timeoutMs: TIMEOUT_MS, beforeMeasure: refill });
      console.log(`  Tickscope, tab open -> ${question}: ${figureOrFailure(tabs[question].outcome, (r) => r.ms)}`);
      await endSessions(server);
    }
    return { store, tabs, session: answers, topPnl, sessionHwmBytes: hwmBytes };
  } finally {
    await server.close();
  }
}

/** The questions one by one on one session (Node client), and the session process's peak RSS. */
async function sessionQuestions(server: ControlServer, fixture: Fixture) {
  const created = await createSession(server.url, { key: `peers-${fixture.scale}` });
  const client = await SessionClient.connect(server.url, created.wsUrl);
  try {
    const asks: Record<Question | 'trades', () => Promise<Answer>> = {
      equity: () => client.ask('equity', { width: CHART_WIDTH }),
      sector: () => client.ask('breakdown', { by: 'sector', limit: 50 }),
      series: () => client.ask('series', { symbol: fixture.symbol, width: CHART_WIDTH, runs: [fixture.run] }),
      trades: () => client.ask('trades', { sort: { column: 'pnl', descending: true }, limit: TOP_ROWS }),
    };
    const answers = {} as TickscopeFigures['session'];
    let topPnl: number | null = null;
    for (const [question, ask] of Object.entries(asks) as [Question | 'trades', () => Promise<Answer>][]) {
      const answer = await ask();
      answers[question] = answer.error
        ? { failed: 'error', detail: `Tickscope session, ${question}: ${answer.error.message}` }
        : { ms: answer.elapsedMs, rows: answer.tables.reduce((sum, t) => sum + t.numRows, 0), wireBytes: answer.wireBytes };
      if (question === 'trades' && !answer.error) topPnl = Number(rowsOf(answer)[0]?.['pnl']);
      console.log(`  Tickscope, session, ${question}: ${figureOrFailure(answers[question], (a) => a.ms)}`);
    }
    return { answers, topPnl, hwmBytes: await sessionHwm(server, created.id) };
  } finally {
    await client.close();
    await endSessions(server);
  }
}

/** The bench as the operator of `server`: it lists and ends every session. */
const operatorOf = (server: ControlServer) => new ApiCaller(server.url, { authorization: `Bearer ${OPERATOR_TOKEN}` });

async function sessionHwm(server: ControlServer, id: string): Promise<Outcome<number>> {
  const pid = (await operatorOf(server).listSessions()).find((s) => s.id === id)?.pid;
  const memory = pid ? processMemory(pid) : null;
  return memory ? memory.hwm : { failed: 'unknown', detail: `session ${id}: no live process to read VmHWM from (pid ${pid ?? 'none'})` };
}

/** Ends every session (the tabs' and the script's): each measurement starts from the warm pool. */
async function endSessions(server: ControlServer): Promise<void> {
  const operator = operatorOf(server);
  for (const session of await operator.listSessions()) await operator.deleteSession(session.id);
}

// ---------------------------------------------------------------------------------------------
// The report

const ms = (value: number) => (value < 1000 ? `${value.toFixed(1)} ms` : `${(value / 1000).toFixed(1)} s`);
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

function figureOrFailure<T>(outcome: Outcome<T>, figure: (value: T) => number): string {
  return isFailure(outcome) ? outcome.failed : ms(figure(outcome));
}

/** A table cell: a number (ms or bytes), a failure, or nothing asked. */
type Cell = { value: number } | Failure | null;

function cell<T>(outcome: Outcome<T>, figure: (value: T) => number): Cell {
  return isFailure(outcome) ? outcome : { value: figure(outcome) };
}

interface Row {
  label: string;
  duckdb: Cell;
  perspective: Cell;
  tickscope: Cell;
  unit: (value: number) => string;
}

function rows(peers: PeerFigures, tickscope: TickscopeFigures): (Row | string)[] {
  const duck = (question: Question, figure: (r: DuckDbReport) => number) => cell(peers.duckdb[question].outcome, figure);
  const psp = (figure: (r: PerspectiveReport) => number) => cell(peers.perspective.outcome, figure);
  const tab = (question: Question | 'trades') => cell(tickscope.tabs[question].outcome, (r) => r.ms);
  const asked = (question: Question | 'trades') => cell(tickscope.session[question], (a) => a.ms);
  const duckTab = peakMemory(QUESTIONS.map((q) => peers.duckdb[q]));
  const perspectiveTab = peakMemory([peers.perspective]);
  const tickscopeTab = peakMemory(Object.values(tickscope.tabs));
  const sessionHwm = tickscope.sessionHwmBytes;
  const tickscopeTotal = tickscopeTab && (isFailure(sessionHwm) ? sessionHwm : { value: tickscopeTab.value + sessionHwm });
  return [
    'from tab open (Chromium; performance.now() when the answer is in the page)',
    ...QUESTIONS.map((q) => ({ label: QUESTION_LABELS[q], duckdb: duck(q, (r) => r.ms), perspective: null, tickscope: tab(q), unit: ms })),
    { label: 'trade list loaded (Perspective table)', duckdb: null, perspective: psp((r) => r.loadedMs), tickscope: null, unit: ms },
    { label: `trade list by P&L, first ${TOP_ROWS} rows`, duckdb: null, perspective: psp((r) => r.ms), tickscope: tab('trades'), unit: ms },
    'the question alone (DuckDB-WASM connected, Perspective table loaded, Tickscope session open)',
    ...QUESTIONS.map((q) => ({ label: QUESTION_LABELS[q], duckdb: duck(q, (r) => r.queryMs), perspective: null, tickscope: asked(q), unit: ms })),
    { label: `trade list by P&L, first ${TOP_ROWS} rows`, duckdb: null, perspective: psp((r) => r.sortMs), tickscope: asked('trades'), unit: ms },
    "peak memory (VmHWM; the highest of the tool's measured tabs)",
    { label: "tab's renderer", duckdb: duckTab, perspective: perspectiveTab, tickscope: tickscopeTab, unit: mib },
    { label: 'tab + server process (Tickscope: its session)', duckdb: duckTab, perspective: perspectiveTab, tickscope: tickscopeTotal, unit: mib },
  ];
}

/** The highest renderer VmHWM of the measured tabs among `runs`; null if none was measured. */
function peakMemory(runs: TabRun<unknown>[]): { value: number } | null {
  const peaks = runs.flatMap((run) => (run.memory ? [run.memory.hwmBytes] : []));
  return peaks.length ? { value: Math.max(...peaks) } : null;
}

function memoryText(memory: TabMemory | null): string {
  return memory ? `renderer VmHWM ${mib(memory.hwmBytes)}, sampled VmRSS peak ${mib(memory.sampledRssBytes)}` : 'no tab measured';
}

function cellText(c: Cell, unit: (value: number) => string): string {
  if (c === null) return '-';
  return 'value' in c ? unit(c.value) : c.failed;
}

function ratioText(row: Row): string {
  const peer = row.duckdb ?? row.perspective;
  if (!peer || !row.tickscope || !('value' in peer) || !('value' in row.tickscope)) return '-';
  return `${(peer.value / row.tickscope.value).toFixed(1)}x`;
}

function printTable(lines: (Row | string)[]): void {
  const widths = [48, 15, 15, 15, 9];
  const line = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(''));
  line(['', 'DuckDB-WASM', 'Perspective', 'Tickscope', 'ratio']);
  for (const row of lines) {
    if (typeof row === 'string') console.log(row);
    else line([`  ${row.label}`, cellText(row.duckdb, row.unit), cellText(row.perspective, row.unit), cellText(row.tickscope, row.unit), ratioText(row)]);
  }
  console.log('ratio: peer / Tickscope (above 1: Tickscope is faster or smaller)');
  console.log(
    'from tab open: DuckDB-WASM starts its engine (files from the browser cache), registers the Parquet files and asks; Perspective ' +
      'starts, fetches the trade list and loads it; Tickscope opens / (first chart drawn), /?view=sectors, /?view=symbol, ' +
      '/?view=trades&sort=pnl.desc (the answer in the tab)',
  );
}

function printDetails(fixture: Fixture, peers: PeerFigures, tickscope: TickscopeFigures): void {
  const engine = QUESTIONS.map((q) => peers.duckdb[q].outcome).find((o): o is DuckDbReport => !isFailure(o));
  console.log(`\nDuckDB-WASM${engine ? ` (DuckDB ${engine.version})` : ''}, per question (each in a fresh Chromium):`);
  for (const q of QUESTIONS) {
    const { outcome, memory, traffic } = peers.duckdb[q];
    const figures = isFailure(outcome) ? outcome.failed : `engine started and files registered at ${ms(outcome.readyMs)}, ${outcome.rows} rows`;
    console.log(
      `  ${QUESTION_LABELS[q].padEnd(24)} ${figures}; fixture sent ${mib(traffic.dataBytes)} in ${traffic.dataRequests} requests ` +
        `(+ ${mib(traffic.codeBytes)} engine and page); ${memoryText(memory)}`,
    );
  }
  const p = peers.perspective;
  const pf = isFailure(p.outcome) ? p.outcome.failed : `${p.outcome.rows} trades (${mib(p.outcome.arrowBytes)} of Arrow), table() ${ms(p.outcome.tableMs)}`;
  console.log(`Perspective: ${pf}; ${memoryText(p.memory)}`);
  console.log('Tickscope, per question:');
  for (const q of [...QUESTIONS, 'trades'] as const) {
    const answer = tickscope.session[q];
    const figures = isFailure(answer) ? answer.failed : `${answer.rows} rows, ${mib(answer.wireBytes)} on the wire`;
    console.log(`  ${q.padEnd(24)} session answer ${figures}; tab: ${memoryText(tickscope.tabs[q].memory)}`);
  }
  const hwm = tickscope.sessionHwmBytes;
  console.log(`  session process VmHWM after its four answers: ${isFailure(hwm) ? hwm.detail : mib(hwm)}`);
  const prepared = tickscope.store.prepared ? `prepared now, in ${ms(tickscope.store.ms)}` : `found in .cache/stores (ready after ${ms(tickscope.store.ms)})`;
  console.log(`  store: ${prepared}`);
  if (!isFailure(p.outcome) && tickscope.topPnl !== null && p.outcome.topPnl !== tickscope.topPnl) {
    console.log(`  CHECK: the best trade's P&L differs: Perspective ${p.outcome.topPnl}, Tickscope ${tickscope.topPnl}`);
  }
  const failures = [...QUESTIONS.map((q) => peers.duckdb[q].outcome), p.outcome, ...Object.values(tickscope.tabs).map((t) => t.outcome), ...Object.values(tickscope.session)];
  for (const failure of failures.filter(isFailure)) console.log(`failure: ${failure.detail}`);
  console.log(`one symbol: ${fixture.symbol} in run ${fixture.run}`);
}

// ---------------------------------------------------------------------------------------------

async function benchScale(scale: 'demo' | 'large'): Promise<boolean> {
  const fixture = await describeFixture(scale, await ensureFixtures(scale, SEED));
  const { manifest } = fixture;
  console.log(
    `\n== ${scale}: ${manifest.bar_rows.toLocaleString('en-US')} bars, ${manifest.trade_rows.toLocaleString('en-US')} trades, ` +
      `${manifest.runs} runs, ${manifest.symbols} symbols, ${manifest.days} days (${fixture.barFiles.length} bar files)`,
  );
  const trades = await tradesArrow(fixture);
  console.log(`trade list for Perspective: ${path.relative(ROOT, trades.file)} ${trades.madeMs === null ? '(made before)' : `(made now from trades.parquet in ${ms(trades.madeMs)})`}`);
  const peers = await measurePeers(fixture, trades.file);
  const tickscope = await measureTickscope(fixture);
  console.log('');
  printTable(rows(peers, tickscope));
  printDetails(fixture, peers, tickscope);
  for (const problem of peers.problems) console.log(`bench defect: the peers' server answered ${problem}`);
  return peers.problems.length === 0;
}

const chromium = execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const version = (pkg: string) => (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
console.log(
  `bench:peers: ${chromium}, headless, only loopback resolvable; DuckDB-WASM ${version('@duckdb/duckdb-wasm')} (eh build, one thread), ` +
    `Perspective ${version('@finos/perspective')}, Tickscope (serve defaults, answers not shared, ${SESSION_THREADS} DuckDB threads per session); ` +
    `timeout ${TIMEOUT_MS / 1000} s from tab open`,
);
let clean = true;
for (const scale of scales) clean = (await benchScale(scale)) && clean;
if (!clean) process.exitCode = 1;
