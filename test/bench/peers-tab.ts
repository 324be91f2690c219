// bench:peers' tabs (peers.ts): one measured tab in a fresh Chromium that can reach loopback only,
// its outcome (an answer, or why there is none) and its renderer's memory, read from /proc.
import { readdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { errorMessage } from '../../shared/errors.js';
import { launchBrowser } from '../support/browser.js';
import { procText, processMemory } from '../support/proc.js';

/** Why a measurement has no figure: a short word for the table, the whole story for the notes. */
export interface Failure {
  failed: string;
  detail: string;
}
export type Outcome<T> = T | Failure;

export function isFailure<T>(outcome: Outcome<T>): outcome is Failure {
  return typeof outcome === 'object' && outcome !== null && 'failed' in outcome;
}

/** An error text from a peer, classified for the table. */
export function peerFailure(where: string, message: string): Failure {
  const failed = /out of memory|could not allocate|Memory\(\)|allocation failed/i.test(message) ? 'out of memory' : 'error';
  return { failed, detail: `${where}: ${message}` };
}

export interface TabMemory {
  /** VmHWM of the tab's renderer: the kernel's peak RSS of the process. */
  hwmBytes: number;
  /** The highest VmRSS of that process seen by sampling every 250 ms. */
  sampledRssBytes: number;
}

export interface TabRun<T> {
  outcome: Outcome<T>;
  /** Null when no tab was measured (the warm-up failed: the outcome says how). */
  memory: TabMemory | null;
}

/** A page to open, and a JS expression that becomes truthy in it, with the result, once it has answered. */
export interface TabTarget {
  url: string;
  answer: string;
}

/** Only loopback can be reached: a peer that tries the internet fails here, as it must. */
const LOOPBACK_ONLY = ['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];
/** The warm-up tab only starts the tool (no data): ample, whatever the measured tab's timeout. */
const WARM_UP_TIMEOUT_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `measured` in a fresh Chromium, at most `timeoutMs` from tab open; a crashed tab, an uncaught
 * page error or the timeout is the outcome instead, and `judge` may turn an answer into a failure
 * (a peer page reporting its own error). First `warmUp` in a tab of its own, unmeasured, so that
 * the tool's code is in the browser's cache as bench:sessions has Tickscope's; `beforeMeasure`
 * runs between the two.
 */
export async function inFreshTab<T>(options: {
  measured: TabTarget;
  warmUp: TabTarget;
  timeoutMs: number;
  judge?: (value: T) => Outcome<T>;
  beforeMeasure?: () => Promise<void>;
}): Promise<TabRun<T>> {
  const { judge = (value: T) => value } = options;
  const judged = (outcome: Outcome<T>) => (isFailure(outcome) ? outcome : judge(outcome));
  const browser = await launchBrowser(LOOPBACK_ONLY);
  try {
    const warmPage = browser.context.pages()[0] ?? (await browser.context.newPage());
    const warmed = judged(await waitInTab<T>(warmPage, options.warmUp, WARM_UP_TIMEOUT_MS));
    if (isFailure(warmed)) return { outcome: { failed: warmed.failed, detail: `warm-up tab: ${warmed.detail}` }, memory: null };
    const page = await browser.context.newPage();
    await closeWarmTab(warmPage);
    await options.beforeMeasure?.();
    const memory = sampleRenderers();
    const outcome = judged(await waitInTab<T>(page, options.measured, options.timeoutMs));
    return { outcome, memory: memory.stop() };
  } finally {
    await browser.close();
  }
}

/** Closes the warm-up tab and waits for its renderer to exit, so that the renderers left are the measured tab's. */
async function closeWarmTab(page: Page): Promise<void> {
  const before = rendererPids();
  await page.close();
  const deadline = performance.now() + 10_000;
  while (before.every((pid) => processMemory(pid) !== null)) {
    if (performance.now() > deadline) {
      throw new Error(`no renderer of ${before.join(', ')} exited within 10 s of the warm-up tab closing: the measured tab's memory could not be told apart`);
    }
    await sleep(100);
  }
}

/** Opens `url` in `page`; the first of the answer, a crash, an uncaught page error and the timeout is the outcome. */
function waitInTab<T>(page: Page, { url, answer }: TabTarget, timeoutMs: number): Promise<Outcome<T>> {
  const opened = performance.now();
  const seconds = timeoutMs / 1000;
  return new Promise((resolve) => {
    // What the others report later (the wait rejected by the crash it lost to, say) is about an
    // outcome already recorded: resolve ignores it.
    page.once('crash', () => resolve({ failed: 'tab crashed', detail: `${url}: the tab's renderer crashed (out of memory is the usual cause)` }));
    page.once('pageerror', (error) => resolve(peerFailure(url, `uncaught in the page: ${error.message}`)));
    page
      .goto(url, { waitUntil: 'commit', timeout: timeoutMs })
      .then(() => page.waitForFunction(answer, undefined, { timeout: Math.max(1, timeoutMs - (performance.now() - opened)), polling: 100 }))
      .then((handle) => handle.jsonValue() as Promise<T>)
      .then(
        (value) => resolve(value),
        (error: unknown) =>
          resolve(
            (error as Error).name === 'TimeoutError'
              ? { failed: `timeout ${seconds} s`, detail: `${url}: no answer ${seconds} s after tab open` }
              : { failed: 'error', detail: `${url}: ${errorMessage(error)}` },
          ),
      );
  });
}

/**
 * Chromium's renderer processes among this process's descendants, but the one of the browser's own
 * UI (--top-chrome-webui, ~150 MiB in headless mode, there whatever the tabs do). The bench runs
 * one Chromium at a time (each measurement closes its own before the next launches), so these are
 * its tabs' (and the spare renderer Chromium keeps started for the next navigation).
 */
function rendererPids(): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procText(Number(entry), 'stat');
    if (stat === null) continue;
    // Fields after the command name (which may hold spaces, so it is skipped by its ')'): state, ppid.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const renderers: number[] = [];
  const queue = [...(children.get(process.pid) ?? [])];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    queue.push(...(children.get(pid) ?? []));
    // A renderer rewrites its command line as one string (its process title): split on spaces too.
    const args = procText(pid, 'cmdline')?.split(/[\0 ]/) ?? [];
    if (args.includes('--type=renderer') && !args.includes('--top-chrome-webui')) renderers.push(pid);
  }
  return renderers;
}

/** Samples the renderers every 250 ms until stopped; the tab's is the one with the highest peak. */
function sampleRenderers(): { stop(): TabMemory } {
  const peaks = new Map<number, { rss: number; hwm: number }>();
  const sample = () => {
    for (const pid of rendererPids()) {
      const now = processMemory(pid);
      if (!now) continue;
      const peak = peaks.get(pid) ?? { rss: 0, hwm: 0 };
      peaks.set(pid, { rss: Math.max(peak.rss, now.rss), hwm: Math.max(peak.hwm, now.hwm) });
    }
  };
  sample();
  const timer = setInterval(sample, 250);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      const tab = [...peaks.values()].sort((a, b) => b.hwm - a.hwm)[0] ?? { rss: 0, hwm: 0 };
      return { hwmBytes: tab.hwm, sampledRssBytes: tab.rss };
    },
  };
}
