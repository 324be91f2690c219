// The display zone in the browser: a New York dataset (the tiny fixture written as New York wall
// clock, with "timezone" in its tickscope.json) shows its trades at 09:35 New York time; the
// header's toggle switches every time to UTC (14:35 in March before the daylight-saving change),
// and the choice survives a reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { ControlServer } from '../../server/control/app.js';
import { sqlString } from '../../server/sql/text.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { startTestServer } from '../support/control-server.js';
import { copyTiny, duck, workDir } from '../support/tiny-variants.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const WAIT = { timeout: 30_000 };
const NY = 'America/New_York';
const sel = (id: string) => `[data-testid="${id}"]`;

let server: ControlServer;
let browser: Browser;

before(async () => {
  const work = await workDir('timezone-e2e');
  const dir = path.join(work, 'new-york');
  const tiny = await copyTiny(dir, ['bars', 'trades']);
  // Nine weeks later (Tuesday 5 March 2024), as New York wall clock.
  const wallClock = (ts: string) => `timezone('${NY}', timezone('UTC', ${ts})) + INTERVAL 63 DAY`;
  await duck(
    `COPY (SELECT * REPLACE (${wallClock('ts')} AS ts) FROM read_parquet(${sqlString(path.join(tiny, 'bars', '*', '*.parquet'))}, hive_partitioning = true))
      TO ${sqlString(path.join(dir, 'bars'))} (FORMAT parquet, PARTITION_BY (run_id))`,
    `COPY (SELECT * REPLACE (${wallClock('entry_ts')} AS entry_ts, ${wallClock('exit_ts')} AS exit_ts) FROM read_parquet(${sqlString(path.join(tiny, 'trades', 'trades.parquet'))}))
      TO ${sqlString(path.join(dir, 'trades.parquet'))} (FORMAT parquet)`,
  );
  await writeFile(path.join(dir, 'tickscope.json'), JSON.stringify({ timezone: NY }));
  server = await startTestServer({ datasets: [{ id: 'ny', input: dir }], storeDir: path.join(work, '.stores'), clientDir: CLIENT_DIR, poolSize: 1 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function firstEntry(page: Page): Promise<string> {
  const row = `${sel('trades-table')} .vt-row[data-index="0"]:not(.loading)`;
  await page.waitForSelector(row, WAIT);
  return (await page.textContent(row)) ?? '';
}

test('times in the exchange zone by default; the header toggle shows UTC, remembered across a reload', async () => {
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
  await page.goto(`${server.url}/?view=trades&sort=entry_ts`);
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
  await page.waitForSelector(`${sel('zone-toggle')}[data-zone="${NY}"]`, WAIT);
  assert.match((await page.textContent(sel('zone-toggle')))!, /New York time/);
  assert.match(await firstEntry(page), /05 Mar 24, 09:35/);
  assert.match((await page.textContent(sel('trades-table')))!, /Entry \(New York\)/);

  await page.click(sel('zone-toggle'));
  await page.waitForSelector(`${sel('zone-toggle')}[data-zone="UTC"]`, WAIT);
  assert.match(await firstEntry(page), /05 Mar 24, 14:35/);

  await page.reload();
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
  await page.waitForSelector(`${sel('zone-toggle')}[data-zone="UTC"]`, WAIT);
  assert.match(await firstEntry(page), /05 Mar 24, 14:35/);
  await page.click(sel('zone-toggle'));
  await page.waitForSelector(`${sel('zone-toggle')}[data-zone="${NY}"]`, WAIT);
  await page.close();
});
