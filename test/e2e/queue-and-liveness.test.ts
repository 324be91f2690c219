// Issue 13, items 3-4 as a person sees them in the browser: a tab that finds every session slot
// taken shows its place in the queue and opens by itself when a slot frees; a tab whose session
// process stops (SIGSTOP) is told, and reconnects to a new session that draws its charts.
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
import { recordAppearances, seenText } from '../support/page-waits.js';

const CLIENT_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const SCREENSHOTS = path.join(repoRoot(), '.cache', 'screenshots');
const CHART_DRAWN = `Number(document.querySelector('[data-testid="equity-chart"]')?.getAttribute('data-points')) > 0`;
const HEARTBEAT_TIMEOUT_MS = 3000;

let server: ControlServer;
let browser: Browser;

before(async () => {
  // One slot: the second tab has to wait for the first.
  server = await startTestServer({ clientDir: CLIENT_DIR, poolSize: 1, limits: { maxSessions: 1, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const sessions = (): Promise<SessionInfo[]> => browserSessions(browser, server.url);
const openTab = (): Promise<Page> => openPage(browser, server.url);

test('a tab that finds every slot taken shows its place in the queue, then opens by itself', { timeout: 90_000 }, async () => {
  const first = await openTab();
  await first.waitForFunction(CHART_DRAWN, undefined, { timeout: 30_000 });
  const firstId = (await first.getAttribute('[data-testid="app"]', 'data-session-id'))!;

  const second = await openTab();
  await second.waitForSelector('[data-testid="queue"][data-position="1"]', { timeout: 30_000 });
  assert.match((await second.textContent('[data-testid="queue"]')) ?? '', /number 1 of 1 waiting/);
  assert.equal(await second.textContent('[data-testid="session-state"]'), 'queued #1');
  await mkdir(SCREENSHOTS, { recursive: true });
  await second.screenshot({ path: path.join(SCREENSHOTS, 'queued.png') });

  // The first tab closes and its session ends: the waiting tab gets the slot and draws.
  await first.close();
  const cookie = (await browser.context.cookies(server.url)).map((c) => `${c.name}=${c.value}`).join('; ');
  assert.equal((await fetch(`${server.url}/api/sessions/${firstId}`, { method: 'DELETE', headers: { cookie } })).status, 204);
  await second.waitForFunction(CHART_DRAWN, undefined, { timeout: 30_000 });
  assert.equal(await second.$('[data-testid="queue"]'), null, 'the queue banner is gone');
  const secondId = (await second.getAttribute('[data-testid="app"]', 'data-session-id'))!;
  assert.notEqual(secondId, firstId);
  await second.close();
  // Frees the one slot for the next test (rather than waiting out the idle countdown).
  assert.equal((await fetch(`${server.url}/api/sessions/${secondId}`, { method: 'DELETE', headers: { cookie } })).status, 204);
});

test('a tab whose session process stops is told, and reconnects to a new session', { timeout: 90_000 }, async () => {
  const page = await openTab();
  await page.waitForFunction(CHART_DRAWN, undefined, { timeout: 30_000 });
  const oldId = (await page.getAttribute('[data-testid="app"]', 'data-session-id'))!;
  const pid = (await sessions()).find((s) => s.id === oldId)!.pid!;
  const banner = '[data-testid="reconnecting-banner"]';
  await recordAppearances(page, banner);
  process.kill(pid, 'SIGSTOP');
  try {
    // The reconnect banner says why (the close frame's reason), then a new session takes over. With
    // a warm pool process that is under half a second, so what the banner showed is recorded in the
    // page rather than polled for.
    await seenText(page, banner, /unresponsive/, HEARTBEAT_TIMEOUT_MS + 10_000);
    await page.waitForFunction(
      `document.querySelector('[data-testid="app"]')?.getAttribute('data-session-id') !== ${JSON.stringify(oldId)} && document.querySelector('[data-testid="app"]')?.getAttribute('data-state') === 'ready'`,
      undefined,
      { timeout: 30_000 },
    );
    await page.waitForFunction(CHART_DRAWN, undefined, { timeout: 30_000 });
    const old = (await sessions()).find((s) => s.id === oldId);
    assert.equal(old?.status, 'terminated');
    assert.equal(old?.reason, 'unresponsive');
    assert.ok(await eventually(() => !processAlive(pid)));
  } finally {
    try {
      process.kill(pid, 'SIGCONT');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  await page.close();
});
