// A backtest without bars of its own, opened in the browser as a new user would: vectorbt trade
// records alone get daily bars made of the trades, and the page says so above every view; a
// portfolio-only returns series says so too, and its sector and symbol views explain why they
// are empty instead of showing a lone pseudo-symbol. A file beside the records that was not read
// (a .7z) is named in the page's notice, with why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { portfolioFixtures } from '../../fixtures/formats/portfolio.js';
import { ensureVectorbtFixtures } from '../../fixtures/formats/vectorbt.js';
import type { ControlServer } from '../../server/control/app.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { WAIT, sel } from '../support/page-waits.js';
import { startTestServer } from '../support/control-server.js';
import { workDir } from '../support/tiny-variants.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

let server: ControlServer;
let browser: Browser;

before(async () => {
  const work = await workDir('bars-origin-e2e');
  const [vbt, portfolio] = await Promise.all([ensureVectorbtFixtures(), portfolioFixtures()]);
  const beside = path.join(work, 'vbt-beside-7z');
  await cp(vbt.tradesDir, beside, { recursive: true });
  await writeFile(path.join(beside, 'orders.7z'), Buffer.from('377abcaf271c0004', 'hex'));
  server = await startTestServer({
    datasets: [
      { id: 'vbt', input: vbt.tradesDir },
      { id: 'returns', input: portfolio.returnsDir },
      { id: 'beside', input: beside },
    ],
    storeDir: path.join(work, '.stores'),
    clientDir: CLIENT_DIR,
    poolSize: 1,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('vectorbt trades alone: the overview opens on bars made of the trades, and says so', async () => {
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
  await page.goto(`${server.url}/?dataset=vbt`);
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
  await page.waitForSelector(`${sel('bars-origin')}[data-origin="trades"]`, WAIT);
  assert.match((await page.textContent(sel('bars-origin')))!, /built from its trades/);
  await page.waitForSelector(`${sel('kpis')}[aria-busy="false"]`, WAIT);
  await page.goto(`${server.url}/?dataset=vbt&view=symbols`);
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
  // The symbols are there (BTC-USD, ETH-USD, SOL-USD): a breakdown, not the empty state.
  await page.waitForSelector('text=BTC-USD', WAIT);
  assert.equal(await page.$(sel('no-symbol-bars')), null);
  await page.close();
});

test('a returns series alone: the notice, and sector and symbol views say why they are empty', async () => {
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
  await page.goto(`${server.url}/?dataset=returns`);
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
  await page.waitForSelector(`${sel('bars-origin')}[data-origin="portfolio"]`, WAIT);
  await page.goto(`${server.url}/?dataset=returns&view=sectors`);
  await page.waitForSelector(sel('no-symbol-bars'), WAIT);
  assert.match((await page.textContent(sel('no-symbol-bars')))!, /no bars per symbol/);
  await page.close();
});

test('a file the preparation did not read is named in the page, with why', async () => {
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
  await page.goto(`${server.url}/?dataset=beside`);
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
  await page.waitForSelector(sel('data-quality'), WAIT);
  assert.match((await page.textContent(`${sel('data-quality')} summary`))!, /1 input file not read/);
  assert.match((await page.textContent(sel('not-read')))!, /orders\.7z \(an archive of a kind not opened: unpack it, or make it a zip or tar\)/);
  await page.close();
});
