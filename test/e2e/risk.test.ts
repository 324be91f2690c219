// The overview's risk tiles and the benchmark's line in headless Chromium over the tiny fixture:
// the benchmark is named (the dataset's equal-weighted market by default), the robustness and
// benchmark tiles show numbers, the equity chart draws the benchmark's line, and a risk-free rate
// typed in the overview reaches Sharpe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { ControlServer } from '../../server/control/app.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { WAIT, drawn, openReady, sel } from '../support/page-waits.js';
import { startTestServer } from '../support/control-server.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

let server: ControlServer;
let browser: Browser;

before(async () => {
  server = await startTestServer({ clientDir: CLIENT_DIR, poolSize: 1 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});


const tileText = (page: Page, key: string) => page.locator(`${sel('risk-tiles')} [data-kpi="${key}"] .kpi-value`).first().textContent();

test('overview: risk tiles against the named benchmark, its line on the equity chart, and the risk-free rate', async () => {
  const page = await openReady(browser, `${server.url}/`);
  await drawn(page, ['risk-tiles']);
  assert.match((await page.textContent(sel('benchmark-name')))!, /^Equal-weighted market \(\d+ symbols\)$/);
  for (const key of ['psr', 'ex_top5pct_trades', 'ex_top5_symbols', 'alpha', 'beta', 'correlation', 'tracking_error', 'information_ratio']) {
    const text = (await tileText(page, key))!;
    assert.match(text, /\d/, `tile ${key} shows a number, not "${text}"`);
  }
  // Every concentration variant is in the tooltip.
  const title = (await page.locator(`${sel('risk-tiles')} [data-kpi="ex_top5_symbols"] .kpi-value`).first().getAttribute('title'))!;
  for (const line of ['best 1% of trades', 'best 5% of trades', 'best symbol', 'best 5 symbols', 'best 10 symbols', 'Best symbols:']) assert.ok(title.includes(line), `tooltip lists "${line}": ${title}`);
  // The benchmark's line is a series of the equity chart.
  await page.waitForSelector(`${sel('equity-chart')} .u-legend >> text=/Equal-weighted market.*\\(benchmark\\)/`, WAIT);

  // A risk-free rate lowers Sharpe (the tiny runs have positive and negative Sharpe alike, so
  // compare with what the same rate gives: Sharpe changes, the request carries it).
  await page.waitForFunction(`document.querySelector('[data-testid="kpis"] [data-kpi="sharpe"] .kpi-value')?.textContent?.match(/\\d/)`, undefined, WAIT);
  const before = await page.locator(`${sel('kpis')} [data-kpi="sharpe"] .kpi-value`).first().textContent();
  const psrBefore = await tileText(page, 'psr');
  await page.fill(sel('risk-free-rate'), '25');
  await page.press(sel('risk-free-rate'), 'Enter');
  await page.waitForFunction(
    `document.querySelector('[data-testid="kpis"] [data-kpi="sharpe"] .kpi-value')?.textContent !== ${JSON.stringify(before)}`,
    undefined,
    WAIT,
  );
  await page.waitForFunction(`document.querySelector('[data-testid="risk-tiles"] [data-kpi="psr"] .kpi-value')?.textContent !== ${JSON.stringify(psrBefore)}`, undefined, WAIT);
  await page.close();
});
