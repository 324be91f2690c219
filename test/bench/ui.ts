// `npm run bench:ui [-- --scale large|demo] [--rounds N]`: the drill-down UI in Chromium.
//
// A scripted analyst: zooms the overview by dragging across the equity chart (twice deeper,
// then out), opens the sectors, a sector, a symbol, one of its trades, goes back up with Esc,
// opens the trade list, sorts it, filters it, jumps to its end, opens a trade from it, comes
// back, clears the filters, returns to the overview. Each round picks other rows and ranges.
// Real input events (Playwright drives Chromium's input pipeline); the pointer rests 150 ms on
// a row before clicking it, as a hand does (that is when the worker prefetches).
//
// Per interaction: input -> first updated pixels (a preview from the worker's cache counts) and
// input -> exact pixels (every view of the interaction that is in the viewport showing the exact
// answer), measured in the page from the input event's timestamp to the animation frame after the
// view drew. The views below the fold ask after those in sight (client/src/use-on-screen.ts); the
// bench waits for them too and reports input -> every view exact beside it. Then
// the main thread's long tasks (PerformanceObserver 'longtask') during the drill-down, and the
// frame times while wheel-scrolling the trade table near its top and deep in it.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CDPSession, Page } from 'playwright-core';
import { ensureFixtures, repoRoot, type FixtureScale } from '../../fixtures/generate.js';
import { startControlServer } from '../../server/control/app.js';
import { DEFAULT_MAX_SESSIONS, defaultMemoryBudget, defaultSessionMemory } from '../../server/control/memory-budget.js';
import { browserSessions, launchBrowser, reniceBrowser } from '../support/browser.js';
import { besideFloor, coldFloor, floorText } from './cold-floor.js';
import { percentile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: 'large' },
    rounds: { type: 'string', default: '5' },
    'session-memory': { type: 'string', default: defaultSessionMemory(DEFAULT_MAX_SESSIONS, defaultMemoryBudget()) },
    'session-threads': { type: 'string', default: '2' },
    /**
     * Run Chromium at this CPU priority (nice, 0-19; default 0, as it starts). In use the browser
     * runs on the analyst's machine; here it shares the server's cores, and at 0 the bench measures
     * the two competing for them. At 10 the sessions' work goes first, which is closer to a
     * browser on a machine of its own (Chromium still gets every cycle the server leaves).
     */
    'browser-nice': { type: 'string', default: '0' },
    'wheel-events': { type: 'string', default: '150' },
    /** Write a Chrome CPU profile of the drill-down and the scrolling here (open in DevTools). */
    profile: { type: 'string' },
    /** Write a Chrome trace (DevTools timeline) of the drill-down here, and list what each long task held. */
    trace: { type: 'string' },
  },
});
const scale = args.scale as FixtureScale;
const ROUNDS = Number(args.rounds);
const WHEEL_EVENTS = Number(args['wheel-events']);
const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const WAIT = { timeout: 120_000 };
/**
 * How the bench waits on the page (`waitForFunction`): every 50 ms. The figures it reads are the
 * page's own timestamps (perf.ts), so looking less often costs them no accuracy. Playwright's
 * default, every animation frame, ran the check of seven views in every frame of the drill-down,
 * on the two cores the tab and its session share: two runs each, main-thread tasks over 50 ms 23
 * and 29 -> 12 and 15, every interaction's exact-pixel p95 388 and 390 -> 326 and 326 ms.
 */
const POLL = { ...WAIT, polling: 50 };
const HOVER_MS = 150;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sel = (id: string) => `[data-testid="${id}"]`;

/** The overview's views a zoom redraws: the KPIs and the charts, in sight or below it. */
const OVERVIEW = ['kpis', 'risk-tiles', 'equity-chart', 'drawdown-chart', 'exposure-chart', 'heatmap', 'histogram-chart'];

interface Sample {
  first: number;
  /** Input -> exact pixels: every target in the viewport showing its exact answer. */
  exact: number;
  /** Input -> every target exact, those below the fold (asked after the views in sight) included. */
  exactAll: number;
  /** Input -> the last exact answer the page got from the worker before its exact paint (ms). */
  answered: number;
  /** Those answers: query, ask -> answer in the worker, of which the session's own time (ms). */
  answers: { query: string; ms: number; serverMs: number | null }[];
  /** Page clock: the input, and the end of the pause after the interaction. */
  from: number;
  to: number;
}
const samples = new Map<string, Sample[]>();

/**
 * Runs `act` (which makes real input), then waits until every target shows exact data drawn
 * after that input; returns input -> first paint and input -> last target's first exact paint.
 */
async function interaction(page: Page, name: string, targets: string[], act: () => Promise<void>): Promise<void> {
  const seq = (await page.evaluate('window.__tickscope.inputSeq || 0')) as number;
  const url = page.url();
  await act();
  setTimeout(() => {
    if (!done) console.error(`still waiting for "${name}" (${url} -> ${page.url()})`);
  }, 30_000).unref();
  let done = false;
  await page.waitForFunction(`window.__tickscope.inputSeq > ${seq}`, undefined, POLL);
  const result = (await page.waitForFunction(
    `(() => {
      const p = window.__tickscope;
      const t0 = p.inputAt;
      const ids = ${JSON.stringify(targets)};
      let first = Infinity, exact = 0, exactAll = 0;
      for (const id of ids) {
        const el = document.querySelector('[data-testid="' + id + '"]');
        if (!el || el.dataset.exact !== 'true' || el.dataset.loading === 'true') return false;
        const drawnAt = Number(el.dataset.drawnAt);
        if (!(drawnAt >= t0) || !(Number(el.dataset.paintedAt) >= drawnAt)) return false;
        const mine = p.paints.filter((x) => x.id === id && x.at >= t0);
        const firstExact = mine.find((x) => x.exact);
        if (!firstExact) return false;
        const box = el.getBoundingClientRect();
        const inSight = box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth;
        first = Math.min(first, ...mine.map((x) => x.at));
        if (inSight) exact = Math.max(exact, firstExact.at);
        exactAll = Math.max(exactAll, firstExact.at);
      }
      if (exact === 0) exact = exactAll; // nothing in sight (not on this bench's pages)
      const answers = (p.answers || []).filter((a) => a.at >= t0 && a.at <= exactAll && !a.cached);
      const answered = answers.length ? Math.max(...answers.map((a) => a.at)) - t0 : 0;
      return { first: first - t0, exact: exact - t0, exactAll: exactAll - t0, answered, answers: answers.map((a) => ({ query: a.query, ms: a.ms, serverMs: a.serverMs })), from: t0, to: exactAll };
    })()`,
    undefined,
    POLL,
  ).then((h) => h.jsonValue())) as Sample;
  done = true;
  await sleep(250); // the analyst looks at the result (and prefetches settle)
  result.to = (await page.evaluate('performance.now()')) as number;
  (samples.get(name) ?? samples.set(name, []).get(name)!).push(result);
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  args?: { name?: string };
}

/** Ends the trace, writes it, and prints what the renderer main thread's tasks over 50 ms held. */
async function writeTrace(tracer: CDPSession, file: string): Promise<void> {
  const complete = new Promise<string>((resolve) => tracer.once('Tracing.tracingComplete', (e: { stream?: string }) => resolve(e.stream!)));
  await tracer.send('Tracing.end');
  const stream = await complete;
  let text = '';
  for (;;) {
    const chunk = await tracer.send('IO.read', { handle: stream });
    text += chunk.base64Encoded ? Buffer.from(chunk.data, 'base64').toString() : chunk.data;
    if (chunk.eof) break;
  }
  await tracer.send('IO.close', { handle: stream });
  await writeFile(file, text);
  const events = (JSON.parse(text) as { traceEvents: TraceEvent[] }).traceEvents;
  const main = events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  console.log(`trace written to ${file}; renderer main-thread tasks over 50 ms:`);
  for (const thread of main) {
    const own = events.filter((e) => e.pid === thread.pid && e.tid === thread.tid && e.ph === 'X' && e.dur !== undefined);
    for (const task of own.filter((e) => e.name === 'RunTask' && e.dur! > 50_000)) {
      const inside = own.filter((e) => e !== task && e.ts >= task.ts && e.ts + e.dur! <= task.ts + task.dur!);
      const byName = new Map<string, number>();
      for (const e of inside) byName.set(e.name, (byName.get(e.name) ?? 0) + e.dur!);
      const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 8);
      console.log(`  ${(task.dur! / 1000).toFixed(0)} ms: ${top.map(([n, d]) => `${n} ${(d / 1000).toFixed(1)}`).join(', ')} (nested events overlap)`);
    }
  }
}

async function click(page: Page, selector: string): Promise<void> {
  await page.hover(selector);
  await sleep(HOVER_MS);
  await page.click(selector);
}

async function dragAcross(page: Page, chart: string, from: number, to: number): Promise<void> {
  // The mouse acts at viewport coordinates: a chart scrolled out of view (an episode row clicked
  // below it scrolled the page) would take no drag at all.
  const plot = page.locator(`${sel(chart)} .u-over`);
  await plot.scrollIntoViewIfNeeded();
  const box = (await plot.boundingBox())!;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * from, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * ((from + to) / 2), y, { steps: 3 });
  await page.mouse.move(box.x + box.width * to, y, { steps: 3 });
  await page.mouse.up();
}

async function rows(page: Page, table: string): Promise<number> {
  return Number(await page.getAttribute(sel(table), 'data-total'));
}

async function drillDown(page: Page, round: number): Promise<void> {
  const a = 0.1 + 0.08 * round;
  await interaction(page, 'zoom: drag across equity', OVERVIEW, () => dragAcross(page, 'equity-chart', a, a + 0.35));
  await interaction(page, 'zoom deeper: drag again', OVERVIEW, () => dragAcross(page, 'equity-chart', 0.4, 0.6));
  await interaction(page, 'zoom out: double-click', OVERVIEW, () => page.dblclick(`${sel('equity-chart')} .u-over`));
  await interaction(page, 'open sectors tab', ['breakdown-table', 'breakdown-chart'], () => click(page, '[data-tab="sectors"]'));
  const sectors = await rows(page, 'breakdown-table');
  await interaction(page, 'sector row -> its symbols', ['breakdown-table', 'breakdown-chart'], () =>
    click(page, `${sel('breakdown-table')} .vt-row[data-index="${round % sectors}"]`),
  );
  const symbols = await rows(page, 'breakdown-table');
  await interaction(page, 'symbol row -> symbol view', ['price-chart', 'position-chart', 'symbol-pnl-chart', 'symbol-trades'], () =>
    click(page, `${sel('breakdown-table')} .vt-row[data-index="${(round * 3) % symbols}"]`),
  );
  const trades = await rows(page, 'symbol-trades');
  await interaction(page, 'trade -> zoom to it, MAE/MFE', ['price-chart', 'position-chart', 'symbol-pnl-chart', 'symbol-trades', 'trade-detail'], () =>
    click(page, `${sel('symbol-trades')} .vt-row[data-index="${Math.min(trades - 1, round * 2)}"]`),
  );
  await interaction(page, 'Esc: trade -> symbol', ['price-chart', 'symbol-trades'], () => page.keyboard.press('Escape'));
  await interaction(page, 'Esc: symbol -> sector', ['breakdown-table', 'breakdown-chart'], () => page.keyboard.press('Escape'));
  await interaction(page, 'open trades tab', ['trades-table'], () => click(page, '[data-tab="trades"]'));
  await interaction(page, 'sort trades by P&L', ['trades-table'], () => click(page, `${sel('trades-table')} [data-sort="${round % 2 ? 'ret' : 'pnl'}"]`));
  const input = `${sel('filter-pnl')} input[aria-label="P&L from"]`;
  await page.fill(input, String(-1000 * (round + 1)));
  await interaction(page, 'filter P&L (Enter)', ['trades-table'], () => page.press(input, 'Enter'));
  await interaction(page, 'End: last rows of the list', ['trades-table'], async () => {
    await page.focus(`${sel('trades-table')} .vt-body`);
    await page.keyboard.press('End');
  });
  const firstRow = Number(await page.getAttribute(sel('trades-table'), 'data-first-row'));
  await interaction(page, 'trade row -> symbol view at trade', ['price-chart', 'symbol-trades', 'trade-detail'], () =>
    click(page, `${sel('trades-table')} .vt-row[data-index="${firstRow + 2 + round}"]`),
  );
  await interaction(page, 'Esc: trade -> symbol', ['price-chart', 'symbol-trades'], () => page.keyboard.press('Escape'));
  await interaction(page, 'Esc: symbol -> trade list', ['trades-table'], () => page.keyboard.press('Escape'));
  await interaction(page, 'clear filters', ['trades-table'], () => click(page, sel('clear-filters')));
  await interaction(page, 'overview tab', OVERVIEW, () => click(page, '[data-tab="overview"]'));
  // Why it lost money: a drawdown episode (every view zooms to it, its attribution opens), then a
  // brushed range explained from the range chip; closed and zoomed out again for the next round.
  await interaction(page, 'click an episode', ['equity-chart', 'episodes', 'attribution-body'], () =>
    click(page, `${sel('episodes')} tbody tr[data-rank="${1 + (round % 2)}"]`),
  );
  await page.click(sel('attribution-close'));
  await interaction(page, 'zoom: drag across equity', OVERVIEW, () => dragAcross(page, 'equity-chart', 0.2, 0.7));
  await interaction(page, 'explain a range', ['attribution-body'], () => click(page, sel('explain-chip')));
  await page.click(sel('attribution-close'));
  await interaction(page, 'zoom out: double-click', OVERVIEW, () => page.dblclick(`${sel('equity-chart')} .u-over`));
}

/** Frame intervals (rAF) while the wheel scrolls the trade table; and how often rows were still loading. */
async function scrollFrames(page: Page): Promise<{ frames: number[]; loadingFrames: number; rowsMoved: number }> {
  const body = (await page.locator(`${sel('trades-table')} .vt-body`).boundingBox())!;
  await page.mouse.move(body.x + body.width / 2, body.y + body.height / 2);
  const firstRow = Number(await page.getAttribute(sel('trades-table'), 'data-first-row'));
  await page.evaluate(`(() => {
    const p = window.__tickscope;
    p.frames = []; p.loadingFrames = 0; p.recording = true;
    const table = document.querySelector('[data-testid="trades-table"]');
    let last = performance.now();
    const tick = (t) => {
      if (!p.recording) return;
      p.frames.push(t - last); last = t;
      if (table.dataset.loading === 'true') p.loadingFrames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame((t) => { last = t; requestAnimationFrame(tick); });
  })()`);
  for (let i = 0; i < WHEEL_EVENTS; i++) {
    await page.mouse.wheel(0, 100);
    await sleep(8);
  }
  await page.waitForFunction(`document.querySelector('${sel('trades-table')}').dataset.loading === 'false'`, undefined, WAIT);
  const result = (await page.evaluate(`(() => { const p = window.__tickscope; p.recording = false; return { frames: p.frames.slice(1), loadingFrames: p.loadingFrames }; })()`)) as {
    frames: number[];
    loadingFrames: number;
  };
  const lastRow = Number(await page.getAttribute(sel('trades-table'), 'data-first-row'));
  return { ...result, rowsMoved: lastRow - firstRow };
}

// ---------------------------------------------------------------------------------------------

const input = await ensureFixtures(scale, 42);
const server = await startControlServer({
  host: '127.0.0.1',
  port: 0,
  datasets: [{ id: scale, input }],
  storeDir: path.join(repoRoot(), '.cache', 'stores'),
  clientDir: CLIENT_DIR,
  poolSize: 1,
  logger: false,
  limits: {
    maxSessions: 4,
    idleTimeoutMs: 60_000,
    lifetimeMs: 0,
    startupTimeoutMs: 60_000,
    terminateGraceMs: 2000,
    memoryLimit: args['session-memory']!,
    threads: Number(args['session-threads']),
    memoryBudgetBytes: 16 * 2 ** 30,
  },
});
const browser = await launchBrowser();
const browserNice = Number(args['browser-nice']);
/** Every interaction's input -> exact pixels p95 (ms), printed again beside the floor at the end. */
let exactP95: number | null = null;
let storePath: string | null = null;
try {
  storePath = await server.datasets.whenReady(scale);
  const page = await browser.context.newPage();
  // After the page's renderer exists, so that it is lowered too (a later one inherits it).
  if (browserNice !== 0) await reniceBrowser(browser, browserNice);
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(server.url);
  await page.waitForFunction(`window.__tickscope && window.__tickscope.firstChartMs > 0`, undefined, POLL);
  await page.waitForFunction(
    `${JSON.stringify(OVERVIEW)}.every((id) => document.querySelector('[data-testid="' + id + '"]')?.dataset.exact === 'true')`,
    undefined,
    POLL,
  );
  const firstChartMs = (await page.evaluate('window.__tickscope.firstChartMs')) as number;
  // Again once the app runs: its worker's thread, and a renderer the navigation may have started.
  if (browserNice !== 0) await reniceBrowser(browser, browserNice);
  const marks = (await page.evaluate('window.__tickscopeMarks || {}')) as Record<string, number>;
  const dataset = (await page.textContent('.summary'))!.trim();
  const viewport = page.viewportSize()!;
  await sleep(1000);
  const loadTasks = (await page.evaluate('window.__tickscope.longTasks.slice()')) as { start: number; duration: number }[];
  const cdp = args.profile ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
    await cdp.send('Profiler.start');
  }
  const tracer = args.trace ? await page.context().newCDPSession(page) : null;
  if (tracer) {
    await tracer.send('Tracing.start', {
      transferMode: 'ReturnAsStream',
      traceConfig: { includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'blink.user_timing', 'toplevel'] },
    });
  }
  const profileStart = (await page.evaluate('performance.now()')) as number;
  const sessionPid = (await browserSessions(browser, server.url)).find((s) => s.pid !== null)?.pid ?? null;
  const sessionBefore = sessionPid === null ? null : await processTimes(sessionPid);
  const drillStart = (await page.evaluate('performance.now()')) as number;

  for (let round = 0; round < ROUNDS; round++) await drillDown(page, round);
  const drillEnd = (await page.evaluate('performance.now()')) as number;
  const sessionAfter = sessionPid === null ? null : await processTimes(sessionPid);

  // Scrolling the trade list: near the top, then deep in it.
  await click(page, '[data-tab="trades"]');
  await page.waitForSelector(`${sel('trades-table')}[data-loading="false"]`, WAIT);
  const tradeRows = await rows(page, 'trades-table');
  const top = await scrollFrames(page);
  await page.focus(`${sel('trades-table')} .vt-body`);
  await page.keyboard.press('End');
  await page.waitForSelector(`${sel('trades-table')}[data-loading="false"]`, WAIT);
  for (let i = 0; i < 40; i++) await page.mouse.wheel(0, -2000); // well above the end, so there is room to scroll down
  await page.waitForSelector(`${sel('trades-table')}[data-loading="false"]`, WAIT);
  const deep = await scrollFrames(page);
  const allTasks = (await page.evaluate('window.__tickscope.longTasks.slice()')) as { start: number; duration: number }[];
  if (cdp) {
    const { profile } = await cdp.send('Profiler.stop');
    const origin = (await page.evaluate('performance.timeOrigin')) as number;
    await writeFile(args.profile!, JSON.stringify({ ...profile, tickscope: { timeOrigin: origin, profileStart, longTasks: allTasks } }));
    console.log(`CPU profile written to ${args.profile}`);
  }
  if (tracer) await writeTrace(tracer, args.trace!);
  const stats = (await page.evaluate('window.__tickscope.cacheStats()')) as Record<string, number>;

  // -------------------------------------------------------------------------------------------
  const f = (x: number) => x.toFixed(0).padStart(5);
  console.log(`bench:ui on scale ${scale}: ${dataset}`);
  console.log(
    `Chromium ${viewport.width}x${viewport.height}${browserNice ? ` at nice ${browserNice} (the sessions' work first, as with the browser on a machine of its own)` : ', at the priority of the server (both share these cores)'}, ` +
      `${ROUNDS} rounds of the scripted drill-down; sessions: DuckDB ${args['session-threads']} threads, ${args['session-memory']}`,
  );
  console.log(
    `tab open -> first chart drawn: ${firstChartMs.toFixed(0)} ms (worker started at ${marks.workerStart ?? '?'} ms, session requested at ${marks.sessionRequest ?? '?'}, ` +
      `created at ${marks.sessionReply ?? '?'}, hello at ${marks.hello ?? '?'}; one tab, cold browser cache)\n`,
  );
  console.log(`${'interaction'.padEnd(36)}   n   input -> first px    input -> exact px   longest task   input -> last answer   every view exact`);
  console.log(`${''.padEnd(36)}       p50    p95 ms       p50    p95 ms     (ms, any round)   in the page, p50 p95 ms  (below the fold too), p50 p95 ms`);
  const all: Sample[] = [];
  for (const [name, list] of samples) {
    all.push(...list);
    const first = list.map((s) => s.first);
    const exact = list.map((s) => s.exact);
    const tasks = allTasks.filter((t) => list.some((x) => t.start >= x.from - 1 && t.start < x.to));
    const longestHere = tasks.reduce((m, t) => Math.max(m, t.duration), 0);
    console.log(
      `${name.padEnd(36)} ${String(list.length).padStart(3)}   ${f(percentile(first, 50))} ${f(percentile(first, 95))}     ${f(percentile(exact, 50))} ${f(percentile(exact, 95))}     ${longestHere ? f(longestHere) : '    -'}` +
        `          ${f(percentile(list.map((x) => x.answered), 50))} ${f(percentile(list.map((x) => x.answered), 95))}` +
        `          ${f(percentile(list.map((x) => x.exactAll), 50))} ${f(percentile(list.map((x) => x.exactAll), 95))}`,
    );
  }
  // Where the slowest interaction's time went: each answer's ask -> answer in the worker, and the
  // session's own part of it (plan + execute + encode); the rest is queueing, transport, decoding.
  const slowest = [...samples].map(([name, list]) => [name, percentile(list.map((x) => x.exact), 50)] as const).sort((a, b) => b[1] - a[1])[0];
  if (slowest) {
    const perQuery = new Map<string, { ms: number[]; server: number[] }>();
    for (const sample of samples.get(slowest[0])!) {
      for (const a of sample.answers) {
        const q = perQuery.get(a.query) ?? perQuery.set(a.query, { ms: [], server: [] }).get(a.query)!;
        q.ms.push(a.ms);
        if (a.serverMs !== null) q.server.push(a.serverMs);
      }
    }
    console.log(
      `  slowest, "${slowest[0]}": answers (ask -> answer in the worker / session's own time, p50 ms): ` +
        [...perQuery].map(([q, v]) => `${q} ${percentile(v.ms, 50).toFixed(0)}/${v.server.length ? percentile(v.server, 50).toFixed(0) : '-'}`).join(', '),
    );
  }
  const allExact = all.map((s) => s.exact);
  const allFirst = all.map((s) => s.first);
  const allEveryView = all.map((s) => s.exactAll);
  exactP95 = percentile(allExact, 95);
  console.log(
    `${'every interaction'.padEnd(36)} ${String(all.length).padStart(3)}   ${f(percentile(allFirst, 50))} ${f(percentile(allFirst, 95))}     ${f(percentile(allExact, 50))} ${f(percentile(allExact, 95))}   (target p95 < 100 ms)` +
      `                   ${f(percentile(allEveryView, 50))} ${f(percentile(allEveryView, 95))}`,
  );
  const during = allTasks.filter((t) => t.start >= drillStart && t.start <= drillEnd);
  const longest = during.reduce((m, t) => Math.max(m, t.duration), 0);
  const loadLongest = loadTasks.reduce((m, t) => Math.max(m, t.duration), 0);
  console.log('');
  console.log(
    `main thread during the drill-down: longest task ${longest.toFixed(0)} ms; ${during.length} tasks over 50 ms (target: none)` +
      (during.length ? ` [${during.map((t) => t.duration.toFixed(0)).join(', ')} ms]` : ''),
  );
  // What the long tasks were made of: the scripts of the long animation frames they fell in.
  const frames = (await page.evaluate('window.__tickscope.longFrames.slice()')) as {
    start: number;
    duration: number;
    styleAndLayout: number;
    render: number;
    scripts: { invoker: string; source: string; duration: number }[];
  }[];
  const explain = (tasks: { start: number; duration: number }[]) => {
    for (const task of tasks) {
      const frame = frames.find((fr) => task.start >= fr.start - 1 && task.start <= fr.start + fr.duration);
      const scripts = (frame?.scripts ?? []).filter((x) => x.duration >= 5).sort((x, y) => y.duration - x.duration).slice(0, 4);
      const during = [...samples].find(([, list]) => list.some((x) => task.start >= x.from - 1 && task.start < x.to))?.[0] ?? 'between interactions';
      const parts = frame ? ` [frame ${frame.duration.toFixed(0)} ms: style+layout ${frame.styleAndLayout.toFixed(0)}, render ${frame.render.toFixed(0)}]` : '';
      console.log(
        `  ${task.duration.toFixed(0)} ms task at ${task.start.toFixed(0)} (${during})${parts}: ` +
          (scripts.map((x) => `${x.invoker} -> ${x.source} ${x.duration.toFixed(0)} ms`).join('; ') || 'no script over 5 ms'),
      );
    }
  };
  explain(during);
  console.log(`main thread during page load (before the drill-down): longest task ${loadLongest.toFixed(0)} ms`);
  explain(loadTasks);
  const scrollTasks = allTasks.filter((t) => t.start > drillEnd);
  console.log(`main thread while scrolling: longest task ${scrollTasks.reduce((m, t) => Math.max(m, t.duration), 0).toFixed(0)} ms`);
  for (const [label, r] of [
    ['near the top', top],
    ['deep in the list', deep],
  ] as const) {
    const fps = 1000 / (r.frames.reduce((a, b) => a + b, 0) / Math.max(1, r.frames.length));
    const slow = r.frames.filter((x) => x > 1000 / 60 + 4).length;
    console.log(
      `trade table scroll (${tradeRows.toLocaleString('en-US')} rows) ${label}: ${WHEEL_EVENTS} wheel events, ${r.rowsMoved.toLocaleString('en-US')} rows moved; ` +
        `frame p50 ${percentile(r.frames, 50).toFixed(1)} ms, p95 ${percentile(r.frames, 95).toFixed(1)} ms, max ${Math.max(...r.frames).toFixed(1)} ms, ` +
        `${fps.toFixed(1)} fps; ${slow}/${r.frames.length} frames over 20.7 ms; rows still loading in ${r.loadingFrames} frames`,
    );
  }
  const answers = (await page.evaluate('window.__tickscope.answers.slice()')) as { query: string; low: boolean; ms: number; queuedMs: number; cached: boolean; serverMs: number | null; waitMs: number | null; at: number }[];
  const fetched = answers.filter((a) => !a.cached && a.at >= drillStart && a.at <= drillEnd);
  console.log('');
  console.log(`answers the views waited for during the drill-down (ask -> decoded in the worker; not counting cache hits), and where that went:`);
  console.log(`queued in the worker before the request went out, waiting in the session for a connection (the tab's other requests held them),`);
  console.log(`the session's work (plan, execute, encode); the rest is the socket, the worker's decoding and its queue of messages:`);
  const byQuery = new Map<string, typeof fetched>();
  // Asked at low priority (views out of sight, sparklines) apart: they wait for the rest by design.
  for (const a of fetched) {
    const name = a.low ? `${a.query} (low)` : a.query;
    (byQuery.get(name) ?? byQuery.set(name, []).get(name)!).push(a);
  }
  for (const [query, list] of byQuery) {
    const ms = list.map((a) => a.ms);
    const server = list.map((a) => a.serverMs ?? 0);
    const waited = list.map((a) => a.waitMs ?? 0);
    const queued = list.map((a) => a.queuedMs);
    const rest = list.map((a) => a.ms - a.queuedMs - (a.waitMs ?? 0) - (a.serverMs ?? 0));
    const p = (xs: number[]) => `${percentile(xs, 50).toFixed(0)}/${percentile(xs, 95).toFixed(0)}`;
    console.log(
      `  ${query.padEnd(17)} n=${String(list.length).padStart(3)}  p50/p95 ${p(ms)} ms = queued ${p(queued)} + connection ${p(waited)} + session ${p(server)} + rest ${p(rest)}`,
    );
  }
  if (sessionBefore && sessionAfter) {
    // What the tab's session spent, from the kernel's account: a page touched for the first time
    // costs a fault, which on these VMs is most of a cold request (docs/architecture.md, "Page faults").
    const cpu = (k: 'userS' | 'systemS') => (sessionAfter[k] - sessionBefore[k]).toFixed(1);
    console.log(
      `  the tab's session process during the drill-down (${((drillEnd - drillStart) / 1000).toFixed(1)} s): CPU ${cpu('userS')} s user + ${cpu('systemS')} s system, ` +
        `${(sessionAfter.minorFaults - sessionBefore.minorFaults).toLocaleString('en-US')} minor and ${(sessionAfter.majorFaults - sessionBefore.majorFaults).toLocaleString('en-US')} major page faults over ${fetched.length} answers`,
    );
  }
  const hitsDuring = answers.filter((a) => a.cached && a.at >= drillStart && a.at <= drillEnd).length;
  console.log(`  answered from the worker's cache (prefetched or seen before): ${hitsDuring} of ${hitsDuring + fetched.length}`);
  console.log(`worker cache: ${JSON.stringify(stats)}`);
} finally {
  await browser.close();
  await server.close();
}
if (exactP95 !== null && storePath !== null) {
  // Measured once the browser and the server are gone, as bench:sessions measures it.
  const floor = await coldFloor(storePath);
  console.log('');
  console.log(floorText(floor));
  console.log(`every interaction, input -> exact pixels p95: ${besideFloor(exactP95, floor)} (target < 100 ms there)`);
}

/** A process's CPU time and page faults so far, from /proc/<pid>/stat (fields 10, 12, 14, 15 after the name). */
async function processTimes(pid: number): Promise<{ userS: number; systemS: number; minorFaults: number; majorFaults: number } | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => null);
  if (stat === null) return null;
  // The fields after the command name, which may hold spaces: the 3rd field (state) first.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = (n: number) => Number(fields[n - 3]);
  const ticks = 100; // USER_HZ on Linux
  return { minorFaults: at(10), majorFaults: at(12), userS: at(14) / ticks, systemS: at(15) / ticks };
}
