// A run added to a served sweep folder while a tab is open: the control server prepares it as a
// delta segment without a restart, the tab says "1 new run ... reload to include it", and the
// reload opens a session on the new store that knows the run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFixtures } from '../../fixtures/generate.js';
import type { ControlServer } from '../../server/control/app.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { WAIT, sel } from '../support/page-waits.js';
import { startTestServer } from '../support/control-server.js';
import { fixtureRuns, moveRunFiles, writePerRunDataset } from '../support/per-run-dataset.js';
import { workDir } from '../support/tiny-variants.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

let server: ControlServer;
let browser: Browser;
let work: string;
let fixture: string;
let runs: string[];

before(async () => {
  work = await workDir('new-runs-e2e');
  fixture = await ensureFixtures('sweep-small', 7);
  runs = await fixtureRuns(fixture);
  await writePerRunDataset(fixture, path.join(work, 'served'), runs.slice(1));
  server = await startTestServer({
    datasets: [{ id: 'sweep', input: path.join(work, 'served') }],
    storeDir: path.join(work, '.stores'),
    clientDir: CLIENT_DIR,
    poolSize: 1,
    newRunsPollMs: 250,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('a run added to the served folder is offered to the open tab, and a reload includes it', async () => {
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
  await page.goto(`${server.url}/?dataset=sweep`);
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
  const before = await page.getAttribute(sel('app'), 'data-session-id');
  assert.equal(await page.$(sel('new-runs')), null);

  await writePerRunDataset(fixture, path.join(work, 'staging'), [runs[0]!]);
  await moveRunFiles(path.join(work, 'staging'), path.join(work, 'served'), runs[0]!);
  await page.waitForSelector(sel('new-runs'), { timeout: 60_000 });
  assert.match((await page.textContent(sel('new-runs')))!, /1 new run in this dataset: reload to include it/);
  assert.equal(await page.getAttribute(sel('new-runs'), 'title'), runs[0]);

  await page.click(`${sel('new-runs')} button`);
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
  const after = await page.getAttribute(sel('app'), 'data-session-id');
  assert.notEqual(after, before, 'the reload opened a new session on the new store');
  assert.equal(await page.$(sel('new-runs')), null);
  const sessions = (await (await page.request.get(`${server.url}/api/sessions`)).json()) as { id: string; reason: string | null }[];
  assert.equal(sessions.find((s) => s.id === before)?.reason, 'dataset-grown');
  assert.equal(server.datasets.list()[0]!.addedRuns.join(), runs[0]);
  await page.close();
});
