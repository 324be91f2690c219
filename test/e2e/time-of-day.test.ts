// The overview's time-of-day, weekday and month charts and the trade scatter, in headless
// Chromium over the tiny fixture: the charts draw; a click on an hour bar sets the close-hour
// filter (URL, chip) and the KPIs' trade count becomes that bar's; a weekday click adds its
// filter, a month click zooms; the scatter draws every trade in scope and a click on a point
// opens that trade in its symbol's view.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { ControlServer } from '../../server/control/app.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { WAIT, drawn, now, openReady, sel, settled, waitForSearch } from '../support/page-waits.js';
import { startTestServer } from '../support/control-server.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

let server: ControlServer;
let browser: Browser;

before(async () => {
  server = await startTestServer({ clientDir: CLIENT_DIR, poolSize: 2 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const open = (url: string): Promise<Page> => openReady(browser, `${server.url}${url}`);

/** The KPIs' trade count, summed over the runs shown. */
async function kpiTrades(page: Page): Promise<number> {
  const texts = await page.locator(`${sel('kpis')} [data-kpi="trade_count"] .kpi-value`).allTextContents();
  return texts.reduce((sum, t) => sum + Number(t.replace(/[,\s]/g, '')), 0);
}

/** The trade count a bar's label states ("... 140 trades closed ..."); 0 when none. */
function barTrades(label: string): number {
  const m = /([\d,]+) trades closed/.exec(label);
  return m ? Number(m[1]!.replace(/,/g, '')) : 0;
}

const CHARTS = ['by-hour-chart', 'by-weekday-chart', 'by-month-chart', 'trade-scatter', 'kpis'];

test('time charts: an hour bar filters every trade measure to trades closing then; weekday and month bars too', async () => {
  const page = await open('/');
  await drawn(page, CHARTS);
  for (const id of ['by-hour-chart', 'by-weekday-chart', 'by-month-chart']) {
    assert.ok(Number(await page.getAttribute(sel(id), 'data-bars')) >= 1, `${id} has bars`);
  }
  const everyTrade = await kpiTrades(page);
  assert.ok(everyTrade > 0);
  assert.equal(Number(await page.getAttribute(sel('trade-scatter'), 'data-points')), everyTrade, 'the scatter draws every trade');

  // The hour bar with the fewest trades (but some): its count is what the KPIs must show.
  const hourBars = page.locator(`${sel('by-hour-chart')} .cb-bar`);
  const labels = await hourBars.evaluateAll((els) => els.map((el) => [el.getAttribute('data-key') ?? '', el.getAttribute('aria-label') ?? '']));
  const withTrades = labels.filter(([, label]) => barTrades(label!) > 0).sort((a, b) => barTrades(a[1]!) - barTrades(b[1]!));
  assert.ok(withTrades.length >= 2, `hours with trades: ${JSON.stringify(labels)}`);
  const [hourKey, hourLabel] = withTrades[0]! as [string, string];
  const want = barTrades(hourLabel);
  assert.ok(want < everyTrade);

  let t = await now(page);
  await page.click(`${sel('by-hour-chart')} .cb-bar[data-key="${hourKey}"] .cb-hit`);
  await waitForSearch(page, `q.get('hour') === '${Number(hourKey)}'`);
  await drawn(page, ['kpis', 'trade-scatter', 'by-hour-chart'], t);
  const chip = (await page.textContent(sel('filters-chip'))) ?? '';
  assert.match(chip, new RegExp(`closed ${hourKey}:00–${hourKey}:59 exchange time`));
  assert.equal(await kpiTrades(page), want, 'the KPIs count the trades closing in that hour');
  assert.equal(Number(await page.getAttribute(sel('trade-scatter'), 'data-points')), want, 'the scatter shows them');
  assert.equal(await page.getAttribute(`${sel('by-hour-chart')} .cb-bar[data-key="${hourKey}"]`, 'aria-pressed'), 'true');

  // A weekday joins the filter.
  const dayKey = (await page.locator(`${sel('by-weekday-chart')} .cb-bar`).first().getAttribute('data-key'))!;
  t = await now(page);
  await page.click(`${sel('by-weekday-chart')} .cb-bar[data-key="${dayKey}"] .cb-hit`);
  await waitForSearch(page, `q.get('wday') !== null && q.get('hour') === '${Number(hourKey)}'`);
  await drawn(page, ['kpis'], t);
  assert.match((await page.textContent(sel('filters-chip'))) ?? '', new RegExp(`closed on ${dayKey}`));
  assert.ok((await kpiTrades(page)) <= want);

  // Clicking the hour again removes it; Clear removes the rest.
  await page.click(`${sel('by-hour-chart')} .cb-bar[data-key="${hourKey}"] .cb-hit`);
  await waitForSearch(page, `q.get('hour') === null && q.get('wday') !== null`);
  await page.click(`${sel('filters-chip')} button`);
  await waitForSearch(page, `q.get('wday') === null`);

  // A month zooms every view to it.
  const monthKey = (await page.locator(`${sel('by-month-chart')} .cb-bar`).first().getAttribute('data-key'))!;
  await page.click(`${sel('by-month-chart')} .cb-bar[data-key="${monthKey}"] .cb-hit`);
  await waitForSearch(page, `(q.get('from') ?? '').startsWith('${monthKey}-01T00:00:00')`);
  await page.close();

  // A pasted URL: the hour applies, values out of range are dropped.
  const pasted = await open(`/?hour=99,${Number(hourKey)}&wday=9`);
  await drawn(pasted, ['kpis']);
  const pastedChip = (await pasted.textContent(sel('filters-chip'))) ?? '';
  assert.match(pastedChip, new RegExp(`closed ${hourKey}:00–${hourKey}:59 exchange time`));
  assert.doesNotMatch(pastedChip, /closed on/);
  assert.equal(await kpiTrades(pasted), want);
  await pasted.close();
});

test('trade scatter: MAE and MFE against return; a click on a point opens its trade', async () => {
  const page = await open('/');
  await drawn(page, ['trade-scatter']);
  assert.match((await page.textContent(sel('trade-scatter-count'))) ?? '', /^[\d,]+ trades/);
  await page.click(sel('scatter-mfe'));
  assert.equal(await page.getAttribute(sel('scatter-mfe'), 'aria-pressed'), 'true');
  const t = await now(page);
  await page.click(sel('scatter-mae'));
  await drawn(page, ['trade-scatter'], t);

  const canvas = page.locator(`${sel('trade-scatter')} canvas`);
  await settled(page, `${sel('trade-scatter')} canvas`);
  const point = (await page.getAttribute(sel('trade-scatter'), 'data-first-point'))!;
  const [px, py] = point.split(',').map(Number) as [number, number];
  await canvas.hover({ position: { x: px, y: py } });
  const tip = (await page.waitForSelector(sel('trade-scatter-tip'), WAIT)).textContent();
  const symbol = /^(\S+) · trade (\d+)/.exec((await tip) ?? '');
  assert.ok(symbol, `tooltip: ${await tip}`);
  await canvas.click({ position: { x: px, y: py } });
  await waitForSearch(page, `q.get('view') === 'symbol' && q.get('trade') !== null`);
  const q = new URLSearchParams(new URL(page.url()).search);
  assert.equal(q.get('symbol'), symbol[1]);
  assert.match(q.get('trade') ?? '', new RegExp(`:${symbol[2]}$`));
  await drawn(page, ['price-chart']);
  await page.close();
});
