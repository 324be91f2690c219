// Two browser tabs, two session processes: each tab draws the chart its own process streamed;
// closing a tab ends its process after the idle timeout while the other tab keeps working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { repoRoot } from '../../fixtures/generate.js';
import type { ControlServer } from '../../server/control/app.js';
import type { SessionInfo } from '../../shared/http-api.js';
import { browserSessions, launchBrowser, openPage, type Browser } from '../support/browser.js';
import { eventually, processAlive, startTestServer } from '../support/control-server.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const SCREENSHOTS = path.join(repoRoot(), '.cache', 'screenshots');
const IDLE_MS = 1500;
/** Page-side condition (a string: these tests are compiled without DOM types). */
const CHART_DRAWN = `Number(document.querySelector('[data-testid="equity-chart"]')?.getAttribute('data-points')) > 0`;

let server: ControlServer;
let browser: Browser;

before(async () => {
  server = await startTestServer({ clientDir: CLIENT_DIR, poolSize: 2, limits: { idleTimeoutMs: IDLE_MS } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** The sessions of this browser: its tabs' owner is the browser, so the list is asked with its cookie. */
const sessions = (): Promise<SessionInfo[]> => browserSessions(browser, server.url);

/** Opens the app in a new tab and waits until its equity chart is drawn. */
async function openTab(): Promise<{ page: Page; sessionId: string; firstChartMs: number }> {
  const page = await openPage(browser, server.url);
  await page.waitForFunction(CHART_DRAWN, undefined, { timeout: 30_000 });
  const sessionId = (await page.getAttribute('[data-testid="app"]', 'data-session-id'))!;
  const firstChartMs = (await page.evaluate('window.__tickscope.firstChartMs')) as number;
  return { page, sessionId, firstChartMs };
}

test('each tab gets its own session process and draws the chart that process streamed', async () => {
  const one = await openTab();
  const two = await openTab();
  await mkdir(SCREENSHOTS, { recursive: true });
  await one.page.screenshot({ path: path.join(SCREENSHOTS, 'overview.png') });
  console.log(`tab-open -> first chart drawn: ${one.firstChartMs.toFixed(0)} ms and ${two.firstChartMs.toFixed(0)} ms (tiny fixture)`);

  assert.notEqual(one.sessionId, two.sessionId);
  const live = (await sessions()).filter((s) => s.status === 'ready');
  const infoOne = live.find((s) => s.id === one.sessionId);
  const infoTwo = live.find((s) => s.id === two.sessionId);
  assert.ok(infoOne && infoTwo, 'both tabs have a live session');
  assert.ok(infoOne.pid && infoTwo.pid && infoOne.pid !== infoTwo.pid, 'two processes');
  assert.equal(infoOne.connections, 1);
  assert.equal(infoTwo.connections, 1);
  // Each process answered its own tab's query (stats are reported once a second).
  assert.ok(
    await eventually(async () => {
      const all = await sessions();
      return [one.sessionId, two.sessionId].every((id) => (all.find((s) => s.id === id)?.queriesServed ?? 0) >= 1);
    }, 5000),
    'each session served its tab',
  );

  // A reload keeps the tab's key (sessionStorage) and reattaches to the same process.
  await two.page.reload();
  await two.page.waitForFunction(CHART_DRAWN);
  assert.equal(await two.page.getAttribute('[data-testid="app"]', 'data-session-id'), two.sessionId);

  // Closing tab one: its socket closes, the idle countdown runs out, its process is ended.
  await one.page.close();
  assert.ok(
    await eventually(async () => {
      const info = (await sessions()).find((s) => s.id === one.sessionId);
      return info?.status === 'terminated' && info.reason === 'idle';
    }, IDLE_MS + 8000),
    'the closed tab\'s session ended as idle',
  );
  assert.ok(await eventually(() => !processAlive(infoOne.pid!)), 'its process is gone');

  // Tab two is untouched: still ready, and it still answers (a resize asks for a new width).
  assert.equal((await sessions()).find((s) => s.id === two.sessionId)?.status, 'ready');
  assert.ok(processAlive(infoTwo.pid));
  const drawnAt = await two.page.getAttribute('[data-testid="equity-chart"]', 'data-drawn-at');
  await two.page.setViewportSize({ width: 900, height: 700 });
  await two.page.waitForFunction(
    `document.querySelector('[data-testid="equity-chart"]')?.getAttribute('data-drawn-at') !== ${JSON.stringify(drawnAt)}`,
    undefined,
    { timeout: 10_000 },
  );
  assert.equal(await two.page.getAttribute('[data-testid="app"]', 'data-state'), 'ready');
});
