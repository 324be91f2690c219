// Everyday use, in headless Chromium over the tiny fixture. Downloads: the filtered, sorted trade
// list saved as CSV and as Parquet equals, row for row, the trades the session answers for the
// same filters and sort (asked here over the protocol by the Node client); the files are read
// back with DuckDB; the Episodes table downloads as an Arrow stream. The performance overlay:
// timings stay out of the cards until Shift+P shows them, with the overlay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Page } from 'playwright-core';
import type { ControlServer } from '../../server/control/app.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { WAIT, drawn, openReady, sel } from '../support/page-waits.js';
import { startTestServer } from '../support/control-server.js';
import { SessionClient, createSession, rowsOf } from '../support/session-client.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

let server: ControlServer;
let browser: Browser;
let scratch: string;
let duck: DuckDBConnection;

before(async () => {
  server = await startTestServer({ clientDir: CLIENT_DIR, poolSize: 2 });
  browser = await launchBrowser();
  scratch = await mkdtemp(path.join(tmpdir(), 'tickscope-e2e-download-'));
  duck = await (await DuckDBInstance.create(':memory:')).connect();
});

after(async () => {
  await browser?.close();
  await server?.close();
  duck?.closeSync();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Clicks Download, then the format, and saves what the browser downloads; returns its path. */
async function downloadFrom(page: Page, testId: string, format: 'csv' | 'parquet' | 'arrow'): Promise<{ file: string; name: string }> {
  await page.click(sel(`${testId}-button`));
  const [download] = await Promise.all([page.waitForEvent('download', WAIT), page.click(sel(`${testId}-${format}`))]);
  const name = download.suggestedFilename();
  const file = path.join(scratch, `${Date.now()}-${name}`);
  await download.saveAs(file);
  assert.equal(await download.failure(), null);
  return { file, name };
}

test('the filtered trade list downloads as CSV and Parquet, equal to the session\'s answer for the same filters and sort', async () => {
  const page = await openReady(browser, `${server.url}/?view=trades&side=long&sort=pnl.desc`);
  await drawn(page, ['trades-table']);
  const shownCount = Number(((await page.textContent(sel('trade-count'))) ?? '').match(/([\d,]+) trades/)![1]!.replace(/,/g, ''));

  // The same question over the protocol: every long trade, by P&L descending.
  const { wsUrl } = await createSession(server.url, { key: 'download-e2e-reference' });
  const client = await SessionClient.connect(server.url, wsUrl);
  let expected: Record<string, unknown>[];
  try {
    const answer = await client.ask('trades', { filters: { sides: ['long'] }, sort: { column: 'pnl', descending: true }, limit: 10_000 });
    assert.ok(answer.done, JSON.stringify(answer.error));
    expected = rowsOf(answer);
  } finally {
    await client.close();
  }
  assert.equal(expected.length, shownCount, 'the reference is the list the table counts');

  for (const format of ['csv', 'parquet'] as const) {
    const { file, name } = await downloadFrom(page, 'trades-download', format);
    assert.match(name, new RegExp(`-trades\\.${format}$`));
    const rows = (await duck.runAndReadAll(`SELECT run_id, trade_id, side, pnl, epoch_ms(entry_ts) AS entry_ms FROM '${file}'`)).getRowObjectsJS();
    assert.equal(rows.length, expected.length, `${format}: every trade of the list, not the rows on screen`);
    rows.forEach((row, i) => {
      const want = expected[i]!;
      assert.equal(`${row.run_id}/${row.trade_id}`, `${want.run_id}/${want.trade_id}`, `${format} row ${i}`);
      assert.equal(row.side, 'long');
      assert.ok(Math.abs((row.pnl as number) - (want.pnl as number)) <= 1e-9 * Math.max(1, Math.abs(want.pnl as number)), `${format} row ${i} pnl`);
      assert.equal(Number(row.entry_ms), want.entry_ts, `${format} row ${i} entry time`);
    });
  }
  await page.close();
});

test('the drawdown episodes table downloads as an Arrow stream', async () => {
  const page = await openReady(browser, `${server.url}/`);
  await drawn(page, ['episodes']);
  const { file, name } = await downloadFrom(page, 'episodes-download', 'arrow');
  assert.match(name, /-episodes\.arrows$/);
  const { tableFromIPC } = await import('apache-arrow');
  const { readFile } = await import('node:fs/promises');
  const table = tableFromIPC(await readFile(file));
  assert.ok(table.numRows > 0);
  assert.deepEqual(table.schema.fields.map((f) => f.name).slice(0, 3), ['run_id', 'rank', 'peak_ts']);
  await page.close();
});

test('Shift+P shows the performance overlay and the answers\' timings; again hides them', async () => {
  const page = await openReady(browser, `${server.url}/`);
  await drawn(page, ['equity-chart', 'episodes']);
  const timing = /\d+(\.\d+)? ms|from cache/;
  const notes = async () => (await page.locator('.card-title .hint').allTextContents()).join(' | ');
  assert.equal(await page.locator(sel('perf-overlay')).count(), 0);
  assert.doesNotMatch(await notes(), timing, 'no timings in the cards by default');
  await page.keyboard.press('Shift+P');
  await page.waitForSelector(`${sel('perf-overlay')} tbody tr`, WAIT);
  assert.match(await notes(), timing, 'the cards say how fast their answers came');
  assert.ok((await page.locator(`${sel('perf-overlay')} tbody tr`).count()) >= 3, 'the overlay lists the latest answers');
  await page.waitForFunction(`/cache \\d+ hits/.test(document.querySelector('${sel('perf-overlay')}')?.textContent ?? '')`, undefined, WAIT);
  await page.keyboard.press('Shift+P');
  await page.waitForSelector(sel('perf-overlay'), { ...WAIT, state: 'detached' });
  assert.doesNotMatch(await notes(), timing);
  await page.close();
});
