// Measurement hooks for the browser tests and `npm run bench:ui`: when the last input happened,
// when each view last drew (and whether what it drew was exact), and the main thread's long
// tasks. Cheap enough to stay on in production: a few timestamps per interaction.
import type { Timings } from './worker/types.js';

export interface TickscopeProbe {
  /** performance.now() when the first chart was drawn (tab open -> first chart). */
  firstChartMs?: number;
  /** Timestamp (performance.now() timeline) of the latest pointer or key input. */
  inputAt?: number;
  inputType?: string;
  inputSeq?: number;
  /** Main-thread tasks over 50 ms (PerformanceObserver 'longtask'). */
  longTasks?: { start: number; duration: number }[];
  /**
   * Animation frames over 50 ms with the scripts that ran in them (Long Animation Frames API,
   * Chromium): what a long task was made of.
   */
  longFrames?: {
    start: number;
    duration: number;
    /** Of the duration: style and layout, and everything after (paint, commit), ms. */
    styleAndLayout: number;
    render: number;
    scripts: { invoker: string; source: string; duration: number }[];
  }[];
  /** The latest frames that showed new data: which view, exact or not, when (rAF time). */
  paints?: { id: string; exact: boolean; at: number }[];
  /**
   * The latest answers the views got: query, asked at low priority (a view out of sight, a
   * sparkline) or not, ask -> answer in the worker (ms), how long of it the
   * ask waited in the worker before its request went out, cached or not, the session's time on
   * it, and how long it waited there for a connection (the tab's other requests held them),
   * before that time.
   */
  answers?: { query: string; low: boolean; ms: number; queuedMs: number; cached: boolean; serverMs: number | null; waitMs: number | null; at: number }[];
  /** The worker's cache counters (hits, previews, prefetches...). */
  cacheStats?: () => Promise<unknown>;
}

declare global {
  interface Window {
    __tickscope?: TickscopeProbe;
  }
}

export function probe(): TickscopeProbe {
  window.__tickscope ??= {};
  return window.__tickscope;
}

function onInput(event: Event): void {
  const p = probe();
  // event.timeStamp is on the performance.now() timeline: when the input happened, not when the
  // handler ran, so a busy main thread shows up in the figure.
  p.inputAt = event.timeStamp > 0 ? event.timeStamp : performance.now();
  p.inputType = event.type;
  p.inputSeq = (p.inputSeq ?? 0) + 1;
}

export function installProbes(): void {
  const p = probe();
  p.longTasks ??= [];
  p.paints ??= [];
  // pointerup: a click or a drag acts on release, so that is when the user asks.
  for (const type of ['pointerdown', 'pointerup', 'keydown', 'wheel']) {
    window.addEventListener(type, onInput, { capture: true, passive: true });
  }
  try {
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) p.longTasks!.push({ start: entry.startTime, duration: entry.duration });
    });
    observer.observe({ type: 'longtask', buffered: true });
  } catch {
    // longtask is Chromium-only: elsewhere no long tasks are recorded.
  }
  p.longFrames ??= [];
  try {
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as LoafEntry[]) {
        const end = entry.startTime + entry.duration;
        p.longFrames!.push({
          start: entry.startTime,
          duration: entry.duration,
          styleAndLayout: entry.styleAndLayoutStart > 0 ? end - entry.styleAndLayoutStart : 0,
          render: entry.renderStart > 0 ? end - entry.renderStart : 0,
          scripts: (entry.scripts ?? []).map((s) => ({
            invoker: s.invoker,
            source: `${s.sourceFunctionName || '(anonymous)'} ${s.sourceURL.split('/').pop()}:${s.sourceCharPosition}`,
            duration: s.duration,
          })),
        });
        if (p.longFrames!.length > 200) p.longFrames!.shift();
      }
    });
    observer.observe({ type: 'long-animation-frame', buffered: true });
  } catch {
    // long-animation-frame is Chromium-only (123+): elsewhere no long frames are recorded.
  }
}

/** A long animation frame (not in TypeScript's DOM types yet). */
interface LoafEntry extends PerformanceEntry {
  renderStart: number;
  styleAndLayoutStart: number;
  scripts?: LoafScript[];
}

/** A script entry of a long animation frame. */
interface LoafScript {
  invoker: string;
  sourceFunctionName: string;
  sourceURL: string;
  sourceCharPosition: number;
  duration: number;
}

export function noteAnswer(a: { query: string; elapsedMs: number; queuedMs: number; cached: boolean; provisional: boolean; timings: Timings | null }, ask: { low?: boolean } = {}): void {
  if (a.provisional) return;
  const p = probe();
  const answers = (p.answers ??= []);
  answers.push({
    query: a.query,
    low: ask.low === true,
    ms: a.elapsedMs,
    queuedMs: a.queuedMs,
    cached: a.cached,
    serverMs: a.timings ? a.timings.planMs + a.timings.executeMs + a.timings.encodeMs : null,
    waitMs: a.timings?.waitMs ?? null,
    at: performance.now(),
  });
  if (answers.length > 2000) answers.splice(0, answers.length - 1500);
}

/**
 * A view drew new data: stamps the element (data-drawn-at, data-exact) now and, at the next
 * animation frame (the frame that shows it), data-painted-at.
 */
export function markDrawn(el: HTMLElement | null, exact: boolean): void {
  if (!el) return;
  const now = performance.now();
  el.dataset.drawnAt = String(now);
  el.dataset.exact = String(exact);
  requestAnimationFrame((t) => {
    const at = Math.max(t, now);
    el.dataset.paintedAt = String(at);
    const paints = probe().paints;
    if (paints) {
      paints.push({ id: el.dataset.testid ?? '', exact, at });
      if (paints.length > 400) paints.splice(0, paints.length - 300);
    }
  });
}
