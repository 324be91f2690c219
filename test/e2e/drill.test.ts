// The analyst's drill paths in headless Chromium over the tiny fixture: overview -> sector ->
// symbol -> trade and back (clicks, Esc, back/forward), brush zoom, the trade table (scroll,
// sort, filters, empty state), a pasted URL, a session process killed mid-view, a dataset that
// failed to prepare. Saves a screenshot of each view into docs/screenshots/ (shown in the README).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { repoRoot } from '../../fixtures/generate.js';
import type { ControlServer } from '../../server/control/app.js';
import type { SessionInfo } from '../../shared/http-api.js';
import { browserSessions, launchBrowser, type Browser } from '../support/browser.js';
import { WAIT, drawn, now, openReady, search, sel, settled, visibleBox, waitForSearch } from '../support/page-waits.js';
import { eventually, processAlive, startTestServer } from '../support/control-server.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
// Screenshots go under .cache/ so a test run never rewrites committed files; `npm run
// docs:screenshots` points this at docs/screenshots to refresh the README's pictures on purpose.
const SCREENSHOTS = process.env.TICKSCOPE_SCREENSHOTS_DIR ? path.resolve(process.env.TICKSCOPE_SCREENSHOTS_DIR) : path.join(repoRoot(), '.cache', 'screenshots', 'drill');

let server: ControlServer;
let browser: Browser;

before(async () => {
  server = await startTestServer({ clientDir: CLIENT_DIR, poolSize: 2 });
  browser = await launchBrowser();
  await mkdir(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

// ---------------------------------------------------------------------------------------------
// Helpers (page-side code is passed as strings: these tests compile without DOM types)

const open = (url: string, base = server.url): Promise<Page> => openReady(browser, `${base}${url}`);

async function crumbs(page: Page): Promise<string[]> {
  return page.locator(`${sel('breadcrumbs')} li`).allTextContents();
}

async function cellTexts(page: Page, table: string, column: string): Promise<string[]> {
  return page.locator(`${sel(table)} .vt-row:not(.loading) [data-col="${column}"]`).allTextContents();
}

/** "+$1,234.50" / "−$12" / "+0.25%" -> number. */
function money(text: string): number {
  return Number(text.replace(/\u2212/g, '-').replace(/[$,%+\s]/g, ''));
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/** The sessions of this browser: its tabs' owner is the browser, so the list is asked with its cookie. */
function sessions(base = server.url): Promise<SessionInfo[]> {
  return browserSessions(browser, base);
}

const OVERVIEW = ['equity-chart', 'drawdown-chart', 'exposure-chart', 'kpis', 'heatmap', 'histogram-chart'];
/**
 * Before a drag on the equity chart: everything above it has drawn too, so that the chart does
 * not move between measuring its box and the drag (the risk tiles grow when their answer comes;
 * a drag aimed at the old box once missed the chart on a loaded CI machine).
 */
const STILL_EQUITY = [...OVERVIEW, 'risk-tiles'];

// ---------------------------------------------------------------------------------------------

test('drill path: overview -> sector -> symbol -> trade, then back up with Esc and back/forward', async () => {
  const page = await open('/');
  await drawn(page, OVERVIEW);
  assert.deepEqual(await crumbs(page), ['Portfolio']);
  assert.ok((await page.locator(`${sel('kpis')} .kpi`).count()) >= 12, 'KPI tiles');
  await shot(page, 'overview');

  // Portfolio -> sectors
  await page.click('[data-tab="sectors"]');
  await drawn(page, ['breakdown-table', 'breakdown-chart']);
  assert.equal((await search(page)).get('view'), 'sectors');
  assert.equal(await page.getAttribute(sel('breakdown-table'), 'data-total'), '11');
  await shot(page, 'sectors');

  // Sector -> its symbols, with the keyboard (the table has the focus: ↓ then Enter)
  const sector = (await cellTexts(page, 'breakdown-table', 'key'))[0]!;
  let t = await now(page);
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.getAttribute(sel('breakdown-table'), 'data-active'), '0');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`${sel('breakdown')}[data-by="symbol"]`, WAIT);
  await drawn(page, ['breakdown-table', 'breakdown-chart'], t);
  assert.equal((await search(page)).get('sector'), sector);
  assert.deepEqual(await crumbs(page), ['Portfolio', 'Sectors', sector]);

  // Symbol
  const symbol = (await cellTexts(page, 'breakdown-table', 'key'))[0]!;
  t = await now(page);
  await page.click(`${sel('breakdown-table')} .vt-row[data-index="0"]`);
  await drawn(page, ['price-chart', 'position-chart', 'symbol-pnl-chart', 'symbol-trades'], t);
  let q = await search(page);
  assert.equal(q.get('view'), 'symbol');
  assert.equal(q.get('symbol'), symbol);
  assert.deepEqual(await crumbs(page), ['Portfolio', 'Sectors', sector, symbol]);
  assert.ok(Number(await page.getAttribute(sel('price-chart'), 'data-points')) > 0);

  // Trade: the view zooms to it with MAE and MFE marked
  t = await now(page);
  await page.click(`${sel('symbol-trades')} .vt-row[data-index="0"]`);
  await page.waitForSelector(`${sel('trade-detail')}[data-found="true"]`, WAIT);
  await drawn(page, ['price-chart'], t);
  q = await search(page);
  assert.match(q.get('trade') ?? '', /^.+:\d+$/);
  assert.ok(q.get('from') && q.get('to'), 'the range is the trade window');
  assert.match((await page.textContent(sel('trade-mae')))!, /%/);
  assert.match((await page.textContent(sel('trade-mfe')))!, /%/);
  assert.match((await crumbs(page)).at(-1)!, /^Trade \d+/);
  assert.equal((await page.locator(`${sel('symbol-trades')} .vt-row.selected`).count()), 1, 'the trade is highlighted in the list');
  await shot(page, 'symbol-trade');

  // Esc, Esc, Esc, Esc: trade -> symbol -> sector -> sectors -> portfolio
  const levels: [string, (q: URLSearchParams) => boolean][] = [
    ['symbol', (s) => s.get('view') === 'symbol' && !s.has('trade') && !s.has('from')],
    ['sector', (s) => s.get('view') === 'sectors' && s.get('sector') === sector],
    ['sectors', (s) => s.get('view') === 'sectors' && !s.has('sector')],
    ['overview', (s) => !s.has('view')],
  ];
  for (const [name, check] of levels) {
    await page.locator('body').press('Escape');
    await page.waitForFunction(`document.querySelector('[data-testid="app"]').dataset.level === ${JSON.stringify(name === 'sector' ? 'sectors' : name)}`, undefined, WAIT);
    await eventually(async () => check(await search(page)), 5000);
    assert.ok(check(await search(page)), `Esc went up to ${name}: ${page.url()}`);
  }
  await drawn(page, ['equity-chart']);

  // Forward and back again
  await page.goForward();
  await waitForSearch(page, `q.get('view') === 'sectors' && !q.has('sector')`);
  await page.goForward();
  await waitForSearch(page, `q.get('sector') === ${JSON.stringify(sector)}`);
  await drawn(page, ['breakdown-table']);
  await page.goBack();
  await waitForSearch(page, `q.get('view') === 'sectors' && !q.has('sector')`);
  await drawn(page, ['breakdown-table']);
  await page.close();
});

test('brush zoom: a drag across the equity chart zooms every view, answered first from the cache', async () => {
  const page = await open('/');
  await drawn(page, STILL_EQUITY);
  const pnlBefore = await page.textContent(`${sel('kpis')} [data-kpi="total_pnl"]`);
  await settled(page, `${sel('equity-chart')} .u-over`);
  const box = await visibleBox(page, `${sel('equity-chart')} .u-over`);
  const t = await now(page);
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 4 });
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 4 });
  await page.mouse.up();
  await waitForSearch(page, `q.has('from') && q.has('to')`);
  await drawn(page, OVERVIEW, t);
  const q = await search(page);
  assert.ok(Date.parse(q.get('to')!) > Date.parse(q.get('from')!));
  assert.ok(await page.isVisible(sel('range')), 'the range is shown');
  assert.notEqual(await page.textContent(`${sel('kpis')} [data-kpi="total_pnl"]`), pnlBefore, 'the KPIs are for the range');
  const stats = (await page.evaluate('window.__tickscope.cacheStats()')) as { previews: number; hits: number };
  assert.ok(stats.previews >= 1, `the zoom was previewed from cached data (${JSON.stringify(stats)})`);

  // The range applies to every view: the trade list is for it too.
  await page.click('[data-tab="trades"]');
  await drawn(page, ['trades-table']);
  assert.equal((await search(page)).get('from'), q.get('from'));

  // Back on the overview, a double-click shows everything again (the whole history is cached).
  await page.goBack();
  await drawn(page, ['equity-chart']);
  const t2 = await now(page);
  await page.dblclick(`${sel('equity-chart')} .u-over`);
  await waitForSearch(page, `!q.has('from')`);
  await drawn(page, ['equity-chart', 'kpis'], t2);
  assert.equal(await page.textContent(`${sel('kpis')} [data-kpi="total_pnl"]`), pnlBefore);

  // A range without data says so.
  await page.goto(`${server.url}/?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z`);
  await page.waitForSelector(`${sel('equity-chart')} >> text=No bars in this range.`, WAIT);
  await page.waitForSelector(`${sel('histogram-chart')} >> text=No trades in this range.`, WAIT);
  await page.close();
});

test('time axes leave out the closed hours: a drag selects trading instants, not nights or weekends', async () => {
  const page = await open('/');
  await drawn(page, STILL_EQUITY);
  await settled(page, `${sel('equity-chart')} .u-over`);
  const box = await visibleBox(page, `${sel('equity-chart')} .u-over`);
  // On a calendar axis, 35% into the tiny fixture's two weeks is a Saturday; in trading time, the
  // middle of the fourth of its ten trading days (the ends of days are avoided: the closed hours
  // between two days are one bar wide on the axis).
  await page.mouse.move(box.x + box.width * 0.35, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.65, box.y + box.height / 2, { steps: 6 });
  await page.mouse.up();
  await waitForSearch(page, `q.has('from') && q.has('to')`);
  const q = await search(page);
  for (const end of ['from', 'to']) {
    const at = new Date(Date.parse(q.get(end)!));
    const minutes = at.getUTCHours() * 60 + at.getUTCMinutes();
    assert.ok(at.getUTCDay() >= 1 && at.getUTCDay() <= 5, `${end} ${at.toISOString()} is a weekday`);
    // Bars end 14:35-21:00 UTC; the closed hours between two days are one bar wide on the axis.
    assert.ok(minutes >= 14 * 60 + 30 && minutes <= 21 * 60, `${end} ${at.toISOString()} is within trading hours`);
  }
  await page.close();
});

test('trade table: windows load as it scrolls; sort on any column; side, P&L filters; empty state', async () => {
  const page = await open('/?view=trades');
  await drawn(page, ['trades-table']);
  const total = Number(await page.getAttribute(sel('trades-table'), 'data-total'));
  assert.ok(total > 300, `enough trades for several windows (${total})`);

  // End jumps to the last row: its window is fetched; Home back to the first.
  await page.focus(`${sel('trades-table')} .vt-body`);
  await page.keyboard.press('End');
  await page.waitForSelector(`${sel('trades-table')} .vt-row[data-index="${total - 1}"]:not(.loading)`, WAIT);
  await drawn(page, ['trades-table']);
  assert.equal(await page.getAttribute(sel('trades-table'), 'data-active'), String(total - 1));
  await page.keyboard.press('Home');
  await page.waitForSelector(`${sel('trades-table')} .vt-row[data-index="0"]:not(.loading)`, WAIT);
  // The wheel: rows further down arrive as they come on screen.
  const body = await visibleBox(page, `${sel('trades-table')} .vt-body`);
  await page.mouse.move(body.x + body.width / 2, body.y + body.height / 2);
  for (let i = 0; i < 6; i++) await page.mouse.wheel(0, 900);
  await page.waitForFunction(`Number(document.querySelector('${sel('trades-table')}').dataset.firstRow) > 150`, undefined, WAIT);
  await drawn(page, ['trades-table']);

  // Sort by P&L (descending first): the list starts over at its top, biggest winners first.
  let t = await now(page);
  await page.click(`${sel('trades-table')} [data-sort="pnl"]`);
  await waitForSearch(page, `q.get('sort') === 'pnl.desc'`);
  await drawn(page, ['trades-table'], t);
  const sorted = (await cellTexts(page, 'trades-table', 'pnl')).map(money);
  assert.ok(sorted.length > 5);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i - 1]! >= sorted[i]!, `sorted by P&L: ${sorted.slice(0, 8).join(', ')}`);

  // Side filter
  t = await now(page);
  // The select shows the choice from the change on, in every frame: its value is the route's,
  // changed urgently (route.ts navigate); in a transition it showed the old one until the commit.
  const shown = await page.evaluate(`new Promise((resolve) => {
    const select = document.querySelector(${JSON.stringify(sel('filter-side'))});
    select.value = 'long';
    select.dispatchEvent(new Event('change', { bubbles: true }));
    const seen = [select.value];
    const look = () => (seen.push(select.value) >= 10 ? resolve(seen) : requestAnimationFrame(look));
    queueMicrotask(() => { seen.push(select.value); requestAnimationFrame(look); });
  })`);
  assert.deepEqual([...new Set(shown as string[])], ['long'], `the side select's value in the frames after the change: ${(shown as string[]).join(', ')}`);
  await waitForSearch(page, `q.get('side') === 'long'`);
  await drawn(page, ['trades-table'], t);
  const longs = Number(await page.getAttribute(sel('trades-table'), 'data-total'));
  assert.ok(longs > 0 && longs < total, `${longs} long of ${total}`);
  assert.deepEqual([...new Set(await cellTexts(page, 'trades-table', 'side'))], ['long']);

  // P&L range: losers only
  t = await now(page);
  await page.fill(`${sel('filter-pnl')} input[aria-label="P&L to"]`, '0');
  await page.press(`${sel('filter-pnl')} input[aria-label="P&L to"]`, 'Enter');
  await waitForSearch(page, `q.get('pnl') === '..0'`);
  await drawn(page, ['trades-table'], t);
  const losers = (await cellTexts(page, 'trades-table', 'pnl')).map(money);
  assert.ok(losers.length > 0 && losers.every((v) => v <= 0), `losers: ${losers.slice(0, 5).join(', ')}`);
  assert.deepEqual([...new Set(await cellTexts(page, 'trades-table', 'side'))], ['long']);
  await shot(page, 'trades');

  // Nothing matches: the table says so.
  await page.fill(`${sel('filter-pnl')} input[aria-label="P&L to"]`, '');
  await page.fill(`${sel('filter-pnl')} input[aria-label="P&L from"]`, '100000000');
  await page.press(`${sel('filter-pnl')} input[aria-label="P&L from"]`, 'Enter');
  await page.waitForSelector(`${sel('trades-table')}[data-total="0"]`, WAIT);
  assert.match((await page.textContent(`${sel('trades-table')} .vt-empty`))!, /No trades match these filters/);
  await page.click(sel('clear-filters'));
  await waitForSearch(page, `!q.has('pnl') && !q.has('side')`);
  await page.waitForSelector(`${sel('trades-table')}[data-total="${total}"]`, WAIT);
  await page.close();
});

test('a pasted URL opens the same view: trade from the trade list, filters and sort', async () => {
  // Find a trade through the UI: the biggest loser of the short trades.
  const first = await open('/?view=trades&side=short&sort=pnl.asc');
  await drawn(first, ['trades-table']);
  assert.equal(await first.inputValue(sel('filter-side')), 'short');
  assert.equal(await first.getAttribute(`${sel('trades-table')} [data-sort="pnl"]`, 'aria-sort'), 'ascending');
  const symbol = (await cellTexts(first, 'trades-table', 'symbol'))[0]!;
  const id = (await cellTexts(first, 'trades-table', 'trade_id'))[0]!;
  await first.click(`${sel('trades-table')} .vt-row[data-index="0"]`);
  await first.waitForSelector(`${sel('trade-detail')}[data-found="true"]`, WAIT);
  const url = first.url();
  const detail = await first.textContent(sel('trade-detail'));
  assert.deepEqual((await crumbs(first)).slice(0, 3), ['Portfolio', 'Trades', symbol]);
  await first.close();

  // A new tab (its own session) opens the same view from the URL alone.
  const second = await open(new URL(url).pathname + new URL(url).search);
  await second.waitForSelector(`${sel('trade-detail')}[data-found="true"]`, WAIT);
  await drawn(second, ['price-chart', 'symbol-trades']);
  assert.equal(second.url(), url);
  assert.equal(await second.textContent(sel('trade-detail')), detail);
  assert.deepEqual(await crumbs(second), ['Portfolio', 'Trades', symbol, `Trade ${id}${(await crumbs(second)).at(-1)!.slice(`Trade ${id}`.length)}`]);
  assert.ok(await second.isVisible(sel('range')));
  // A reload too.
  await second.reload();
  await second.waitForSelector(`${sel('trade-detail')}[data-found="true"]`, WAIT);
  assert.equal(second.url(), url);
  // A symbol the dataset does not have says so.
  await second.goto(`${server.url}/?view=symbol&symbol=NO_SUCH_SYMBOL`);
  await second.waitForSelector('.error-box >> text=unknown symbol', WAIT);
  await second.close();
});

test('killing the session process mid-view: the view comes back by itself on a new session', async () => {
  const page = await open('/?view=sectors');
  await drawn(page, ['breakdown-table', 'breakdown-chart']);
  const oldId = (await page.getAttribute(sel('app'), 'data-session-id'))!;
  const pid = (await sessions()).find((s) => s.id === oldId)!.pid!;
  const url = page.url();

  // Kill it, and at once drill into a sector: that request is in flight (or queued) while the
  // connection drops, and is re-sent on the replacement session.
  process.kill(pid, 'SIGKILL');
  const t = await now(page);
  await page.click(`${sel('breakdown-table')} .vt-row[data-index="1"]`);
  await page.waitForFunction(
    `(() => { const a = document.querySelector('[data-testid="app"]'); return a.dataset.state === 'ready' && a.dataset.sessionId !== ${JSON.stringify(oldId)}; })()`,
    undefined,
    WAIT,
  );
  await page.waitForSelector(`${sel('breakdown')}[data-by="symbol"]`, WAIT);
  await drawn(page, ['breakdown-table', 'breakdown-chart'], t);
  assert.ok(await eventually(() => !processAlive(pid), 5000), 'the old process is gone');
  const old = (await sessions()).find((s) => s.id === oldId);
  assert.equal(old?.status, 'terminated');
  assert.notEqual(page.url(), url, 'the drill happened');
  assert.ok(await page.isHidden(sel('lost-banner')));

  // And the new session answers further drilling.
  const t2 = await now(page);
  await page.click(`${sel('breakdown-table')} .vt-row[data-index="0"]`);
  await drawn(page, ['price-chart', 'symbol-trades'], t2);
  await page.close();
});

test('dark theme, and a dataset that failed to prepare says why', async () => {
  const page = await open('/?view=symbol&symbol=S0003');
  await drawn(page, ['price-chart', 'symbol-trades']);
  const t = await now(page);
  await page.click(sel('theme-toggle'));
  await page.waitForFunction(`document.documentElement.dataset.theme === 'dark'`);
  await drawn(page, ['price-chart'], t);
  await shot(page, 'symbol-dark');
  await page.click(sel('theme-toggle'));
  await page.close();

  const dir = await mkdtemp(path.join(tmpdir(), 'tickscope-broken-'));
  await writeFile(path.join(dir, 'bars.parquet'), 'this is not a parquet file\n');
  const broken = await startTestServer({ datasets: [{ id: 'broken', input: dir }], clientDir: CLIENT_DIR, poolSize: 0 });
  try {
    const tab = await browser.context.newPage();
    await tab.goto(broken.url);
    await tab.waitForSelector(`${sel('app')}[data-state="lost"]`, WAIT);
    const banner = (await tab.textContent(sel('lost-banner')))!;
    assert.match(banner, /could not be prepared/);
    assert.match(banner, /bars\.parquet/, `the banner names the file: ${banner}`);
    await tab.close();
  } finally {
    await broken.close();
    await rm(dir, { recursive: true, force: true });
  }
});
