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
import { launchBrowser, openPage, type Browser } from '../support/browser.js';
import { startTestServer } from '../support/control-server.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const WAIT = { timeout: 30_000 };
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

const sel = (id: string) => `[data-testid="${id}"]`;

async function now(page: Page): Promise<number> {
  return (await page.evaluate('performance.now()')) as number;
}

/** Waits until each view shows exact data drawn after `after` (page clock). */
async function drawn(page: Page, ids: string[], after = 0): Promise<void> {
  await page.waitForFunction(
    `${JSON.stringify(ids)}.every((id) => {
      const el = document.querySelector('[data-testid="' + id + '"]');
      if (!el || el.dataset.exact !== 'true' || el.dataset.loading === 'true') return false;
      const drawnAt = Number(el.dataset.drawnAt);
      return drawnAt > ${after} && Number(el.dataset.paintedAt) >= drawnAt;
    })`,
    undefined,
    WAIT,
  );
}

async function search(page: Page): Promise<URLSearchParams> {
  return new URLSearchParams(new URL(page.url()).search);
}

/** The waterfall's parts (key, value) and its total, as the page drew them. */
async function waterfall(page: Page, run: string): Promise<{ parts: { key: string; value: number }[]; total: number }> {
  const box = page.locator(sel(`waterfall-${run}`));
  const parts = await box.locator('button.wf-row').evaluateAll((rows) =>
    rows.map((row) => ({ key: (row as unknown as { dataset: Record<string, string> }).dataset.key!, value: Number((row as unknown as { dataset: Record<string, string> }).dataset.value) })),
  );
  return { parts, total: Number(await box.getAttribute('data-total')) };
}

test('episode -> attribution -> sector -> symbol -> trade, and "Explain this range" from the range chip', async () => {
  const page = await openPage(browser, `${server.url}/?runs=base`);
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
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
