// Debian's Chromium driven by playwright-core; never a downloaded browser.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setPriority } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { SessionInfo } from '../../shared/http-api.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  /** The profile folder, which every process of this Chromium names on its command line. */
  userDataDir: string;
  close(): Promise<void>;
}

/**
 * A headless Chromium with a fresh profile that is deleted on close; `extraArgs` are added to the
 * flags every test uses (bench:peers adds --host-resolver-rules so that only loopback is reachable).
 */
export async function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'tickscope-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1200, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
  return {
    context,
    userDataDir,
    close: async () => {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A new tab at `url`; an uncaught error on its page fails the test. */
export async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
  await page.goto(url);
  return page;
}

/** The sessions of this browser: its tabs' owner is the browser, so the list is asked with its cookie. */
export async function browserSessions(browser: Browser, baseUrl: string): Promise<SessionInfo[]> {
  const cookie = (await browser.context.cookies(baseUrl)).map((c) => `${c.name}=${c.value}`).join('; ');
  return (await fetch(`${baseUrl}/api/sessions`, { headers: { cookie } })).json() as Promise<SessionInfo[]>;
}

/**
 * Lowers the CPU priority of every thread of this Chromium's processes to `nice`: what its
 * processes fork or start from now on inherits it. Linux's nice is per thread, so each task of
 * each process is set. Throws when no process of this Chromium was found (the flag would do nothing).
 */
export async function reniceBrowser(browser: Browser, nice: number): Promise<void> {
  let threads = 0;
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '');
    if (!cmdline.includes(browser.userDataDir)) continue;
    for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
      try {
        setPriority(Number(tid), nice);
        threads++;
      } catch (error) {
        // A thread that ended meanwhile; anything else (not allowed, say) is the caller's to know.
        if ((error as { info?: { code?: string } }).info?.code !== 'ESRCH') throw error;
      }
    }
  }
  if (threads === 0) throw new Error(`no process of the Chromium of ${browser.userDataDir} was found to renice`);
}
