// "Why did it lose money", in headless Chromium over the tiny fixture: a drawdown episode clicked
// in the overview zooms every view to it and opens its attribution; a sector of the waterfall
// opens its symbols', a symbol opens its view with the trades of the range, a trade its detail;
// the range chip's "Explain this range" brings the attribution back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { repoRoot } from '../../fixtures/generate.js';
import type { ControlServer } from '../../server/control/app.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { WAIT, clickUntilSearch, drawn, now, openReady, search, sel } from '../support/page-waits.js';
import { startTestServer } from '../support/control-server.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
// Under .cache/, as the drill test's: a test run never rewrites committed files.
const SCREENSHOTS = path.join(repoRoot(), '.cache', 'screenshots', 'episodes-attribution');

let server: ControlServer;
let browser: Browser;

before(async () => {
  server = await startTestServer({ clientDir: CLIENT_DIR, poolSize: 1 });
  browser = await launchBrowser();
  await mkdir(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** The waterfall's parts (key, value) and its total, as the page drew them. */
async function waterfall(page: Page, run: string): Promise<{ parts: { key: string; value: number }[]; total: number }> {
  const box = page.locator(sel(`waterfall-${run}`));
  const parts = await box.locator('button.wf-row').evaluateAll((rows) =>
    rows.map((row) => ({ key: (row as unknown as { dataset: Record<string, string> }).dataset.key!, value: Number((row as unknown as { dataset: Record<string, string> }).dataset.value) })),
  );
  return { parts, total: Number(await box.getAttribute('data-total')) };
}

test('episode -> attribution -> sector -> symbol -> trade, and "Explain this range" from the range chip', async () => {
  const page = await openReady(browser, `${server.url}/?runs=base`);
  await drawn(page, ['episodes', 'kpis']);
  const rows = page.locator(`${sel('episodes')} tbody tr`);
  assert.ok((await rows.count()) > 0, 'the fixture has drawdown episodes');
  assert.equal(await page.locator(sel('attribution')).count(), 0, 'no attribution before a range is explained');

  // The deepest episode: every view zooms to it and its attribution opens.
  let t = await now(page);
  await rows.first().click();
  await page.waitForFunction(`new URLSearchParams(location.search).has('from')`, undefined, WAIT);
  const q = await search(page);
  assert.ok(q.get('from') && q.get('to'), 'the range is the episode');
  await drawn(page, ['attribution-body', 'equity-chart', 'kpis'], t);
  await page.waitForSelector(sel('range'), WAIT);
  const sectors = await waterfall(page, 'base');
  assert.ok(sectors.parts.length >= 3, `${sectors.parts.length} sectors`);
  const sum = sectors.parts.reduce((a, p) => a + p.value, 0);
  await page.locator(sel('attribution')).scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(SCREENSHOTS, 'episode-attribution.png'), fullPage: true });
  assert.ok(Math.abs(sum - sectors.total) <= 1e-6 * Math.max(1, Math.abs(sectors.total)), `the sectors sum to the total: ${sum} vs ${sectors.total}`);

  // A sector -> its symbols' waterfall, summing to the sector's P&L.
  const sector = sectors.parts[0]!;
  t = await now(page);
  await page.locator(`${sel('waterfall-base')} button.wf-row[data-key="${sector.key}"]`).click();
  await page.waitForSelector(`${sel('attribution')}[data-sector="${sector.key}"]`, WAIT);
  await drawn(page, ['attribution-body'], t);
  const symbols = await waterfall(page, 'base');
  assert.ok(symbols.parts.length >= 1);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'sector-symbols.png'), fullPage: true });
  assert.ok(Math.abs(symbols.total - sector.value) <= 1e-6 * Math.max(1, Math.abs(sector.value)), `the symbols sum to the sector: ${symbols.total} vs ${sector.value}`);

  // A symbol -> its view over the same range, with its trades.
  const symbol = symbols.parts.find((p) => p.key !== '')!;
  t = await now(page);
  await page.locator(`${sel('waterfall-base')} button.wf-row[data-key="${symbol.key}"]`).click();
  await page.waitForFunction(`new URLSearchParams(location.search).get('symbol') === ${JSON.stringify(symbol.key)}`, undefined, WAIT);
  await drawn(page, ['price-chart', 'symbol-trades'], t);
  const zoomed = await search(page);
  assert.equal(zoomed.get('view'), 'symbol');
  assert.equal(zoomed.get('from'), q.get('from'), 'the range is kept');

  // A trade of the symbol -> its detail.
  const trade = page.locator(`${sel('symbol-trades')} .vt-row[data-index="0"]`);
  await trade.waitFor(WAIT);
  await trade.click();
  await page.waitForSelector(`${sel('trade-detail')}[data-found="true"]`, WAIT);
  assert.match((await search(page)).get('trade') ?? '', /^base:\d+$/);

  // The range chip explains whatever range is selected: back to the overview, sectors again.
  t = await now(page);
  await page.click(sel('explain-chip'));
  await page.waitForFunction(`document.querySelector('[data-testid="app"]').dataset.level === 'overview'`, undefined, WAIT);
  await page.waitForSelector(`${sel('attribution')}[data-sector=""]`, WAIT);
  await drawn(page, ['attribution-body'], t);
  assert.ok((await waterfall(page, 'base')).parts.length >= 3);
  await page.close();
});

test('a link keeps the explanation and the risk-free rate; a sector\'s trades of the range are one click away', async () => {
  // Everything from the URL: a range, one sector's attribution open, a 5% risk-free rate.
  const first = await openReady(browser, `${server.url}/?runs=base`);
  await drawn(first, ['episodes']);
  await first.locator(`${sel('episodes')} tbody tr`).first().click();
  await first.waitForFunction(`new URLSearchParams(location.search).get('explain') === '1'`, undefined, WAIT);
  await drawn(first, ['attribution-body']);
  const sector = (await waterfall(first, 'base')).parts[0]!.key;
  await first.locator(`${sel('waterfall-base')} button.wf-row[data-key="${sector}"]`).click();
  await first.waitForFunction(`new URLSearchParams(location.search).get('explain') === ${JSON.stringify(sector)}`, undefined, WAIT);
  const input = first.locator(sel('risk-free-rate'));
  await input.fill('5');
  await input.press('Enter');
  await first.waitForFunction(`new URLSearchParams(location.search).get('rf') === '0.05'`, undefined, WAIT);
  const link = first.url();
  await first.close();

  const page = await openReady(browser, link);
  await page.waitForSelector(`${sel('attribution')}[data-sector="${sector}"]`, WAIT);
  await drawn(page, ['attribution-body']);
  assert.equal(await page.locator(sel('risk-free-rate')).inputValue(), '5', 'the rate comes back from the link');
  const symbols = await waterfall(page, 'base');
  assert.ok(symbols.parts.length >= 1, 'the sector\'s symbols are drawn');

  // The sector's trades closed in the range: the trade list, filtered to the sector, same range.
  await clickUntilSearch(page, page.locator(`${sel('attribution')} button.link`, { hasText: `The trades of ${sector} closed in this range` }), `q.get('view') === 'trades'`);
  await page.waitForSelector(sel('trades-view'), WAIT);
  const q = await search(page);
  assert.equal(q.get('view'), 'trades');
  assert.equal(q.get('sector'), sector);
  assert.equal(q.get('from'), new URLSearchParams(new URL(link).search).get('from'), 'the range is kept');
  await page.waitForFunction(`/^[\\d,]+ trades/.test(document.querySelector('[data-testid="trade-count"]').textContent)`, undefined, WAIT);
  const sectorCount = Number((await page.locator(sel('trade-count')).textContent())!.match(/^([\d,]+)/)![1]!.replace(/,/g, ''));
  assert.ok(sectorCount > 0, 'the sector has trades closing in the episode');
  // Every trade listed is of the sector: its symbols are the waterfall's.
  const listed = await page.locator(`${sel('trades-table')} .vt-row`).evaluateAll((rows) => rows.map((r) => r.textContent ?? ''));
  const sectorSymbols = symbols.parts.map((p) => p.key);
  for (const row of listed) assert.ok(sectorSymbols.some((s) => row.includes(s)), `${row} is a trade of ${sector}`);
  await page.close();
});
