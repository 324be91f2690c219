// What every browser test waits for on a Tickscope page: the app ready, views drawn with exact data
// after a given moment, the URL's query string. The views stamp data-drawn-at / data-exact when they
// draw and data-painted-at on the next frame (client/src/perf.ts), so "drawn after t" means the
// answer to whatever was done at t is on screen, not a stale one.
import type { Locator, Page } from 'playwright-core';
import { openPage, type Browser } from './browser.js';

/** How long a page step may take (cold sessions on a loaded 2-core machine). */
export const WAIT = { timeout: 30_000 };

export const sel = (id: string) => `[data-testid="${id}"]`;

/** Opens `url` and waits until the app has its session and dataset. */
export async function openReady(browser: Browser, url: string): Promise<Page> {
  const page = await openPage(browser, url);
  await page.waitForSelector(`${sel('app')}[data-state="ready"]`, WAIT);
  return page;
}

/** The page's clock (performance.now()), to wait for what is drawn after it. */
export async function now(page: Page): Promise<number> {
  return (await page.evaluate('performance.now()')) as number;
}

/** Waits until each view shows exact data drawn after `after` (page clock). */
export async function drawn(page: Page, ids: string[], after = 0): Promise<void> {
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

export async function search(page: Page): Promise<URLSearchParams> {
  return new URLSearchParams(new URL(page.url()).search);
}

/** A page expression that is true when `predicate`, a JS expression over `q` (the URL's URLSearchParams), holds. */
function searchHolds(predicate: string): string {
  return `(() => { const q = new URLSearchParams(location.search); return ${predicate}; })()`;
}

/** Waits until `predicate`, a JS expression over `q` (the URL's URLSearchParams), holds. */
export async function waitForSearch(page: Page, predicate: string): Promise<void> {
  await page.waitForFunction(searchHolds(predicate), undefined, WAIT);
}

/**
 * The box of the element `selector` once it is laid out and visible. Playwright's boundingBox()
 * answers null for an element that is attached but not (yet) visible, which a chart is for a
 * moment while its card re-renders: waited for here rather than read once.
 */
export async function visibleBox(page: Page, selector: string): Promise<{ x: number; y: number; width: number; height: number }> {
  const locator = page.locator(selector);
  const deadline = Date.now() + WAIT.timeout;
  for (;;) {
    await locator.waitFor({ state: 'visible', ...WAIT });
    const box = await locator.boundingBox();
    if (box && box.width > 0 && box.height > 0) return box;
    if (Date.now() > deadline) throw new Error(`${selector} has no box after ${WAIT.timeout} ms`);
    await page.waitForTimeout(50);
  }
}

/**
 * Waits until the page stops moving under `selector`: every view on the page shows exact data and
 * the element, scrolled into view, keeps the same box over a few frames. For actions at a point
 * inside a canvas (hover, then click the same point): a card above that grows between the two
 * moves the canvas under the pointer, and the click lands on another point than the hover showed
 * (seen once in CI: the scatter's tooltip named S0022, the click opened S0002).
 */
export async function settled(page: Page, selector: string): Promise<void> {
  await page.waitForFunction(
    `[...document.querySelectorAll('[data-drawn-at]')].every((el) => el.dataset.exact === 'true' && el.dataset.loading !== 'true')`,
    undefined,
    WAIT,
  );
  await page.locator(selector).scrollIntoViewIfNeeded(WAIT);
  await page.waitForFunction(
    `new Promise((resolve) => {
      const el = document.querySelector(${JSON.stringify(selector)});
      if (!el) return resolve(false);
      const box = () => JSON.stringify(el.getBoundingClientRect());
      const first = box();
      let frames = 0;
      const next = () => {
        if (box() !== first) return resolve(false);
        if (++frames === 5) return resolve(true);
        requestAnimationFrame(next);
      };
      requestAnimationFrame(next);
    })`,
    undefined,
    WAIT,
  );
}

/**
 * Clicks `locator` until the URL's query string satisfies `predicate` (as waitForSearch), up to
 * three clicks a few seconds apart. A view's card can still move when the cards under it mount
 * after their first draw; a click that lands in the gap between Playwright's stability check and
 * the press hits the old place, and a test waiting for what the click navigates to then times out
 * with nothing to say why (seen once in CI: the attribution's "trades of <sector>" link).
 */
export async function clickUntilSearch(page: Page, locator: Locator, predicate: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await locator.click(WAIT);
    try {
      await page.waitForFunction(searchHolds(predicate), undefined, { timeout: 5_000 });
      return;
    } catch (error) {
      if (attempt === 3) throw new Error(`three clicks on ${String(locator)} left the URL at ${page.url()}, where ${predicate} does not hold`, { cause: error });
    }
  }
}

/**
 * Starts keeping the text of every element `selector` that appears on the page from now on, for a
 * state that may be on screen for only a moment: the reconnecting banner lasts the first retry's
 * ~250 ms plus a warm pool process's start, which Playwright's polling can miss (seen in CI: a
 * wait for the banner timed out while the tab had already reconnected). Read it with `seenText`.
 */
export async function recordAppearances(page: Page, selector: string): Promise<void> {
  await page.evaluate(`(() => {
    const selector = ${JSON.stringify(selector)};
    const seen = (window.__tickscopeSeen ??= {})[selector] = [];
    const record = () => {
      for (const el of document.querySelectorAll(selector)) {
        const text = el.textContent ?? '';
        if (seen[seen.length - 1] !== text) seen.push(text);
      }
    };
    new MutationObserver(record).observe(document.body, { childList: true, subtree: true, characterData: true });
    record();
  })()`);
}

/** Waits until an element `selector` recorded by `recordAppearances` has shown a text matching `pattern`; returns every text it showed. */
export async function seenText(page: Page, selector: string, pattern: RegExp, timeoutMs = WAIT.timeout): Promise<string[]> {
  const texts = `(window.__tickscopeSeen?.[${JSON.stringify(selector)}] ?? [])`;
  await page.waitForFunction(`${texts}.some((t) => new RegExp(${JSON.stringify(pattern.source)}, ${JSON.stringify(pattern.flags)}).test(t))`, undefined, { timeout: timeoutMs });
  return (await page.evaluate(texts)) as string[];
}
